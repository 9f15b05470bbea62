"""Tests of the workflow language: sources, steps, operations and the plans built from them."""

import pytest
from factories import field, service

from machinery.engine.paths import PathError
from machinery.engine.plan import (
    DefinitionError,
    Field,
    Literal,
    Operation,
    Plan,
    Ref,
    Step,
    build_plan,
    parse_operations,
    parse_source,
    parse_step,
    service_names,
)

CONST_ONLY = (
    'An object here is a literal written {"const": value}; '
    "a string is a path into the running data."
)
ONE_ACTION = "Operation {} has exactly one of set, rename, remove, pick, and 'after'."


@pytest.mark.parametrize(
    ("value", "source"),
    [
        ("message", Ref(("message",))),
        ("user.name", Ref(("user", "name"))),
        ("items.0.id", Ref(("items", "0", "id"))),
        (r"a\.b", Ref(("a.b",))),
        ({"const": "message"}, Literal("message")),
        ({"const": ""}, Literal("")),
        ({"const": 3}, Literal(3)),
        ({"const": None}, Literal(None)),
        ({"const": {"a": 1}}, Literal({"a": 1})),
        ({"const": {"const": 1}}, Literal({"const": 1})),
        ({"const": [1, "two"]}, Literal([1, "two"])),
        (5, Literal(5)),
        (0, Literal(0)),
        (1.5, Literal(1.5)),
        (True, Literal(True)),
        (False, Literal(False)),
        (None, Literal(None)),
        ([1, 2], Literal([1, 2])),
        ([], Literal([])),
    ],
)
def test_parse_source_reads_a_path_or_a_literal(value, source):
    assert parse_source(value) == source


@pytest.mark.parametrize("value", [{}, {"const": 1, "x": 2}, {"value": 1}, {"path": "a.b"}])
def test_parse_source_refuses_an_object_other_than_const(value):
    with pytest.raises(DefinitionError) as raised:
        parse_source(value)
    assert str(raised.value) == CONST_ONLY


@pytest.mark.parametrize("value", ["", "a..b", ".a", r"a\x"])
def test_parse_source_refuses_a_malformed_path(value):
    with pytest.raises(PathError):
        parse_source(value)


def test_a_definition_error_is_a_value_error():
    assert issubclass(DefinitionError, ValueError)


@pytest.mark.parametrize(
    ("entry", "parsed"),
    [
        ("upper", ("upper", {}, None)),
        ({"service": "upper"}, ("upper", {}, None)),
        ({"service": "upper", "input": None, "output": None}, ("upper", {}, None)),
        ({"service": "upper", "input": {}}, ("upper", {}, None)),
        (
            {"service": "counter", "input": {"text": "message"}},
            ("counter", {"text": Ref(("message",))}, None),
        ),
        (
            {"service": "counter", "input": {"text": "user.name", "limit": 3}},
            ("counter", {"text": Ref(("user", "name")), "limit": Literal(3)}, None),
        ),
        (
            {"service": "counter", "input": {"text": {"const": "message"}}},
            ("counter", {"text": Literal("message")}, None),
        ),
        (
            {"service": "counter", "output": {"count": "space_count"}},
            ("counter", {}, {"count": ("space_count",)}),
        ),
        (
            {
                "service": "geo",
                "output": {"city": "address.city", "first": r"tags.0", "d": r"a\.b"},
            },
            ("geo", {}, {"city": ("address", "city"), "first": ("tags", "0"), "d": ("a.b",)}),
        ),
        ({"service": "upper", "output": {}}, ("upper", {}, {})),
        (
            {
                "service": "counter",
                "input": {"text": "message"},
                "output": {"count": "space_count"},
            },
            ("counter", {"text": Ref(("message",))}, {"count": ("space_count",)}),
        ),
    ],
)
def test_parse_step_reads_a_service_and_its_mappings(entry, parsed):
    assert parse_step(entry) == parsed


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"service": "s", "output": {"bad name": "x"}},
            "The output mapping: 'bad name' is not a field name.",
        ),
        (
            {"service": "s", "output": {"a.b": "x"}},
            "The output mapping: 'a.b' is not a field name.",
        ),
        (
            {"service": "s", "output": {"count": 1}},
            "An output mapping maps names to paths in the answer (strings).",
        ),
        (
            {"service": "s", "output": {"count": {"const": "x"}}},
            "An output mapping maps names to paths in the answer (strings).",
        ),
        ({"service": "s", "input": {"text": {"path": "x"}}}, CONST_ONLY),
    ],
)
def test_parse_step_refuses_a_malformed_mapping(entry, message):
    with pytest.raises(DefinitionError) as raised:
        parse_step(entry)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    "entry",
    [
        {"service": "s", "input": {"text": "a..b"}},
        {"service": "s", "output": {"count": "a..b"}},
        {"service": "s", "output": {"count": ""}},
    ],
)
def test_parse_step_refuses_a_malformed_path(entry):
    with pytest.raises(PathError):
        parse_step(entry)


