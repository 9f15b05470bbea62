"""Tests of parsing definitions into the model: sources, calls, operations, their order in a
workflow's block, services, and the places a definition error names."""

import pytest
from factories import field, service

from machinery import states
from machinery.language.model import (
    Call,
    CallSettings,
    Field,
    Literal,
    Operation,
    Ref,
    RetryPolicy,
    Service,
    Workflow,
    call_settings,
)
from machinery.language.parse import (
    DefinitionError,
    parse_call,
    parse_operations,
    parse_service,
    parse_source,
    parse_workflow,
    place_operations,
)
from machinery.language.paths import PathError

CONST_ONLY = (
    'An object here is one of: a path (a string), a literal ({"const": value}, or any JSON '
    'value but a string or an object), {"object": {name: source, ...}}, {"array": [source, '
    '...]} or {"fn": name, "args": [source, ...]}; a string is a path into the running data.'
)
ONE_ACTION = "Operation {} has exactly one of set, rename, remove, pick, and 'after'."
EMPTY_NAME = "{!r} has an empty name; write 'a.b', not 'a..b' or '.a'."


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


def test_a_definition_error_is_a_value_error_with_a_place():
    assert issubclass(DefinitionError, ValueError)
    assert DefinitionError("broken").place == ""
    assert DefinitionError("broken", "services[2]").place == "services[2]"


# Calls


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
def test_parse_call_reads_a_service_and_its_mappings(entry, parsed):
    name, input_map, output_map = parsed
    assert parse_call(entry, 1) == Call(
        index=1, service=name, input_map=input_map, output_map=output_map
    )


def test_a_call_has_no_settings_of_its_own_unless_its_entry_says_so():
    call = parse_call("upper", 0)
    assert (call.timeout, call.retry, call.retry_non_idempotent) == (None, None, False)


def test_parse_call_reads_the_step_settings():
    entry = {
        "service": "upper",
        "timeout": {"connect": 1, "read": 4.5},
        "retry": {"max_attempts": 3, "interval": 0.5},
        "retry_non_idempotent": True,
    }
    call = parse_call(entry, 2)
    assert call.timeout == (1, 4.5)
    assert call.retry == RetryPolicy(max_attempts=3, interval=0.5)
    assert call.retry_non_idempotent is True


@pytest.mark.parametrize(("timeout", "parsed"), [(2, (2.0, 2.0)), ({"read": 9}, (None, 9))])
def test_a_timeout_is_a_number_for_both_or_a_connect_and_read_object(timeout, parsed):
    assert parse_call({"service": "upper", "timeout": timeout}, 0).timeout == parsed


def test_a_call_is_placed_by_its_index():
    assert parse_call("upper", 3).place == "services[3]"


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
def test_parse_call_refuses_a_malformed_mapping(entry, message):
    with pytest.raises(DefinitionError) as raised:
        parse_call(entry, 1)
    assert str(raised.value) == message
    assert raised.value.place == "services[1]"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"service": "s", "input": {"text": "a..b"}}, EMPTY_NAME.format("a..b")),
        ({"service": "s", "output": {"count": "a..b"}}, EMPTY_NAME.format("a..b")),
        ({"service": "s", "output": {"count": ""}}, "A path is a non-empty string."),
    ],
)
def test_a_malformed_path_in_a_call_is_a_definition_error_at_its_place(entry, message):
    with pytest.raises(DefinitionError) as raised:
        parse_call(entry, 4)
    assert str(raised.value) == message
    assert raised.value.place == "services[4]"


@pytest.mark.parametrize(
    "entry", [{"input": {"text": "message"}}, {"service": 3}, None, 7, ["upper"]]
)
def test_parse_call_needs_a_service_name(entry):
    with pytest.raises(DefinitionError) as raised:
        parse_call(entry, 0)
    assert str(raised.value) == (
        'A step names its service ({"service": name, ...}) or is a choice, parallel, map or wait.'
    )
    assert raised.value.place == "services[0]"


# Operations


@pytest.mark.parametrize("operations", [[], {}, None])
def test_parse_operations_reads_nothing_as_no_operations(operations):
    assert parse_operations(operations, 2) == []


@pytest.mark.parametrize("operations", [{"set": {"a": 1}}, "set", 3, True])
def test_parse_operations_needs_a_list(operations):
    with pytest.raises(DefinitionError) as raised:
        parse_operations(operations, 2)
    assert str(raised.value) == "operations is a list of operations."
    assert raised.value.place == "operations"


