"""Tests of evaluating sources and applying set, rename, remove and pick to running data."""

import copy

import pytest

from machinery.engine.operations import apply, evaluate
from machinery.language.model import Literal, Operation
from machinery.language.parse import parse_operations
from machinery.language.paths import Missing

DATA = {"message": "hi", "user": {"name": "Ada"}, "items": [{"id": 7}], "count": 2}


def operation(definition: dict) -> Operation:
    """The operation a definition writes, as parse_operations reads it."""
    ((_, parsed),) = parse_operations([definition], 1)
    return parsed


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("message", "hi"),
        ("user.name", "Ada"),
        ("items.0.id", 7),
        ({"const": "message"}, "message"),
        (5, 5),
        (None, None),
        ([1, 2], [1, 2]),
    ],
)
def test_evaluate_reads_a_path_or_gives_a_literal(source, value):
    (parsed,) = operation({"set": {"x": source}}).argument.values()
    assert evaluate(parsed, DATA) == value


def test_evaluate_raises_missing_for_a_path_that_leads_nowhere():
    (parsed,) = operation({"set": {"x": "user.age"}}).argument.values()
    with pytest.raises(Missing):
        evaluate(parsed, DATA)


def test_evaluate_gives_a_literal_even_with_no_data():
    assert evaluate(Literal({"a": 1}), {}) == {"a": 1}


@pytest.mark.parametrize(
    ("definition", "data", "result"),
    [
        ({"set": {"greeting": {"const": "hello"}}}, {"a": 1}, {"a": 1, "greeting": "hello"}),
        ({"set": {"a": 5}}, {"a": 1}, {"a": 5}),
        ({"set": {"b": "a"}}, {"a": 1}, {"a": 1, "b": 1}),
        (
            {"set": {"name": "user.name"}},
            {"user": {"name": "Ada"}},
            {"user": {"name": "Ada"}, "name": "Ada"},
        ),
        ({"set": {"first": "items.0"}}, {"items": ["x", "y"]}, {"items": ["x", "y"], "first": "x"}),
        ({"set": {"b": "nowhere"}}, {"a": 1, "b": 2}, {"a": 1}),
        ({"set": {"b": "nowhere"}}, {"a": 1}, {"a": 1}),
        ({"set": {"b": "a.deep"}}, {"a": "text", "b": 2}, {"a": "text"}),
        ({"set": {"a": "b", "b": "a"}}, {"a": 1, "b": 2}, {"a": 2, "b": 1}),
        ({"set": {"nothing": None}}, {}, {"nothing": None}),
    ],
)
def test_set(definition, data, result):
    assert apply(operation(definition), data) == result


def test_set_from_a_missing_path_removes_the_name():
    result = apply(operation({"set": {"count": "total"}}), {"count": 2, "message": "hi"})
    assert result == {"message": "hi"}


@pytest.mark.parametrize(
    ("definition", "data", "result"),
    [
        ({"rename": {"a": "b"}}, {"a": 1, "c": 3}, {"c": 3, "b": 1}),
        ({"rename": {"a": "b"}}, {"a": 1, "b": 2}, {"b": 1}),
        ({"rename": {"a": "b"}}, {"b": 2}, {"b": 2}),
        ({"rename": {"a": "b"}}, {}, {}),
        ({"rename": {"a": "a"}}, {"a": 1}, {"a": 1}),
        ({"rename": {"a": "b", "b": "a"}}, {"a": 1, "b": 2}, {"a": 2, "b": 1}),
        ({"rename": {"a": "b", "b": "a"}}, {"a": 1}, {"b": 1}),
        ({"rename": {"a": "b", "b": "c"}}, {"a": 1, "b": 2}, {"b": 1, "c": 2}),
        (
            {"rename": {"a": "b", "b": "c", "c": "a"}},
            {"a": 1, "b": 2, "c": 3},
            {"a": 3, "b": 1, "c": 2},
        ),
    ],
)
def test_rename(definition, data, result):
    assert apply(operation(definition), data) == result


def test_rename_swaps_two_names():
    swapped = apply(
        operation({"rename": {"message": "text", "text": "message"}}), DATA | {"text": "yo"}
    )
    assert swapped["message"] == "yo" and swapped["text"] == "hi"


@pytest.mark.parametrize(
    ("names", "result"),
    [
        (["a"], {"b": 2, "c": 3}),
        (["a", "c"], {"b": 2}),
        (["a", "b", "c"], {}),
        (["z"], {"a": 1, "b": 2, "c": 3}),
        (["a", "a"], {"b": 2, "c": 3}),
    ],
)
def test_remove(names, result):
    assert apply(operation({"remove": names}), {"a": 1, "b": 2, "c": 3}) == result


@pytest.mark.parametrize(
    ("names", "result"),
    [
        (["a"], {"a": 1}),
        (["c", "a"], {"c": 3, "a": 1}),
        (["b", "z", "a"], {"b": 2, "a": 1}),
        (["z"], {}),
    ],
)
def test_pick(names, result):
    picked = apply(operation({"pick": names}), {"a": 1, "b": 2, "c": 3})
    assert picked == result
    assert list(picked) == list(result)


def test_pick_keeps_the_order_it_names():
    picked = apply(operation({"pick": ["count", "message", "user"]}), DATA)
    assert list(picked) == ["count", "message", "user"]


@pytest.mark.parametrize(
    "definition",
    [
        {"set": {"message": {"const": "bye"}, "name": "user.name", "count": "nowhere"}},
        {"rename": {"message": "text", "count": "message"}},
        {"remove": ["message", "user"]},
        {"pick": ["items"]},
    ],
)
def test_apply_leaves_the_given_data_as_it_was(definition):
    data = copy.deepcopy(DATA)
    result = apply(operation(definition), data)
    assert data == DATA
    assert result is not data


def test_apply_answers_a_new_dict_even_when_nothing_changes():
    data = {"a": 1}
    result = apply(operation({"remove": ["z"]}), data)
    assert result == data and result is not data
