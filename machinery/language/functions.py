"""The typed functions a mapping may call: `{"fn": name, "args": [source, ...]}`.

A small, fixed set of pure functions (but `now` and `uuid`, read when the step runs), each with
the types of its arguments and of its result, so that a computed value is checked when the
workflow is saved, like any other. No general expression language, no code evaluation.
"""

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from machinery.language.types import type_of

NUMBER = "number"  # an int or a float
ANY = "any"
MAX_TEXT = 1_000_000  # the longest string a function makes, in characters


class FunctionError(ValueError):
    """A function that cannot give a value for these arguments (a division by zero, a text that
    is not JSON, an index past the end)."""


@dataclass(frozen=True)
class Function:
    name: str
    params: tuple[str, ...]  # the type of each argument; with `variadic`, the last one repeats
    result: Callable[[list], str | None]  # the result's type from the arguments' (None: any)
    run: Callable
    required: int  # how many arguments it needs at least
    variadic: bool = False
    doc: str = ""

    def arity(self) -> str:
        if self.variadic:
            return f"{self.required} or more arguments"
        if self.required == len(self.params):
            count = len(self.params)
            return f"{count} argument{'s' if count != 1 else ''}"
        return f"{self.required} to {len(self.params)} arguments"

    def param(self, position: int) -> str:
        if position < len(self.params):
            return self.params[position]
        return self.params[-1]


def _text(value: str) -> str:
    if len(value) > MAX_TEXT:
        raise FunctionError(f"the result would be longer than {MAX_TEXT} characters")
    return value


def _shown(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def _format(template: str, *values) -> str:
    parts = template.split("{}")
    if len(parts) - 1 != len(values):
        raise FunctionError(
            f"the format has {len(parts) - 1} {{}} placeholders for {len(values)} values"
        )
    out = parts[0]
    for value, part in zip(values, parts[1:], strict=True):
        out += _shown(value) + part
    return _text(out)


def _length(value) -> int:
    if not isinstance(value, str | list | dict):
        raise FunctionError(f"length takes a string, an array or an object, not {type_of(value)}")
    return len(value)


def _number(value, name: str):
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FunctionError(f"{name} takes numbers, not {type_of(value)}")
    return value


def _arithmetic(name: str, operation):
    def run(a, b):
        return operation(_number(a, name), _number(b, name))

    return run


def _divide(a, b):
    if _number(b, "divide") == 0:
        raise FunctionError("division by zero")
    return _number(a, "divide") / b


def _json_parse(text: str):
    try:
        return json.loads(text)
    except (TypeError, ValueError) as error:
        raise FunctionError(f"json_parse: the text is not JSON ({error})") from None


def _merge(*objects):
    merged: dict = {}
    for value in objects:
        if not isinstance(value, dict):
            raise FunctionError(f"merge takes objects, not {type_of(value)}")
        merged.update(value)
    return merged


def _slice(items: list, start: int, end: int | None = None):
    if not isinstance(items, list):
        raise FunctionError(f"slice takes an array, not {type_of(items)}")
    return items[start:end]


def _at(items: list, index: int):
    if not isinstance(items, list):
        raise FunctionError(f"at takes an array, not {type_of(items)}")
    if not -len(items) <= index < len(items):
        raise FunctionError(f"at: index {index} is outside the array of {len(items)}")
    return items[index]


def _string_of(name: str, operation):
    def run(value):
        if not isinstance(value, str):
            raise FunctionError(f"{name} takes a string, not {type_of(value)}")
        return operation(value)

    return run


def _numeric(types: list) -> str | None:
    if all(t == "int" for t in types):
        return "int"
    return "float"


def _same_array(types: list) -> str | None:
    return "array"


FUNCTIONS = {
    f.name: f
    for f in (
        Function(
            "concat",
            ("string",),
            lambda t: "string",
            lambda *s: _text("".join(s)),
            1,
            variadic=True,
            doc="the strings, one after the other",
        ),
        Function(
            "format",
            ("string", ANY),
            lambda t: "string",
            _format,
            1,
            variadic=True,
            doc="the first string with each {} replaced by the next value (JSON unless a string)",
        ),
        Function(
            "upper",
            ("string",),
            lambda t: "string",
            _string_of("upper", str.upper),
            1,
            doc="in upper case",
        ),
        Function(
            "lower",
            ("string",),
            lambda t: "string",
            _string_of("lower", str.lower),
            1,
            doc="in lower case",
        ),
        Function(
            "length",
            (ANY,),
            lambda t: "int",
            _length,
            1,
            doc="the characters of a string, elements of an array or names of an object",
        ),
        Function(
            "add",
            (NUMBER, NUMBER),
            _numeric,
            _arithmetic("add", lambda a, b: a + b),
            2,
            doc="a + b (an int when both are)",
        ),
        Function(
            "subtract",
            (NUMBER, NUMBER),
            _numeric,
            _arithmetic("subtract", lambda a, b: a - b),
            2,
            doc="a - b (an int when both are)",
        ),
        Function(
            "multiply",
            (NUMBER, NUMBER),
            _numeric,
            _arithmetic("multiply", lambda a, b: a * b),
            2,
            doc="a × b (an int when both are)",
        ),
        Function(
            "divide",
            (NUMBER, NUMBER),
            lambda t: "float",
            _divide,
            2,
            doc="a / b, a float (dividing by zero fails)",
        ),
        Function(
            "now",
            (),
            lambda t: "string",
            lambda: datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            0,
            doc="the date and time the step runs, ISO 8601 in UTC",
        ),
        Function(
            "uuid",
            (),
            lambda t: "string",
            lambda: str(uuid.uuid4()),
            0,
            doc="a new random UUID",
        ),
        Function(
            "json_parse",
            ("string",),
            lambda t: None,
            _json_parse,
            1,
            doc="the JSON value a string holds (of a type known only when it runs)",
        ),
        Function(
            "json_stringify",
            (ANY,),
            lambda t: "string",
            lambda value: _text(json.dumps(value, separators=(",", ":"))),
            1,
            doc="the value as compact JSON text",
        ),
        Function(
            "merge",
            ("object",),
            lambda t: "object",
            _merge,
            2,
            variadic=True,
            doc="the objects' names together (a later object's value wins)",
        ),
        Function(
            "slice",
            ("array", "int", "int"),
            _same_array,
            _slice,
            2,
            doc="the elements from start up to end (left out: the end); negative counts from it",
        ),
        Function(
            "at",
            ("array", "int"),
            lambda t: None,
            _at,
            2,
            doc="the element at the index (negative counts from the end); past the end fails",
        ),
    )
}


def fits_param(actual: str | None, param: str) -> bool:
    """Whether a value of type `actual` (None: not known) may be passed where `param` is
    expected."""
    if actual is None or param == ANY:
        return True
    if param == NUMBER:
        return actual in ("int", "float")
    return actual == param or (actual, param) == ("int", "float")