@pytest.mark.parametrize(
    ("operation", "parsed"),
    [
        (
            {"set": {"greeting": "message", "n": 3, "label": {"const": "hi"}}},
            Operation(
                0,
                "set",
                {"greeting": Ref(("message",)), "n": Literal(3), "label": Literal("hi")},
            ),
        ),
        (
            {"set": {"city": "user.address.city"}},
            Operation(0, "set", {"city": Ref(("user", "address", "city"))}),
        ),
        (
            {"rename": {"message": "text", "text": "message"}},
            Operation(0, "rename", {"message": "text", "text": "message"}),
        ),
        ({"remove": ["message", "count"]}, Operation(0, "remove", ["message", "count"])),
        ({"pick": ["count", "message"]}, Operation(0, "pick", ["count", "message"])),
    ],
)
def test_parse_operations_reads_each_action(operation, parsed):
    assert parse_operations([operation], 3) == [(2, parsed)]


@pytest.mark.parametrize(
    ("after", "index"),
    [("inputs", -1), (0, 0), (1, 1), (2, 2)],
)
def test_after_places_an_operation_on_the_inputs_or_after_a_step(after, index):
    ((placed, _),) = parse_operations([{"remove": ["x"], "after": after}], 3)
    assert placed == index


@pytest.mark.parametrize(("steps", "index"), [(1, 0), (3, 2)])
def test_an_operation_without_after_runs_after_the_last_step(steps, index):
    ((placed, _),) = parse_operations([{"remove": ["x"]}], steps)
    assert placed == index


def test_operations_keep_their_order_and_are_numbered_by_it():
    operations = [
        {"remove": ["a"]},
        {"set": {"b": 1}, "after": "inputs"},
        {"pick": ["b"], "after": 0},
    ]
    assert [(op.number, op.action, after) for after, op in parse_operations(operations, 2)] == [
        (0, "remove", 1),
        (1, "set", -1),
        (2, "pick", 0),
    ]


def test_an_operation_is_placed_by_its_number():
    assert Operation(2, "remove", ["a"]).place == "operations[2]"


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
        ({"remove": ["a"], "after": -1}, AFTER),
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
    assert raised.value.place == "operations[0]"


def test_an_error_names_the_operation_by_its_position():
    operations = [{"remove": ["a"]}, {"pick": ["b"]}, {"pick": []}]
    with pytest.raises(DefinitionError) as raised:
        parse_operations(operations, 3)
    assert str(raised.value) == "Operation 2: pick takes a non-empty list of names."
    assert raised.value.place == "operations[2]"


def test_a_set_with_a_malformed_path_is_a_definition_error_naming_the_operation():
    with pytest.raises(DefinitionError) as raised:
        parse_operations([{"remove": ["a"]}, {"set": {"a": "b..c"}}], 1)
    assert str(raised.value) == "Operation 1: " + EMPTY_NAME.format("b..c")
    assert raised.value.place == "operations[1]"


@pytest.mark.parametrize("name", ["a", "A_z-0", "x" * 64, "0", "-", "_"])
def test_field_names_may_use_letters_digits_hyphens_and_underscores(name):
    ((_, operation),) = parse_operations([{"remove": [name]}], 1)
    assert operation.argument == [name]


# The block: calls and operations in the order they run


def test_place_operations_puts_each_operation_after_the_step_it_names():
    calls = [Call(0, "a"), Call(1, "b")]
    on_inputs, after_a, also_on_inputs, after_b = (
        Operation(number, "remove", [name]) for number, name in enumerate("wxyz")
    )
    operations = [(-1, on_inputs), (0, after_a), (-1, also_on_inputs), (1, after_b)]
    assert place_operations(calls, operations) == (
        on_inputs,
        also_on_inputs,
        calls[0],
        after_a,
        calls[1],
        after_b,
    )


def test_place_operations_without_operations_is_the_calls():
    calls = [Call(0, "a"), Call(1, "a")]
    assert place_operations(calls, []) == tuple(calls)


# Workflows


def test_parse_workflow_makes_a_block_of_calls_and_operations_in_run_order():
    definition = {
        "name": "w",
        "version": 2,
        "services": [
            "upper",
            {"service": "counter", "input": {"text": "message"}, "output": {"n": "count"}},
        ],
        "inputs": [field("message")],
        "outputs": [field("message"), field("n", "int", required=False)],
        "operations": [
            {"set": {"ok": True}},
            {"remove": ["message"], "after": 0},
            {"pick": ["message"], "after": "inputs"},
        ],
    }
    assert parse_workflow(definition) == Workflow(
        name="w",
        steps=(
            Operation(2, "pick", ["message"]),
            Call(0, "upper"),
            Operation(1, "remove", ["message"]),
            Call(
                1,
                "counter",
                input_map={"text": Ref(("message",))},
                output_map={"n": ("count",)},
            ),
            Operation(0, "set", {"ok": Literal(True)}),
        ),
        inputs=(Field("message", "string"),),
        outputs=(Field("message", "string"), Field("n", "int", required=False)),
        version=2,
    )