def test_parse_step_needs_a_service_name():
    with pytest.raises(DefinitionError, match="names its service"):
        parse_step({"input": {"text": "message"}})


def test_service_names_lists_the_service_of_each_entry_in_order():
    entries = ["upper", {"service": "counter", "input": {"text": "message"}}, "upper"]
    assert service_names(entries) == ["upper", "counter", "upper"]
    assert service_names([]) == []


@pytest.mark.parametrize("operations", [[], {}, None])
def test_parse_operations_reads_nothing_as_no_operations(operations):
    assert parse_operations(operations, 2) == ()


@pytest.mark.parametrize("operations", [{"set": {"a": 1}}, "set", 3, True])
def test_parse_operations_needs_a_list(operations):
    with pytest.raises(DefinitionError) as raised:
        parse_operations(operations, 2)
    assert str(raised.value) == "operations is a list of operations."


@pytest.mark.parametrize(
    ("operation", "parsed"),
    [
        (
            {"set": {"greeting": "message", "n": 3, "label": {"const": "hi"}}},
            Operation(
                2,
                "set",
                {"greeting": Ref(("message",)), "n": Literal(3), "label": Literal("hi")},
            ),
        ),
        (
            {"set": {"city": "user.address.city"}},
            Operation(2, "set", {"city": Ref(("user", "address", "city"))}),
        ),
        (
            {"rename": {"message": "text", "text": "message"}},
            Operation(2, "rename", {"message": "text", "text": "message"}),
        ),
        ({"remove": ["message", "count"]}, Operation(2, "remove", ["message", "count"])),
        ({"pick": ["count", "message"]}, Operation(2, "pick", ["count", "message"])),
    ],
)
def test_parse_operations_reads_each_action(operation, parsed):
    assert parse_operations([operation], 3) == (parsed,)


@pytest.mark.parametrize(
    ("after", "index"),
    [("inputs", -1), (0, 0), (1, 1), (2, 2)],
)
def test_after_places_an_operation_on_the_inputs_or_after_a_step(after, index):
    (operation,) = parse_operations([{"remove": ["x"], "after": after}], 3)
    assert operation.after == index


@pytest.mark.parametrize(("steps", "index"), [(1, 0), (3, 2)])
def test_an_operation_without_after_runs_after_the_last_step(steps, index):
    (operation,) = parse_operations([{"remove": ["x"]}], steps)
    assert operation.after == index


def test_operations_keep_their_order():
    operations = [
        {"remove": ["a"]},
        {"set": {"b": 1}, "after": "inputs"},
        {"pick": ["b"], "after": 0},
    ]
    assert [(op.action, op.after) for op in parse_operations(operations, 2)] == [
        ("remove", 1),
        ("set", -1),
        ("pick", 0),
    ]


AFTER = "Operation 0: 'after' is \"inputs\" or a step index from 0 to 2."


@pytest.mark.parametrize(
    ("operation", "message"),
    [
        ("set", "Operation 0 is an object."),
        (["set"], "Operation 0 is an object."),
        (None, "Operation 0 is an object."),
        ({}, ONE_ACTION.format(0)),
        ({"after": 0}, ONE_ACTION.format(0)),
        ({"set": {"a": 1}, "rename": {"a": "b"}}, ONE_ACTION.format(0)),
        ({"remove": ["a"], "pick": ["a"]}, ONE_ACTION.format(0)),
        ({"set": {"a": 1}, "when": "always"}, ONE_ACTION.format(0)),
        ({"copy": {"a": "b"}}, ONE_ACTION.format(0)),
        ({"remove": ["a"], "after": 3}, AFTER),
        ({"remove": ["a"], "after": 99}, AFTER),
        ({"remove": ["a"], "after": -2}, AFTER),
        ({"remove": ["a"], "after": "0"}, AFTER),
        ({"remove": ["a"], "after": 1.0}, AFTER),
        ({"remove": ["a"], "after": True}, AFTER),
        ({"remove": ["a"], "after": None}, AFTER),
        ({"remove": ["a"], "after": "outputs"}, AFTER),
        ({"remove": ["a"], "after": "Inputs"}, AFTER),
        ({"set": {}}, "Operation 0: set takes a non-empty object."),
        ({"set": []}, "Operation 0: set takes a non-empty object."),
        ({"set": "a"}, "Operation 0: set takes a non-empty object."),
        ({"rename": {}}, "Operation 0: rename takes a non-empty object."),
        ({"rename": ["a", "b"]}, "Operation 0: rename takes a non-empty object."),
        ({"remove": []}, "Operation 0: remove takes a non-empty list of names."),
        ({"remove": "a"}, "Operation 0: remove takes a non-empty list of names."),
        ({"remove": {"a": 1}}, "Operation 0: remove takes a non-empty list of names."),
        ({"pick": []}, "Operation 0: pick takes a non-empty list of names."),
        ({"pick": "a"}, "Operation 0: pick takes a non-empty list of names."),
        ({"set": {"bad name": 1}}, "Operation 0: 'bad name' is not a field name."),
        ({"set": {"user.name": "x"}}, "Operation 0: 'user.name' is not a field name."),
        ({"rename": {"a.b": "c"}}, "Operation 0: 'a.b' is not a field name."),
        ({"rename": {"a": "b c"}}, "Operation 0: 'b c' is not a field name."),
        ({"rename": {"a": 1}}, "Operation 0: 1 is not a field name."),
        ({"rename": {"a": ""}}, "Operation 0: '' is not a field name."),
        ({"remove": [1]}, "Operation 0: 1 is not a field name."),
        ({"remove": ["a", None]}, "Operation 0: None is not a field name."),
        ({"pick": ["x" * 65]}, f"Operation 0: {'x' * 65!r} is not a field name."),
        ({"pick": ["é"]}, "Operation 0: 'é' is not a field name."),
        ({"set": {"a": {"path": "b"}}}, CONST_ONLY),
    ],
)
def test_parse_operations_refuses_an_invalid_operation(operation, message):
    with pytest.raises(DefinitionError) as raised:
        parse_operations([operation], 3)
    assert str(raised.value) == message


