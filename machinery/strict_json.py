"""Strict JSON: parsing what Machinery can store as it is, or refusing it with the reason."""

import json
import math

# What a JSON value must keep to, beyond the JSON grammar, to be stored (MongoDB's BSON has
# 64-bit integers, finite doubles, UTF-8 strings and at most 100 levels of nesting; Machinery
# nests values a few levels deep in its own documents).
MAX_DEPTH = 64
_INT64 = range(-(2**63), 2**63)
_TOO_DEEP = f"nested more than {MAX_DEPTH} levels deep"


def parse_json(text: bytes | str):
    """Parse JSON that can be stored as it is: strict RFC 8259 (no NaN or Infinity), integers
    within 64 bits, finite numbers, well-formed strings, at most MAX_DEPTH levels of nesting.

    Anything else raises json.JSONDecodeError (a ValueError), saying why.
    """
    try:
        value = json.loads(
            text, parse_constant=_refuse_constant, parse_int=_int64, parse_float=_finite
        )
    except RecursionError:  # nested far deeper still: the parser ran out of stack first
        raise json.JSONDecodeError(_TOO_DEEP, "", 0) from None
    _check_storable(value)
    return value


def _refuse_constant(name: str):
    raise json.JSONDecodeError(f"{name} is not JSON", name, 0)


def _int64(text: str) -> int:
    number = int(text)
    if number not in _INT64:
        raise json.JSONDecodeError(f"the integer {text[:30]} does not fit in 64 bits", text, 0)
    return number


def _finite(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise json.JSONDecodeError(f"the number {text[:30]} is too large", text, 0)
    return number


def _check_storable(value) -> None:
    """Refuse nesting deeper than MAX_DEPTH and strings that are not valid Unicode."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                raise json.JSONDecodeError(_TOO_DEEP, "", 0)
            children = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in children:
                if isinstance(key, str):
                    _check_key(key)
                pending.append((child, depth + 1))
        elif isinstance(item, str):
            _check_string(item)


def _check_key(name: str) -> None:
    if "\x00" in name:
        raise json.JSONDecodeError("a name holds a NUL character", name, 0)
    _check_string(name)


def _check_string(text: str) -> None:
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise json.JSONDecodeError("a string holds a lone surrogate", text, 0) from None