def test_a_workflow_without_operations_is_its_calls():
    definition = {"name": "w", "services": ["upper", "counter", "upper"]}
    parsed = parse_workflow(definition)
    assert parsed.steps == (Call(0, "upper"), Call(1, "counter"), Call(2, "upper"))
    assert parsed.calls == parsed.steps
    assert (parsed.inputs, parsed.outputs, parsed.version) == ((), (), None)


def test_a_workflow_names_the_services_it_calls_once_each_in_order_of_first_call():
    definition = {
        "name": "w",
        "services": ["upper", {"service": "counter"}, "upper", "reverse"],
        "operations": [{"remove": ["a"], "after": 0}],
    }
    parsed = parse_workflow(definition)
    assert parsed.service_names == ["upper", "counter", "reverse"]
    assert [call.index for call in parsed.calls] == [0, 1, 2, 3]


def test_parse_workflow_refuses_operations_outside_its_steps():
    definition = {
        "name": "w",
        "services": ["upper"],
        "operations": [{"remove": ["a"], "after": 1}],
    }
    with pytest.raises(DefinitionError) as raised:
        parse_workflow(definition)
    assert str(raised.value) == "Operation 0: 'after' is \"inputs\" or a step index from 0 to 0."
    assert raised.value.place == "operations[0]"


def test_parse_workflow_names_the_step_that_breaks_the_language():
    definition = {
        "name": "w",
        "services": ["upper", "reverse", {"service": "counter", "input": {"text": {"x": 1}}}],
    }
    with pytest.raises(DefinitionError) as raised:
        parse_workflow(definition)
    assert str(raised.value) == CONST_ONLY
    assert raised.value.place == "services[2]"


def test_parse_workflow_reports_a_broken_step_before_a_broken_operation():
    definition = {
        "name": "w",
        "services": ["upper", {"input": {}}],
        "operations": [{"pick": []}],
    }
    with pytest.raises(DefinitionError) as raised:
        parse_workflow(definition)
    assert raised.value.place == "services[1]"


# Services and call settings


def test_parse_service_reads_a_definition():
    definition = {
        **service(
            "counter",
            address="http://counter/",
            inputs=[field("text"), field("limit", "int", required=False)],
            outputs=[field("count", "int")],
        ),
        "version": 3,
        "timeout": 2.5,
        "retry": {"max_attempts": 4, "on": [503]},
        "idempotent": True,
    }
    assert parse_service(definition) == Service(
        name="counter",
        address="http://counter/",
        inputs=(Field("text", "string"), Field("limit", "int", required=False)),
        outputs=(Field("count", "int"),),
        version=3,
        timeout=(2.5, 2.5),
        retry=RetryPolicy(max_attempts=4, on=frozenset({503})),
        idempotent=True,
    )


def test_a_service_with_no_settings_is_called_once_with_the_default_timeouts():
    parsed = parse_service(service("upper"))
    assert (parsed.timeout, parsed.retry, parsed.idempotent, parsed.version) == (
        None,
        RetryPolicy(),
        False,
        None,
    )
    assert parsed.input("message") == Field("message", "string")
    assert parsed.input("nothing") is None


SERVICE = Service(
    "flaky",
    "http://flaky/",
    timeout=(1.0, 10.0),
    retry=RetryPolicy(max_attempts=3),
)


@pytest.mark.parametrize(
    ("call", "settings"),
    [
        (Call(0, "flaky"), CallSettings((1.0, 10.0), RetryPolicy(max_attempts=3), False)),
        (
            Call(0, "flaky", timeout=(None, 2.0)),
            CallSettings((1.0, 2.0), RetryPolicy(max_attempts=3), False),
        ),
        (
            Call(0, "flaky", timeout=(0.5, None)),
            CallSettings((0.5, 10.0), RetryPolicy(max_attempts=3), False),
        ),
        (
            Call(0, "flaky", retry=RetryPolicy(max_attempts=5, on=frozenset({states.TIMEOUT}))),
            CallSettings(
                (1.0, 10.0), RetryPolicy(max_attempts=5, on=frozenset({states.TIMEOUT})), False
            ),
        ),
        (
            Call(0, "flaky", retry_non_idempotent=True),
            CallSettings((1.0, 10.0), RetryPolicy(max_attempts=3), True),
        ),
    ],
)
def test_a_step_overrides_its_service_settings_one_by_one(call, settings):
    assert call_settings(call, SERVICE) == settings


def test_an_idempotent_service_may_be_called_again_at_every_step():
    idempotent = Service("safe", "http://safe/", idempotent=True)
    assert call_settings(Call(0, "safe"), idempotent).repeatable is True


@pytest.mark.parametrize(("timeout", "settings"), [(None, None), ((None, 4.0), (None, 4.0))])
def test_without_timeouts_the_caller_default_is_used(timeout, settings):
    plain = Service("plain", "http://plain/")
    assert call_settings(Call(0, "plain", timeout=timeout), plain).timeout == settings
