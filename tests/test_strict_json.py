"""Tests of strict JSON parsing: what Machinery reads as JSON it can store, and what it refuses."""

import json

import pytest

from machinery.strict_json import MAX_DEPTH, parse_json


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
