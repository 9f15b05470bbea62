"""Tests of the language's field types: naming a value's type, whether a value or a known type
fits a declared one, and checking data against declared fields."""

import pytest

from machinery.language.model import Field
from machinery.language.types import (
    ALIASES,
    TYPES,
    WIDENINGS,
    canonical_type,
    check_fields,
    fits,
    matches,
    type_of,
)

# One sample value of each JSON kind, named as type_of names it.
SAMPLES = {
    "string": "text",
    "int": 3,
    "float": 2.5,
    "bool": True,
    "object": {"a": 1},
    "array": [1, 2],
    "null": None,
}

# Which declared type accepts which sample: an int fits a float, nothing else crosses over.
ACCEPTS = {
    "string": {"string"},
    "int": {"int"},
    "float": {"float", "int"},
    "bool": {"bool"},
    "object": {"object"},
    "array": {"array"},
}


@pytest.mark.parametrize("name", TYPES)
def test_canonical_type_keeps_a_canonical_name(name):
    assert canonical_type(name) == name


@pytest.mark.parametrize(
    ("alias", "canonical"), [("integer", "int"), ("number", "float"), ("boolean", "bool")]
)
def test_canonical_type_resolves_an_alias(alias, canonical):
    assert canonical_type(alias) == canonical
    assert ALIASES[alias] == canonical


@pytest.mark.parametrize("name", ["str", "Int", "double", "null", "", "list", "dict"])
def test_canonical_type_rejects_an_unknown_name(name):
    with pytest.raises(ValueError) as raised:
        canonical_type(name)
    assert str(raised.value) == name


@pytest.mark.parametrize("type_name", TYPES)
@pytest.mark.parametrize("sample", SAMPLES)
def test_matches_across_all_types(type_name, sample):
    assert matches(type_name, SAMPLES[sample]) is (sample in ACCEPTS[type_name])


@pytest.mark.parametrize("value", [True, False])
@pytest.mark.parametrize("type_name", ["int", "float"])
def test_a_bool_is_never_a_number(type_name, value):
    assert not matches(type_name, value)


@pytest.mark.parametrize(
    ("type_name", "value"),
    [("string", ""), ("int", 0), ("float", 0), ("bool", False), ("object", {}), ("array", [])],
)
def test_matches_accepts_empty_and_falsy_values(type_name, value):
    assert matches(type_name, value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("text", "string"),
        (0, "int"),
        (-12, "int"),
        (1.0, "float"),
        (True, "bool"),
        (False, "bool"),
        ({}, "object"),
        ([], "array"),
        (None, "null"),
        ((1, 2), "tuple"),
    ],
)
def test_type_of_names_json_values_as_fields_are_declared(value, expected):
    assert type_of(value) == expected


@pytest.mark.parametrize("sample", [name for name in SAMPLES if name != "null"])
def test_a_value_matches_the_type_type_of_names(sample):
    assert matches(type_of(SAMPLES[sample]), SAMPLES[sample])


@pytest.mark.parametrize(
    ("actual", "expected", "result"),
    [
        ("int", "float", True),
        ("float", "int", False),
        ("bool", "int", False),
        ("bool", "float", False),
        ("int", "bool", False),
        ("string", "string", True),
        (None, "int", True),
        (None, "object", True),
        ("object", "array", False),
        ("array", "object", False),
    ],
)
def test_fits(actual, expected, result):
    assert fits(actual, expected) is result


@pytest.mark.parametrize(("actual", "expected"), sorted(WIDENINGS))
def test_every_widening_is_one_matches_allows_too(actual, expected):
    assert matches(expected, SAMPLES[actual])


def fields(*declared):
    """The same fields as model Fields and as the dicts definitions store."""
    return [
        tuple(Field(name, type_, **extra) for name, type_, extra in declared),
        [{"name": name, "type": type_, **extra} for name, type_, extra in declared],
    ]


@pytest.mark.parametrize(
    "declared",
    fields(("text", "string", {}), ("count", "int", {}), ("limit", "int", {"required": False})),
)
def test_check_fields_takes_model_fields_or_their_dicts(declared):
    assert check_fields(declared, {"text": "a", "count": 1}) == {}
    assert check_fields(declared, {"text": "a", "count": 1, "limit": 2}) == {}
    assert check_fields(declared, {"count": "3", "limit": "ten", "colour": "red"}) == {
        "text": ["Missing data for required field."],
        "count": ["Expected int, got string."],
        "limit": ["Expected int, got string."],
        "colour": ["Unknown field."],
    }


def test_check_fields_accepts_no_fields_and_no_data():
    assert check_fields((), {}) == {}


@pytest.mark.parametrize(
    ("type_name", "value", "message"),
    [
        ("int", 2.5, "Expected int, got float."),
        ("int", True, "Expected int, got bool."),
        ("float", False, "Expected float, got bool."),
        ("bool", 1, "Expected bool, got int."),
        ("object", [], "Expected object, got array."),
        ("array", {}, "Expected array, got object."),
        ("string", None, "Expected string, got null."),
    ],
)
def test_check_fields_reports_a_wrong_type(type_name, value, message):
    assert check_fields((Field("value", type_name),), {"value": value}) == {"value": [message]}


def test_every_alias_names_a_known_type():
    assert set(ALIASES.values()) <= set(TYPES)


@pytest.mark.parametrize("type_name", TYPES)
def test_none_fits_nothing(type_name):
    assert not matches(type_name, None)


def test_type_of_falls_back_to_the_python_name():
    assert type_of((1, 2)) == "tuple"
