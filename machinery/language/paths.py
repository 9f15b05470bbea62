"""Paths into JSON data, defined once for step mappings, operations and the checker.

`user.name` is the `name` inside `user`; `items.0.id` indexes a list; `\\.` is a dot inside a
name and `\\\\` a backslash.
"""

import re

# A list index: ASCII digits, no leading zero.
_INDEX = re.compile(r"0|[1-9][0-9]*")


class PathError(ValueError):
    """A path that is not well formed."""


class Missing(LookupError):
    """A path that leads nowhere in the data at hand."""


def parse(text: str) -> tuple[str, ...]:
    """Split a path into its names, honouring escapes; raise PathError when it is malformed."""
    if not isinstance(text, str) or not text:
        raise PathError("A path is a non-empty string.")
    segments, current, chars = [], [], iter(text)
    for char in chars:
        if char == "\\":
            escaped = next(chars, None)
            if escaped not in (".", "\\"):
                raise PathError(f"In {text!r}, '\\' escapes only '.' and '\\'.")
            current.append(escaped)
        elif char == ".":
            segments.append("".join(current))
            current = []
        else:
            current.append(char)
    segments.append("".join(current))
    if any(segment == "" for segment in segments):
        raise PathError(f"{text!r} has an empty name; write 'a.b', not 'a..b' or '.a'.")
    return tuple(segments)


def format_path(segments: tuple[str, ...]) -> str:
    """The text of a path, escaping what needs it: the inverse of parse."""
    return ".".join(s.replace("\\", "\\\\").replace(".", "\\.") for s in segments)


def resolve(data, segments: tuple[str, ...]):
    """The value at the path; Missing when it is not there."""
    value = data
    for segment in segments:
        if isinstance(value, dict) and segment in value:
            value = value[segment]
        elif isinstance(value, list) and _INDEX.fullmatch(segment) and int(segment) < len(value):
            value = value[int(segment)]
        else:
            raise Missing(format_path(segments))
    return value