def test_an_error_names_the_operation_by_its_position():
    operations = [{"remove": ["a"]}, {"pick": ["b"]}, {"pick": []}]
    with pytest.raises(DefinitionError) as raised:
        parse_operations(operations, 3)
    assert str(raised.value) == "Operation 2: pick takes a non-empty list of names."


def test_a_set_with_a_malformed_path_raises_a_path_error():
    with pytest.raises(PathError):
        parse_operations([{"set": {"a": "b..c"}}], 1)


@pytest.mark.parametrize("name", ["a", "A_z-0", "x" * 64, "0", "-", "_"])
def test_field_names_may_use_letters_digits_hyphens_and_underscores(name):
    (operation,) = parse_operations([{"remove": [name]}], 1)
    assert operation.argument == [name]


def test_operations_after_selects_the_operations_placed_after_a_step():
    first, second, third = (
        Operation(after, "remove", [name]) for after, name in [(-1, "a"), (0, "b"), (-1, "c")]
    )
    plan = Plan(steps=(), operations=(first, second, third))
    assert plan.operations_after(-1) == [first, third]
    assert plan.operations_after(0) == [second]
    assert plan.operations_after(1) == []


SERVICES = {
    "upper": {**service("upper", address="http://upper/"), "version": 3},
    "counter": service(
        "counter",
        address="http://counter/",
        inputs=[field("text"), field("limit", "int", required=False)],
        outputs=[field("count", "int"), field("note", required=False)],
    ),
}


def test_build_plan_makes_a_step_of_each_entry_with_its_service_definition():
    workflow = {
        "name": "w",
        "services": [
            "upper",
            {"service": "counter", "input": {"text": "message"}, "output": {"n": "count"}},
        ],
        "inputs": [field("message")],
        "outputs": [field("message"), field("n", "int")],
        "operations": [{"remove": ["message"], "after": 0}, {"set": {"ok": True}}],
    }
    plan = build_plan(workflow, SERVICES)
    assert plan == Plan(
        steps=(
            Step(
                service="upper",
                address="http://upper/",
                inputs=("message",),
                outputs=(Field("message", "string"),),
                version=3,
            ),
            Step(
                service="counter",
                address="http://counter/",
                inputs=("text", "limit"),
                outputs=(Field("count", "int"), Field("note", "string", required=False)),
                optional_inputs=frozenset({"limit"}),
                input_map={"text": Ref(("message",))},
                output_map={"n": ("count",)},
            ),
        ),
        outputs=("message", "n"),
        operations=(
            Operation(0, "remove", ["message"]),
            Operation(1, "set", {"ok": Literal(True)}),
        ),
    )


def test_build_plan_carries_each_service_version():
    workflow = {"name": "w", "services": ["upper", "counter", "upper"], "inputs": [], "outputs": []}
    plan = build_plan(workflow, SERVICES)
    assert [step.version for step in plan.steps] == [3, None, 3]
    assert plan.outputs == () and plan.operations == ()


def test_build_plan_needs_every_service_it_calls():
    workflow = {"name": "w", "services": ["upper", "nowhere"], "inputs": [], "outputs": []}
    with pytest.raises(KeyError):
        build_plan(workflow, SERVICES)


def test_build_plan_refuses_operations_outside_its_steps():
    workflow = {
        "name": "w",
        "services": ["upper"],
        "inputs": [],
        "outputs": [],
        "operations": [{"remove": ["a"], "after": 1}],
    }
    with pytest.raises(DefinitionError) as raised:
        build_plan(workflow, SERVICES)
    assert str(raised.value) == "Operation 0: 'after' is \"inputs\" or a step index from 0 to 0."
