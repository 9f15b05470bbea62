"""The typed functions: what each gives, and how each fails."""

import re

import pytest

from machinery.language.functions import FUNCTIONS, FunctionError


@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        ("concat", ["a", "b", "c"], "abc"),
        ("format", ["{} has {} items: {}", "Ada", 2, [1, 2]], "Ada has 2 items: [1,2]"),
        ("upper", ["abc"], "ABC"),
        ("lower", ["ABC"], "abc"),
        ("length", ["abcd"], 4),
        ("length", [[1, 2]], 2),
        ("length", [{"a": 1}], 1),
        ("add", [1, 2], 3),
        ("add", [1, 0.5], 1.5),
        ("subtract", [5, 7], -2),
        ("multiply", [3, 4], 12),
        ("divide", [1, 4], 0.25),
        ("json_parse", ['{"a": [1]}'], {"a": [1]}),
        ("json_stringify", [{"a": [1]}], '{"a":[1]}'),
        ("merge", [{"a": 1, "b": 1}, {"b": 2}], {"a": 1, "b": 2}),
        ("slice", [[1, 2, 3, 4], 1, 3], [2, 3]),
        ("slice", [[1, 2, 3, 4], -2], [3, 4]),
        ("at", [[1, 2, 3], -1], 3),
    ],
)
def test_each_function_gives_its_documented_value(name, args, expected):
    assert FUNCTIONS[name].run(*args) == expected


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        ("divide", [1, 0], "division by zero"),
        ("json_parse", ["{"], "json_parse: the text is not JSON"),
        ("at", [[1], 3], "at: index 3 is outside the array of 1"),
        ("format", ["{} {}", 1], "the format has 2 {} placeholders for 1 values"),
        ("length", [3], "length takes a string, an array or an object, not int"),
        ("add", [True, 1], "add takes numbers, not bool"),
        ("upper", [3], "upper takes a string, not int"),
        ("concat", ["x" * 600_000, "y" * 600_000], "longer than 1000000 characters"),
    ],
)
def test_a_function_fails_in_words(name, args, message):
    with pytest.raises(FunctionError, match=re.escape(message)):
        FUNCTIONS[name].run(*args)


def test_now_and_uuid_are_read_when_they_run():
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", FUNCTIONS["now"].run())
    assert FUNCTIONS["uuid"].run() != FUNCTIONS["uuid"].run()
