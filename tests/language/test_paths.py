"""Tests of dotted paths: parsing with escapes, formatting back, and resolving into JSON data."""

import pytest

from machinery.language.paths import Missing, PathError, format_path, parse, resolve

# (path as written, its names). Raw strings: r"a\.b" is the five characters a \ . b
WELL_FORMED = [
    ("message", ("message",)),
    ("user.name", ("user", "name")),
    ("items.0.id", ("items", "0", "id")),
    ("0", ("0",)),
    ("a b.c-d", ("a b", "c-d")),
    ("été.ünï", ("été", "ünï")),
    (r"a\.b", ("a.b",)),
    (r"a\.b.c", ("a.b", "c")),
    (r"\.", (".",)),
    (r"\.\.", ("..",)),
    (r"a\\b", ("a\\b",)),
    (r"a\\", ("a\\",)),
    (r"\\", ("\\",)),
    (r"a\\.b", ("a\\", "b")),
    (r"a\\\.b", ("a\\.b",)),
    (r"x.\\\\.y", ("x", "\\\\", "y")),
]

EMPTY_NAME = "{!r} has an empty name; write 'a.b', not 'a..b' or '.a'."
BAD_ESCAPE = "In {!r}, '\\' escapes only '.' and '\\'."


@pytest.mark.parametrize(("text", "segments"), WELL_FORMED)
def test_parse_splits_a_path_into_its_names(text, segments):
    assert parse(text) == segments


@pytest.mark.parametrize(("text", "segments"), WELL_FORMED)
def test_format_path_writes_the_path_parse_reads(text, segments):
    assert format_path(segments) == text


@pytest.mark.parametrize(
    "segments",
    [
        ("a",),
        ("a", "b", "c"),
        ("a.b",),
        ("a\\b",),
        ("\\.",),
        (".\\",),
        ("...", "\\\\\\"),
        ("end\\", ".start"),
        ("0", "1", "2"),
    ],
)
def test_parse_undoes_format_path(segments):
    assert parse(format_path(segments)) == segments


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "A path is a non-empty string."),
        ("a..b", EMPTY_NAME.format("a..b")),
        (".a", EMPTY_NAME.format(".a")),
        ("a.", EMPTY_NAME.format("a.")),
        (".", EMPTY_NAME.format(".")),
        ("a.b.", EMPTY_NAME.format("a.b.")),
        (r"a\x", BAD_ESCAPE.format(r"a\x")),
        (r"a\n", BAD_ESCAPE.format(r"a\n")),
        ("a\\", BAD_ESCAPE.format("a\\")),
        ("\\", BAD_ESCAPE.format("\\")),
        (r"a.\b", BAD_ESCAPE.format(r"a.\b")),
    ],
)
def test_parse_refuses_a_malformed_path(text, message):
    with pytest.raises(PathError) as raised:
        parse(text)
    assert str(raised.value) == message


@pytest.mark.parametrize("value", [None, 1, 1.5, True, ["a"], ("a",), {"a": 1}, b"a"])
def test_parse_refuses_what_is_not_a_string(value):
    with pytest.raises(PathError, match="^A path is a non-empty string.$"):
        parse(value)


def test_a_path_error_is_a_value_error():
    assert issubclass(PathError, ValueError)


DATA = {
    "message": "hi",
    "user": {"name": "Ada", "address": {"city": "London"}},
    "items": [{"id": 7}, {"id": 8, "tags": ["x", "y"]}],
    "a.b": "dotted",
    "0": "zero",
    "nothing": None,
    "no": False,
    "count": 0,
    "empty": {},
}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("message", "hi"),
        ("user", {"name": "Ada", "address": {"city": "London"}}),
        ("user.name", "Ada"),
        ("user.address.city", "London"),
        ("items.0", {"id": 7}),
        ("items.0.id", 7),
        ("items.1.tags.1", "y"),
        (r"a\.b", "dotted"),
        ("0", "zero"),
        ("nothing", None),
        ("no", False),
        ("count", 0),
        ("empty", {}),
    ],
)
def test_resolve_finds_the_value_at_a_path(path, value):
    assert resolve(DATA, parse(path)) == value


def test_resolve_on_no_names_is_the_data_itself():
    assert resolve(DATA, ()) is DATA


def test_resolve_indexes_a_list_at_the_top():
    assert resolve(["a", "b"], ("1",)) == "b"


@pytest.mark.parametrize(
    "path",
    [
        "missing",
        "user.age",
        "user.name.first",
        "user.address.city.0",
        "message.0",
        "count.0",
        "nothing.x",
        "items.2",
        "items.-1",
        "items.first",
        "items.0.name",
        "items.1.tags.2",
        "a.b",
        "empty.x",
    ],
)
def test_resolve_raises_missing_where_the_path_leads_nowhere(path):
    with pytest.raises(Missing) as raised:
        resolve(DATA, parse(path))
    assert str(raised.value) == path


def test_missing_names_the_whole_path_written_with_its_escapes():
    with pytest.raises(Missing) as raised:
        resolve({"a": {}}, ("a", "b.c"))
    assert str(raised.value) == r"a.b\.c"


def test_missing_is_a_lookup_error_but_not_a_key_error():
    assert issubclass(Missing, LookupError)
    assert not issubclass(Missing, KeyError)


def test_resolve_raises_missing_for_a_superscript_digit_into_a_list():
    with pytest.raises(Missing):
        resolve(["a", "b", "c"], ("²",))
