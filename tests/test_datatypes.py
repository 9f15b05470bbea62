"""Tests of the declared field types and of checking data against declared fields."""

import json

import pytest

from machinery.datatypes import (
    ALIASES,
    MAX_DEPTH,
    TYPES,
    canonical_type,
    check_fields,
    matches,
    parse_json,
    type_of,
)


@pytest.mark.parametrize("name", TYPES)
def test_canonical_type_keeps_a_canonical_name(name):
    assert canonical_type(name) == name


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [("integer", "int"), ("number", "float"), ("boolean", "bool")],
)
def test_canonical_type_resolves_an_alias(alias, canonical):
    assert canonical_type(alias) == canonical


def test_every_alias_names_a_known_type():
    assert set(ALIASES.values()) <= set(TYPES)


@pytest.mark.parametrize("name", ["str", "Int", "double", "null", "", "list", "dict"])
def test_canonical_type_rejects_an_unknown_name(name):
    with pytest.raises(ValueError) as raised:
        canonical_type(name)
    assert str(raised.value) == name


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
FITS = {
    "string": {"string"},
    "int": {"int"},
    "float": {"float", "int"},
    "bool": {"bool"},
    "object": {"object"},
    "array": {"array"},
}


@pytest.mark.parametrize("type_name", TYPES)
@pytest.mark.parametrize("sample", SAMPLES)
def test_matches_across_all_types(type_name, sample):
    assert matches(type_name, SAMPLES[sample]) is (sample in FITS[type_name])


@pytest.mark.parametrize("value", [True, False])
@pytest.mark.parametrize("type_name", ["int", "float"])
def test_a_bool_is_never_a_number(type_name, value):
    assert not matches(type_name, value)


@pytest.mark.parametrize(
    ("type_name", "value"),
    [
        ("string", ""),
        ("int", 0),
        ("int", -7),
        ("float", 0),
        ("float", -0.5),
        ("bool", False),
        ("object", {}),
        ("array", []),
    ],
)
def test_matches_accepts_empty_and_falsy_values(type_name, value):
    assert matches(type_name, value)


@pytest.mark.parametrize("type_name", TYPES)
def test_none_fits_nothing(type_name):
    assert not matches(type_name, None)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("text", "string"),
        ("", "string"),
        (0, "int"),
        (-12, "int"),
        (1.0, "float"),
        (2.5, "float"),
        (True, "bool"),
        (False, "bool"),
        ({}, "object"),
        ({"a": [1]}, "object"),
        ([], "array"),
        ([{"a": 1}], "array"),
        (None, "null"),
    ],
)
def test_type_of_names_json_values(value, expected):
    assert type_of(value) == expected


def test_type_of_falls_back_to_the_python_name():
    assert type_of((1, 2)) == "tuple"


def field(name, type_name, **extra):
    """A declared field as services and workflows store it."""
    return {"name": name, "type": type_name, **extra}


def test_check_fields_accepts_fitting_data():
    fields = [field("text", "string"), field("count", "int"), field("ratio", "float")]
    assert check_fields(fields, {"text": "a", "count": 1, "ratio": 1}) == {}


def test_check_fields_accepts_no_fields_and_no_data():
    assert check_fields([], {}) == {}


@pytest.mark.parametrize("extra", [{}, {"required": True}])
def test_check_fields_reports_a_missing_required_field(extra):
    assert check_fields([field("text", "string", **extra)], {}) == {
        "text": ["Missing data for required field."]
    }


def test_check_fields_lets_an_optional_field_be_missing():
    fields = [field("text", "string"), field("limit", "int", required=False)]
    assert check_fields(fields, {"text": "a"}) == {}


def test_check_fields_still_checks_the_type_of_an_optional_field_given():
    fields = [field("limit", "int", required=False)]
    assert check_fields(fields, {"limit": "ten"}) == {"limit": ["Expected int, got string."]}


def test_check_fields_reports_an_unknown_field():
    assert check_fields([field("text", "string")], {"text": "a", "extra": 1}) == {
        "extra": ["Unknown field."]
    }


@pytest.mark.parametrize(
    ("type_name", "value", "message"),
    [
        ("int", "3", "Expected int, got string."),
        ("int", 2.5, "Expected int, got float."),
        ("int", True, "Expected int, got bool."),
        ("float", False, "Expected float, got bool."),
        ("string", 3, "Expected string, got int."),
        ("bool", 1, "Expected bool, got int."),
        ("object", [], "Expected object, got array."),
        ("array", {}, "Expected array, got object."),
        ("string", None, "Expected string, got null."),
    ],
)
def test_check_fields_reports_a_wrong_type(type_name, value, message):
    assert check_fields([field("value", type_name)], {"value": value}) == {"value": [message]}


def test_check_fields_reports_several_errors_at_once():
    fields = [
        field("text", "string"),
        field("count", "int"),
        field("flag", "bool", required=False),
        field("tags", "array"),
    ]
    data = {"count": "3", "flag": "yes", "tags": ["a"], "colour": "red", "size": 2}
    assert check_fields(fields, data) == {
        "text": ["Missing data for required field."],
        "count": ["Expected int, got string."],
        "flag": ["Expected bool, got string."],
        "colour": ["Unknown field."],
        "size": ["Unknown field."],
    }


@pytest.mark.parametrize("text", ["NaN", '{"a": Infinity}', "[-Infinity]"])
def test_parse_json_refuses_what_is_not_json(text):
    with pytest.raises(json.JSONDecodeError):
        parse_json(text)


def test_parse_json_reads_json():
    assert parse_json(b'{"a": [1, 2.5, "x", null, true]}') == {"a": [1, 2.5, "x", None, True]}


def test_parse_json_reads_nesting_up_to_the_limit():
    text = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert parse_json(text) == json.loads(text)


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 100_000], ids=["one-past", "100000"])
@pytest.mark.parametrize("opening", ["[", '{"a":'])
def test_parse_json_refuses_nesting_past_the_limit_naming_it(depth, opening):
    text = opening * depth + "1" + ("]" if opening == "[" else "}") * depth
    with pytest.raises(json.JSONDecodeError) as refused:
        parse_json(text)
    assert refused.value.msg == f"nested more than {MAX_DEPTH} levels deep"
