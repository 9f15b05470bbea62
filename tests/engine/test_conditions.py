"""A choice's conditions on the running data, and a wait's time."""

import pytest

from machinery.engine.conditions import holds, moment_of
from machinery.language.parse import DefinitionError, parse_condition

RE2 = "matches takes a regular expression in RE2's syntax (no backreferences, no lookaround): "

DATA = {
    "amount": 1200,
    "ratio": 0.5,
    "name": "order-17",
    "vip": True,
    "tags": ["a", "b"],
    "customer": {"country": "FR"},
    "nothing": None,
}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"path": "amount", "gt": 1000}, True),
        ({"path": "amount", "gte": 1200}, True),
        ({"path": "amount", "lt": 1200}, False),
        ({"path": "amount", "lte": 1200.0}, True),
        ({"path": "amount", "gt": "1000"}, False),  # a number and a string: no order
        ({"path": "name", "lt": "order-2"}, True),  # strings order as text
        ({"path": "amount", "equals": 1200.0}, True),
        ({"path": "vip", "equals": 1}, False),  # true is not 1
        ({"path": "vip", "equals": True}, True),
        ({"path": "customer.country", "in": ["FR", "DE"]}, True),
        ({"path": "customer.country", "not_equals": "FR"}, False),
        ({"path": "name", "starts_with": "order-"}, True),
        ({"path": "name", "matches": "^order-[0-9]+$"}, True),
        ({"path": "amount", "matches": "12"}, False),  # only strings match
        ({"path": "tags", "is": "array"}, True),
        ({"path": "amount", "is": "float"}, True),  # an int is a number
        ({"path": "ratio", "is": "int"}, False),
        ({"path": "nothing", "is": "null"}, True),
        ({"path": "tags.1", "equals": "b"}, True),
        ({"path": "missing", "exists": True}, False),
        ({"path": "missing", "exists": False}, True),
        ({"path": "missing", "equals": None}, False),  # a test of what is not there is false
        ({"path": "missing", "not_equals": 1}, False),
        ({"not": {"path": "missing", "equals": 1}}, True),
        ({"and": [{"path": "vip", "equals": True}, {"path": "amount", "gt": 5000}]}, False),
        ({"or": [{"path": "vip", "equals": True}, {"path": "amount", "gt": 5000}]}, True),
    ],
)
def test_a_condition_holds_as_documented(condition, expected):
    assert holds(parse_condition(condition, "when"), DATA) is expected


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ({"path": "a", "gt": 1, "lt": 2}, "A condition is"),
        ({"path": "a", "gt": [1]}, "gt compares with a number or a string."),
        ({"path": "a", "in": "x"}, "in takes a list of values."),
        ({"path": "a", "exists": "yes"}, "exists takes true or false."),
        ({"path": "a", "is": "date"}, "is takes a type"),
        ({"path": "a", "matches": "("}, "matches takes a regular expression"),
        ({"path": "a", "matches": "(a)\\1"}, RE2 + "invalid escape sequence: \\1."),
        ({"path": "a", "matches": "(?<=a)b"}, RE2 + "invalid perl operator: (?<=."),
        ({"and": []}, "and takes a non-empty list of conditions."),
        ({"not": {"path": "a", "gt": 1}, "path": "b"}, "not takes one condition."),
        ({"path": "a..b", "equals": 1}, "'a..b' has an empty name"),
        ("amount > 3", "A condition is an object."),
    ],
)
def test_a_malformed_condition_is_refused_in_words(condition, message):
    with pytest.raises(DefinitionError) as raised:
        parse_condition(condition, "services[0].choice[0].when")
    assert str(raised.value).startswith(message)
    assert raised.value.place.startswith("services[0].choice[0].when")


def test_a_wait_reads_a_time_as_iso_8601_or_seconds_since_the_epoch():
    assert moment_of("1970-01-01T00:01:00Z") == 60.0
    assert moment_of("1970-01-01T01:01:00+01:00") == 60.0
    assert moment_of("1970-01-01T00:01:00") == 60.0  # no offset: UTC
    assert moment_of(60) == 60.0
    assert moment_of("soon") is None
    assert moment_of(True) is None
    assert moment_of(None) is None


def test_a_pattern_that_would_backtrack_for_ever_is_matched_in_linear_time():
    # (a+)+$ takes exponential time in a backtracking engine on a's and one b; RE2 does not
    # backtrack: with 100,000 a's this answers at once, where Python's re would never end.
    condition = parse_condition({"path": "text", "matches": "^(a+)+$"}, "services[0]")
    assert holds(condition, {"text": "a" * 100_000}) is True
    assert holds(condition, {"text": "a" * 100_000 + "b"}) is False
