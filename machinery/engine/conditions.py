"""Evaluating a choice's conditions on the running data, and reading a wait's time.

A condition is data, never code: a test of the value at a path (`exists`, `equals`,
`not_equals`, `lt`, `lte`, `gt`, `gte`, `in`, `is`, `starts_with`, `matches`), or `and`, `or`
and `not` of conditions. A test of a value that is not there is false (but `exists: false` and
`not` hold); an order test of values that cannot be ordered (a number and a string) is false.
"""

from datetime import UTC, datetime

from machinery.language.model import Condition
from machinery.language.paths import Missing, resolve
from machinery.language.patterns import compile_pattern
from machinery.language.types import type_of

_ORDER = {
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
}


def holds(condition: Condition, data: dict) -> bool:
    """Whether the condition holds on the data."""
    op = condition.op
    if op == "and":
        return all(holds(part, data) for part in condition.parts)
    if op == "or":
        return any(holds(part, data) for part in condition.parts)
    if op == "not":
        return not holds(condition.parts[0], data)
    try:
        value = resolve(data, condition.path)
    except Missing:
        return op == "exists" and condition.value is False
    expected = condition.value
    if op == "exists":
        return expected is True
    if op == "equals":
        return _same(value, expected)
    if op == "not_equals":
        return not _same(value, expected)
    if op == "in":
        return any(_same(value, option) for option in expected)
    if op == "is":
        return type_of(value) == expected or (expected == "float" and type_of(value) == "int")
    if op == "starts_with":
        return isinstance(value, str) and value.startswith(expected)
    if op == "matches":
        return isinstance(value, str) and compile_pattern(expected).search(value) is not None
    if _number(value) and _number(expected) or isinstance(value, str) and isinstance(expected, str):
        return _ORDER[op](value, expected)
    return False


def moment_of(value) -> float | None:
    """A wait's time as seconds since the epoch: from a number of them, or an ISO 8601 date and
    time (UTC when it names no offset); None when the value is neither."""
    if _number(value):
        return float(value)
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _same(a, b) -> bool:
    """JSON equality: 1 equals 1.0, but true is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return a == b


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
