"""Tests of the executor: the order of calls, the running data, the step records and the failures,
and how `advance` runs an event one call at a time, resumes from a saved state and tells its
listeners."""

from datetime import datetime
from typing import NamedTuple

import pytest
from factories import SEED_MESSAGE, field, service

from machinery import states
from machinery.engine.executor import (
    Listener,
    Listeners,
    RunState,
    StepFailed,
    advance,
    contract_violations,
    failure_message,
    merge_answer,
    run_to_end,
    start,
    step_payload,
)
from machinery.language.model import (
    Call,
    Field,
    Literal,
    Ref,
    RetryPolicy,
    Service,
    Workflow,
)
from machinery.language.parse import (
    parse_operations,
    parse_service,
    parse_workflow,
    place_operations,
)


class FakeServices:
    """A caller answering from address -> answer dict, or a StepFailed to raise."""

    def __init__(self, answers: dict, log: list | None = None):
        self.answers = answers
        self.calls: list[tuple[str, dict]] = []
        self.options: list = []
        self.log = log if log is not None else []

    def __call__(self, address: str, payload: dict, options=None) -> tuple[int, dict]:
        self.options.append(options)
        self.calls.append((address, dict(payload)))
        self.log.append(("call", address))
        answer = self.answers[address]
        if isinstance(answer, StepFailed):
            raise answer
        return 200, dict(answer)


class Recorder(Listener):
    """A listener keeping what it hears and noting it in a shared log."""

    def __init__(self, log: list | None = None):
        self.log = log if log is not None else []
        self.attempts: list[tuple[int, dict]] = []
        self.records: list[dict] = []
        self.states: list[RunState] = []
        self.ended: list[RunState] = []

    def on_attempt(self, call, attempt):
        self.attempts.append((call.index, dict(attempt)))
        self.log.append(("attempt", call.index, attempt["attempt"]))

    def on_step_end(self, record, state):
        self.records.append(dict(record))
        self.states.append(state)
        self.log.append(("step", record["index"]))

    def on_event_end(self, state):
        self.ended.append(state)
        self.log.append(("end", state.status))


class Step(NamedTuple):
    """A step to build a workflow from: the service it calls, and how the call is written."""

    service: Service
    call: dict


def step(name: str, *inputs: str, outputs=(), version=None, **call) -> Step:
    """A step calling service `name` at http://<name>/, taking optional string inputs and
    declaring optional string outputs (only declared outputs are merged). `call` holds the
    Call's own settings (input_map, output_map, ...)."""
    return Step(
        Service(
            name=name,
            address=f"http://{name}/",
            inputs=tuple(Field(i, "string", required=False) for i in inputs),
            outputs=tuple(Field(o, "string", required=False) for o in outputs),
            version=version,
        ),
        call,
    )


def mapped(name: str, *inputs: str, outputs=(), **call) -> Step:
    """A step like step(), whose inputs are required strings and whose outputs are Fields."""
    inputs = tuple(Field(i, "string") for i in inputs)
    return Step(Service(name, f"http://{name}/", inputs, tuple(outputs)), call)


def build(*steps: Step, outputs=(), operations=None) -> tuple[Workflow, dict[str, Service]]:
    """A workflow calling the steps in order, with operations written as in a definition."""
    calls = [Call(index, s.service.name, **s.call) for index, s in enumerate(steps)]
    placed = place_operations(calls, parse_operations(operations, len(calls)))
    workflow = Workflow("w", steps=placed, outputs=tuple(Field(name, "string") for name in outputs))
    return workflow, {s.service.name: s.service for s in steps}


def run(built, data: dict, answers: dict, **options):
    """Run the workflow to its end against fake services: (the end state, the services, the
    listener)."""
    log: list = []
    services = FakeServices(answers, log)
    recorder = Recorder(log)
    workflow, models = built
    state = run_to_end(workflow, models, start(data), services, recorder, **options)
    return state, services, recorder


def test_each_step_receives_only_the_declared_inputs_that_exist():
    built = build(step("upper", "text", "missing"), step("count", "count_of"))
    data = {"text": "hi", "count_of": "i", "unrelated": 1}
    _, services, _ = run(built, data, {"http://upper/": {}, "http://count/": {}})
    assert services.calls == [
        ("http://upper/", {"text": "hi"}),
        ("http://count/", {"count_of": "i"}),
    ]


def test_a_step_with_no_inputs_receives_an_empty_payload():
    _, services, _ = run(build(step("clock")), {"text": "hi"}, {"http://clock/": {}})
    assert services.calls == [("http://clock/", {})]


def test_a_later_step_sees_an_earlier_step_output():
    built = build(
        step("upper", "text", outputs=("upper_text",)),
        step("reverse", "upper_text", outputs=("reversed",)),
    )
    answers = {"http://upper/": {"upper_text": "HI"}, "http://reverse/": {"reversed": "IH"}}
    state, services, _ = run(built, {"text": "hi"}, answers)
    assert services.calls[1] == ("http://reverse/", {"upper_text": "HI"})
    assert state.outputs == {"text": "hi", "upper_text": "HI", "reversed": "IH"}


def test_an_output_overwrites_an_earlier_value_of_the_same_name():
    built = build(
        step("upper", "text", outputs=("text",)),
        step("reverse", "text", outputs=("text",)),
        step("echo", "text"),
    )
    answers = {
        "http://upper/": {"text": "HI"},
        "http://reverse/": {"text": "IH"},
        "http://echo/": {},
    }
    state, services, _ = run(built, {"text": "hi"}, answers)
    assert [payload for _, payload in services.calls] == [
        {"text": "hi"},
        {"text": "HI"},
        {"text": "IH"},
    ]
    assert state.outputs == {"text": "IH"}


def test_running_an_event_leaves_the_event_data_untouched():
    data = {"text": "hi"}
    state, _, _ = run(
        build(step("upper", "text", outputs=("text",))), data, {"http://upper/": {"text": "HI"}}
    )
    assert data == {"text": "hi"}
    assert state.outputs == {"text": "HI"}


def test_start_is_a_running_state_at_the_first_node_over_a_copy_of_the_data():
    data = {"text": "hi"}
    state = start(data)
    assert (state.status, state.cursor, state.running) == (states.RUNNING, 0, data)
    assert state.running is not data
    assert (state.outputs, state.error, state.finished) == (None, None, False)


@pytest.mark.parametrize(
    ("status", "finished"),
    [
        (states.QUEUED, False),
        (states.RUNNING, False),
        (states.SUCCEEDED, True),
        (states.FAILED, True),
        (states.CANCELLED, True),
    ],
)
def test_a_run_state_is_finished_in_a_final_state(status, finished):
    assert RunState(status, 0, {}).finished is finished


def test_outputs_are_picked_by_the_workflow():
    count = mapped("count", "text", outputs=[Field("count", "int")])
    built = build(step("upper", "text", outputs=("text",)), count, outputs=("count", "text"))
    answers = {"http://upper/": {"text": "HI", "shout": True}, "http://count/": {"count": 2}}
    state, _, _ = run(built, {"text": "hi", "lang": "en"}, answers)
    assert state.status == states.SUCCEEDED
    assert state.outputs == {"count": 2, "text": "HI"}
    assert state.error is None


def test_outputs_are_all_the_running_data_when_the_workflow_names_none():
    built = build(step("upper", "text", outputs=("loud",)))
    answers = {"http://upper/": {"loud": "HI", "undeclared": 1}}
    state, _, _ = run(built, {"text": "hi", "lang": "en"}, answers)
    assert state.outputs == {"text": "hi", "lang": "en", "loud": "HI"}


def test_an_output_named_but_not_produced_is_absent():
    built = build(step("upper", "text", outputs=("loud",)), outputs=("loud", "never"))
    state, _, _ = run(built, {"text": "hi"}, {"http://upper/": {"loud": "HI"}})
    assert state.status == states.SUCCEEDED
    assert state.outputs == {"loud": "HI"}


def test_a_workflow_without_steps_answers_the_event_data():
    state, services, recorder = run(build(), {"text": "hi"}, {})
    assert state.status == states.SUCCEEDED
    assert state.outputs == {"text": "hi"}
    assert services.calls == [] and recorder.records == []
    assert recorder.ended == [state]


def test_each_step_is_recorded_once_in_order_before_the_next_call():
    built = build(step("a"), step("b"), step("c"))
    answers = {"http://a/": {"x": 1}, "http://b/": {"y": 2}, "http://c/": {"z": 3}}
    _, _, recorder = run(built, {}, answers)
    assert recorder.log == [
        ("call", "http://a/"),
        ("attempt", 0, 1),
        ("step", 0),
        ("call", "http://b/"),
        ("attempt", 1, 1),
        ("step", 1),
        ("call", "http://c/"),
        ("attempt", 2, 1),
        ("step", 2),
        ("end", states.SUCCEEDED),
    ]


def test_a_step_record_describes_the_call():
    built = build(step("upper", "text"), step("count", "text"))
    answers = {"http://upper/": {"text": "HI"}, "http://count/": {"count": 2}}
    _, _, recorder = run(built, {"text": "hi"}, answers)
    assert len(recorder.records) == 2
    for index, (record, name, answer) in enumerate(
        zip(recorder.records, ["upper", "count"], [{"text": "HI"}, {"count": 2}], strict=True)
    ):
        assert set(record) == {
            "index",
            "service",
            "address",
            "started_at",
            "duration_ms",
            "status_code",
            "outputs",
            "error",
            "attempts",
        }
        assert record["index"] == index
        assert record["service"] == name
        assert record["address"] == f"http://{name}/"
        assert record["status_code"] == 200
        assert record["outputs"] == answer
        assert record["error"] is None


def test_durations_are_non_negative_floats_and_start_times_are_aware():
    built = build(step("a"), step("b"))
    failure = StepFailed(states.TIMEOUT, "timed out")
    _, _, recorder = run(built, {}, {"http://a/": {}, "http://b/": failure})
    assert len(recorder.records) == 2
    for record in recorder.records:
        assert isinstance(record["duration_ms"], float)
        assert record["duration_ms"] >= 0
        assert isinstance(record["started_at"], datetime)
        assert record["started_at"].tzinfo is not None
        assert record["started_at"].utcoffset() is not None
    assert recorder.records[0]["started_at"] <= recorder.records[1]["started_at"]


@pytest.mark.parametrize(
    ("failure", "status_code"),
    [
        (StepFailed(states.HTTP_STATUS, "answered HTTP 500: boom", 500), 500),
        (StepFailed(states.INVALID_RESPONSE, "answered a body that is not JSON", 200), 200),
        (StepFailed(states.TIMEOUT, "timed out calling http://b/"), None),
        (StepFailed(states.CONNECTION_ERROR, "could not connect to http://b/"), None),
    ],
)
def test_a_failed_step_stops_the_event(failure, status_code):
    built = build(
        step("a", "text", outputs=("x",)), step("b", "text"), step("c", "text"), outputs=("x",)
    )
    answers = {"http://a/": {"x": "1"}, "http://b/": failure, "http://c/": {"z": 3}}
    state, services, recorder = run(built, {"text": "hi"}, answers)

    assert state.status == states.FAILED
    assert [address for address, _ in services.calls] == ["http://a/", "http://b/"]
    assert state.error == {
        "step": 1,
        "service": "b",
        "address": "http://b/",
        "kind": failure.kind,
        "status_code": status_code,
        "attempts": 1,
        "message": failure.message,
    }
    assert state.outputs is None
    assert state.running == {"text": "hi", "x": "1"}
    assert recorder.log == [
        ("call", "http://a/"),
        ("attempt", 0, 1),
        ("step", 0),
        ("call", "http://b/"),
        ("attempt", 1, 1),
        ("step", 1),
        ("end", states.FAILED),
    ]
    succeeded, failed = recorder.records
    assert succeeded["outputs"] == {"x": "1"} and succeeded["error"] is None
    assert failed["index"] == 1
    assert failed["service"] == "b"
    assert failed["outputs"] is None
    assert failed["status_code"] == status_code
    assert failed["error"] == {"kind": failure.kind, "message": failure.message}
    assert recorder.ended == [state] and recorder.states[-1] == state


@pytest.mark.parametrize("failing", [0, 1, 2])
def test_a_failure_at_step_i_leaves_i_plus_one_records(failing):
    names = ["a", "b", "c"]
    built = build(*(step(name) for name in names))
    answers = {f"http://{name}/": {} for name in names}
    answers[f"http://{names[failing]}/"] = StepFailed(states.HTTP_STATUS, "answered HTTP 503", 503)
    state, services, recorder = run(built, {}, answers)
    assert state.status == states.FAILED
    assert state.error["step"] == failing
    assert state.error["service"] == names[failing]
    assert len(services.calls) == failing + 1
    assert [record["index"] for record in recorder.records] == list(range(failing + 1))
    assert recorder.records[-1]["error"] is not None and recorder.records[-1]["outputs"] is None
    assert all(record["error"] is None for record in recorder.records[:-1])


def test_step_failed_keeps_its_kind_message_and_status_code():
    failure = StepFailed(states.HTTP_STATUS, "answered HTTP 404: nope", 404)
    assert (failure.kind, failure.message, failure.status_code, str(failure)) == (
        states.HTTP_STATUS,
        "answered HTTP 404: nope",
        404,
        "answered HTTP 404: nope",
    )
    assert StepFailed(states.TIMEOUT, "slow").status_code is None


def test_failure_message_says_which_step_failed_and_why():
    built = build(step("a"), step("b"))
    failure = StepFailed(states.HTTP_STATUS, "answered HTTP 500: boom", 500)
    state, _, _ = run(built, {}, {"http://a/": {}, "http://b/": failure})
    assert failure_message(state.error) == "Step 1 (b) failed: answered HTTP 500: boom"


# Step mappings, operations and contract checks.


@pytest.mark.parametrize(
    ("input_map", "payload"),
    [
        ({"limit": Literal(3)}, {"text": "a b", "limit": 3}),
        ({"text": Literal("message")}, {"text": "message"}),
        ({"text": Literal(None)}, {"text": None}),
        ({"text": Ref(("message",))}, {"text": "hi"}),
        ({"text": Ref(("user", "name"))}, {"text": "Ada"}),
        ({"text": Ref(("items", "1", "id"))}, {"text": 8}),
        ({"limit": Ref(("items",))}, {"text": "a b", "limit": [{"id": 7}, {"id": 8}]}),
        ({"text": Ref(("user", "age"))}, {}),
        ({"text": Ref(("nowhere",))}, {}),
        ({"text": Ref(("items", "2", "id"))}, {}),
        ({"colour": Literal("red")}, {"text": "a b"}),
    ],
)
def test_step_payload_follows_the_input_mapping(input_map, payload):
    running = {
        "text": "a b",
        "message": "hi",
        "user": {"name": "Ada"},
        "items": [{"id": 7}, {"id": 8}],
    }
    counter = step("counter", "text", "limit").service
    assert step_payload(Call(0, "counter", input_map=input_map), counter, running) == payload


@pytest.mark.parametrize(
    ("input_map", "read"),
    [
        ({}, "text"),
        ({"text": Ref(("user", "age"))}, "user.age"),
        ({"text": Ref(("a.b",))}, r"a\.b"),
    ],
)
def test_a_required_input_that_finds_nothing_fails_before_the_call(input_map, read):
    counter = mapped("counter", "text").service
    with pytest.raises(StepFailed) as raised:
        step_payload(Call(0, "counter", input_map=input_map), counter, {"user": {}})
    assert raised.value.kind == states.MISSING_INPUT
    assert raised.value.message == (
        f"input 'text' is required, but {read!r} is not in the running data."
    )
    assert raised.value.sent is False


def test_a_step_whose_required_input_is_missing_fails_as_missing_input_uncalled():
    built = build(step("a", "text"), mapped("b", "text", input_map={"text": Ref(("user", "name"))}))
    state, services, recorder = run(built, {"user": {}}, {"http://a/": {}, "http://b/": {}})
    assert [address for address, _ in services.calls] == ["http://a/"]
    assert state.status == states.FAILED
    assert state.error == {
        "step": 1,
        "service": "b",
        "address": "http://b/",
        "kind": states.MISSING_INPUT,
        "status_code": None,
        "attempts": 0,
        "message": "input 'text' is required, but 'user.name' is not in the running data.",
    }
    failed = recorder.records[1]
    assert (failed["attempts"], failed["outputs"], failed["error"]["kind"]) == (
        [],
        None,
        states.MISSING_INPUT,
    )
    assert [index for index, _ in recorder.attempts] == [0]


def test_a_step_receives_a_literal_and_a_nested_path_through_the_run():
    built = build(
        mapped(
            "greet",
            "name",
            "greeting",
            "first",
            input_map={
                "name": Ref(("user", "name")),
                "greeting": Literal("Hello"),
                "first": Ref(("items", "0", "id")),
            },
        )
    )
    data = {"user": {"name": "Ada"}, "items": [{"id": 7}], "name": "not this"}
    _, services, _ = run(built, data, {"http://greet/": {}})
    assert services.calls == [
        ("http://greet/", {"name": "Ada", "greeting": "Hello", "first": 7}),
    ]


@pytest.mark.parametrize(
    ("output_map", "running"),
    [
        (None, {"message": "hi", "count": 3}),
        ({}, {"message": "hi"}),
        ({"space_count": ("count",)}, {"message": "hi", "space_count": 3}),
        ({"message": ("count",)}, {"message": 3}),
        ({"city": ("detail", "city")}, {"message": "hi", "city": "Paris"}),
        ({"message": ("nowhere",)}, {}),
        ({"city": ("detail", "zip")}, {"message": "hi"}),
    ],
)
def test_merge_answer_follows_the_output_mapping(output_map, running):
    counter = Service("counter", "http://counter/", outputs=(Field("count", "int"),))
    call = Call(0, "counter", output_map=output_map)
    answer = {"count": 3, "detail": {"city": "Paris"}}
    assert merge_answer(call, counter, {"message": "hi"}, answer) == running


def test_without_an_output_mapping_only_declared_outputs_are_merged():
    counter = Service(
        "counter",
        "http://counter/",
        outputs=(Field("count", "int"), Field("note", "string", required=False)),
    )
    answer = {"count": 3, "message": "overwritten?", "extra": 1}
    merged = merge_answer(Call(0, "counter"), counter, {"message": "hi"}, answer)
    assert merged == {"message": "hi", "count": 3}


def test_merge_answer_leaves_the_running_data_as_it_was():
    running = {"message": "hi"}
    upper = Service("upper", "http://upper/", outputs=(Field("message", "string"),))
    merge_answer(
        Call(0, "upper", output_map={"message": ("message",)}), upper, running, {"message": "HI"}
    )
    merge_answer(Call(0, "upper"), upper, running, {"message": "HI"})
    assert running == {"message": "hi"}


SEED_SERVICES = {
    "upper": service("upper"),
    "reverse": service("reverse"),
    "space-counter": service("space-counter", outputs=[field("message", "int")]),
}
SEED_ANSWERS = {
    SEED_SERVICES["upper"]["address"]: lambda p: {"message": p["message"].upper()},
    SEED_SERVICES["reverse"]["address"]: lambda p: {"message": p["message"][::-1]},
    SEED_SERVICES["space-counter"]["address"]: lambda p: {"message": p["message"].count(" ")},
}
SEED_MODELS = {name: parse_service(definition) for name, definition in SEED_SERVICES.items()}


def seed_call(address: str, payload: dict, options=None) -> tuple[int, dict]:
    return 200, SEED_ANSWERS[address](payload)


def seed_workflow(counter_entry) -> Workflow:
    return parse_workflow(
        {
            "name": "process-text",
            "services": ["upper", "reverse", counter_entry],
            "inputs": [field("message")],
            "outputs": [field("message"), field("space_count", "int")],
        }
    )


def run_seed(counter_entry):
    recorder = Recorder()
    workflow = seed_workflow(counter_entry)
    state = run_to_end(workflow, SEED_MODELS, start({"message": SEED_MESSAGE}), seed_call, recorder)
    return state, recorder


def test_an_output_mapping_keeps_a_later_answer_from_overwriting_the_message():
    state, recorder = run_seed({"service": "space-counter", "output": {"space_count": "message"}})
    assert state.status == states.SUCCEEDED
    assert state.outputs == {"message": "! GNINROM EHT NI ESIR LLIW NUS EHT", "space_count": 7}
    assert recorder.records[2]["outputs"] == {"message": 7}


def test_without_the_output_mapping_the_count_overwrites_the_message():
    state, _ = run_seed("space-counter")
    assert state.status == states.SUCCEEDED
    assert state.outputs == {"message": 7}


def test_operations_run_on_the_inputs_after_a_step_and_at_the_end():
    built = build(
        mapped("upper", "message", outputs=[Field("loud", "string")]),
        mapped("count", "message", "label", outputs=[Field("count", "int")]),
        outputs=("result", "label", "n"),
        operations=[
            {"rename": {"text": "message"}, "after": "inputs"},
            {"set": {"message": "loud", "label": {"const": "shouted"}}, "after": 0},
            {"rename": {"count": "n", "message": "result"}},
        ],
    )
    answers = {"http://upper/": {"loud": "HI"}, "http://count/": {"count": 2}}
    state, services, _ = run(built, {"text": "hi"}, answers)
    assert services.calls == [
        ("http://upper/", {"message": "hi"}),
        ("http://count/", {"message": "HI", "label": "shouted"}),
    ]
    assert state.outputs == {"result": "HI", "label": "shouted", "n": 2}


def test_operations_at_the_end_run_before_the_outputs_are_picked():
    built = build(
        mapped("upper", "message", outputs=[Field("message", "string")]),
        outputs=("message", "copy"),
        operations=[{"set": {"copy": "message"}}, {"remove": ["message"]}],
    )
    state, _, _ = run(built, {"message": "hi"}, {"http://upper/": {"message": "HI"}})
    assert state.outputs == {"copy": "HI"}


def test_a_pick_on_the_inputs_hides_the_other_inputs_from_every_step():
    built = build(
        step("upper", "message", "secret"),
        operations=[{"pick": ["message"], "after": "inputs"}],
    )
    state, services, _ = run(built, {"message": "hi", "secret": "s"}, {"http://upper/": {}})
    assert services.calls == [("http://upper/", {"message": "hi"})]
    assert state.outputs == {"message": "hi"}


def test_operations_after_a_failed_step_do_not_run():
    built = build(mapped("upper", "message"), operations=[{"set": {"done": True}}])
    failure = StepFailed(states.HTTP_STATUS, "answered HTTP 500", 500)
    state, _, _ = run(built, {"message": "hi"}, {"http://upper/": failure})
    assert state.status == states.FAILED
    assert state.outputs is None
    assert state.running == {"message": "hi"}


@pytest.mark.parametrize(
    ("declared", "answer", "violations"),
    [
        ([Field("count", "int")], {"count": 2}, []),
        ([Field("count", "int")], {}, ["output 'count' (int) is missing"]),
        ([Field("count", "int")], {"count": "2"}, ["output 'count' is string, expected int"]),
        ([Field("count", "int")], {"count": 2.0}, ["output 'count' is float, expected int"]),
        ([Field("count", "int")], {"count": True}, ["output 'count' is bool, expected int"]),
        ([Field("count", "int")], {"count": None}, ["output 'count' is null, expected int"]),
        ([Field("ratio", "float")], {"ratio": 2}, []),
        ([Field("ratio", "float")], {"ratio": 0.5}, []),
        ([Field("ratio", "float")], {"ratio": False}, ["output 'ratio' is bool, expected float"]),
        ([Field("on", "bool")], {"on": 1}, ["output 'on' is int, expected bool"]),
        ([Field("tags", "array")], {"tags": {}}, ["output 'tags' is object, expected array"]),
        ([Field("user", "object")], {"user": []}, ["output 'user' is array, expected object"]),
        ([Field("note", "string", required=False)], {}, []),
        (
            [Field("note", "string", required=False)],
            {"note": 1},
            ["output 'note' is int, expected string"],
        ),
        ([Field("count", "int")], {"count": 2, "extra": "x", "more": [1]}, []),
        ([], {"anything": 1}, []),
        (
            [Field("message", "string"), Field("count", "int"), Field("on", "bool")],
            {"count": "many", "on": True},
            ["output 'message' (string) is missing", "output 'count' is string, expected int"],
        ),
    ],
)
def test_contract_violations(declared, answer, violations):
    assert contract_violations(tuple(declared), answer) == violations


def test_an_answer_breaking_the_contract_fails_the_event_and_keeps_the_answer():
    built = build(
        mapped("upper", "text", outputs=[Field("text", "string")]),
        mapped("count", "text", outputs=[Field("count", "int"), Field("unit", "string")]),
        mapped("never", "text"),
    )
    answers = {
        "http://upper/": {"text": "HI"},
        "http://count/": {"count": "two", "other": 1},
        "http://never/": {},
    }
    state, services, recorder = run(built, {"text": "hi"}, answers)
    message = "output 'count' is string, expected int; output 'unit' (string) is missing."
    assert state.status == states.FAILED
    assert state.outputs is None
    assert state.error["step"] == 1
    assert state.error["service"] == "count"
    assert state.error["address"] == "http://count/"
    assert state.error["kind"] == states.CONTRACT_VIOLATION
    assert state.error["status_code"] == 200
    assert state.error["message"] == message
    assert [address for address, _ in services.calls] == ["http://upper/", "http://count/"]
    failed = recorder.records[1]
    assert failed["outputs"] == {"count": "two", "other": 1}
    assert failed["status_code"] == 200
    assert failed["error"] == {"kind": states.CONTRACT_VIOLATION, "message": message}


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({}, "output 'count' (int) is missing."),
        ({"count": "2"}, "output 'count' is string, expected int."),
        ({"count": True}, "output 'count' is bool, expected int."),
    ],
)
def test_a_contract_violation_names_the_field_and_the_types(answer, message):
    built = build(mapped("count", outputs=[Field("count", "int")]))
    state, _, _ = run(built, {}, {"http://count/": answer})
    assert state.error["kind"] == states.CONTRACT_VIOLATION
    assert state.error["message"] == message


@pytest.mark.parametrize(
    "answer",
    [
        {"count": 2},
        {"count": 2, "extra": "fine"},
        {"count": 2, "note": "optional, present"},
    ],
)
def test_an_answer_keeping_to_the_contract_succeeds(answer):
    outputs = [Field("count", "int"), Field("note", "string", required=False)]
    state, _, recorder = run(build(mapped("count", outputs=outputs)), {}, {"http://count/": answer})
    assert state.status == states.SUCCEEDED
    assert state.outputs == {k: v for k, v in answer.items() if k != "extra"}
    assert recorder.records[0]["outputs"] == answer


def test_an_int_answer_for_a_float_output_is_kept_as_it_is():
    built = build(mapped("scale", outputs=[Field("ratio", "float")]))
    state, _, _ = run(built, {}, {"http://scale/": {"ratio": 2}})
    assert state.status == states.SUCCEEDED
    assert state.outputs == {"ratio": 2}


def test_the_contract_is_checked_on_the_answer_not_on_what_the_mapping_keeps():
    built = build(
        mapped(
            "count",
            outputs=[Field("count", "int"), Field("unit", "string")],
            output_map={"n": ("count",)},
        )
    )
    state, _, _ = run(built, {}, {"http://count/": {"count": 2}})
    assert state.status == states.FAILED
    assert state.error["message"] == "output 'unit' (string) is missing."


def test_a_step_record_carries_the_service_version_when_it_is_known():
    built = build(step("upper", version=4), step("count"))
    _, _, recorder = run(built, {}, {"http://upper/": {}, "http://count/": {}})
    assert recorder.records[0]["service_version"] == 4
    assert "service_version" not in recorder.records[1]


def test_a_path_with_a_superscript_digit_is_missing_not_a_crash():
    built = build(mapped("upper", "message", input_map={"message": Ref(("items", "²"))}))
    state, services, _ = run(built, {"items": ["a", "b", "c"]}, {"http://upper/": {}})
    assert services.calls == []
    assert state.error["kind"] == states.MISSING_INPUT


# retries, attempts and what each call says about itself


class Sequence:
    """A caller answering, attempt after attempt, from a list of answers and failures."""

    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.options = []

    def __call__(self, address, payload, options=None):
        self.options.append(options)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, StepFailed):
            raise outcome
        return 200, outcome


def flaky(policy: RetryPolicy, idempotent=False, **call) -> tuple[Workflow, dict]:
    """A workflow of one step calling a service `flaky` with the given retry policy."""
    flaky_service = Service("flaky", "http://flaky/", retry=policy, idempotent=idempotent)
    return Workflow("w", steps=(Call(0, "flaky", **call),)), {"flaky": flaky_service}


def run_flaky(built, caller, **options):
    recorder = Recorder()
    workflow, services = built
    options.setdefault("sleep", lambda seconds: None)
    return run_to_end(workflow, services, start({}), caller, recorder, **options), recorder


def test_a_retried_step_records_every_attempt():
    policy = RetryPolicy(max_attempts=3, interval=0.25, jitter=False)
    call = Sequence(StepFailed(states.HTTP_STATUS, "HTTP 503", 503), {"ok": True})
    sleeps = []
    state, recorder = run_flaky(
        flaky(policy, idempotent=True),
        call,
        event_id="6b09f0bee692bd4fe2a2bd1f",
        sleep=sleeps.append,
    )
    assert state.status == states.SUCCEEDED
    assert sleeps == [0.25]
    attempts = recorder.records[0]["attempts"]
    assert [(a["attempt"], a["outcome"], a["status_code"]) for a in attempts] == [
        (1, "failed", 503),
        (2, "succeeded", 200),
    ]
    assert attempts[0]["error_kind"] == states.HTTP_STATUS
    assert [attempt for _, attempt in recorder.attempts] == attempts


def test_a_step_that_keeps_failing_says_after_how_many_attempts():
    policy = RetryPolicy(max_attempts=2, interval=0)
    failures = [StepFailed(states.TIMEOUT, "slow") for _ in range(2)]
    state, _ = run_flaky(flaky(policy, idempotent=True), Sequence(*failures))
    assert state.error["attempts"] == 2
    assert state.error["message"] == "slow (after 2 attempts)"


def test_a_non_idempotent_step_is_not_resent_after_a_timeout():
    policy = RetryPolicy(max_attempts=3, interval=0)
    call = Sequence(StepFailed(states.TIMEOUT, "slow"), {"ok": True})
    state, _ = run_flaky(flaky(policy), call)
    assert state.status == states.FAILED
    assert len(call.options) == 1


def test_a_step_may_allow_resending_to_a_non_idempotent_service():
    policy = RetryPolicy(max_attempts=3, interval=0)
    call = Sequence(StepFailed(states.TIMEOUT, "slow"), {"ok": True})
    state, _ = run_flaky(flaky(policy, retry_non_idempotent=True), call)
    assert state.status == states.SUCCEEDED
    assert len(call.options) == 2


def test_a_step_retry_policy_replaces_the_service_one():
    call = Sequence(*[StepFailed(states.HTTP_STATUS, "HTTP 503", 503)] * 4)
    step_policy = RetryPolicy(max_attempts=4, interval=0)
    state, _ = run_flaky(flaky(RetryPolicy(max_attempts=2), True, retry=step_policy), call)
    assert state.error["attempts"] == 4


def test_each_call_carries_the_event_the_step_a_stable_key_and_a_traceparent():
    policy = RetryPolicy(max_attempts=2, interval=0)
    call = Sequence(StepFailed(states.HTTP_STATUS, "HTTP 503", 503), {"ok": True})
    built = flaky(policy, idempotent=True, timeout=(1.0, 2.5))
    run_flaky(built, call, event_id="6b09f0bee692bd4fe2a2bd1f")
    first, second = (options.headers for options in call.options)
    assert first["Idempotency-Key"] == second["Idempotency-Key"] == "6b09f0bee692bd4fe2a2bd1f-0"
    assert first["X-Machinery-Event-Id"] == "6b09f0bee692bd4fe2a2bd1f"
    assert first["X-Machinery-Step"] == "0"
    version, trace, span, flags = first["traceparent"].split("-")
    assert (version, flags) == ("00", "01")
    assert trace == "6b09f0bee692bd4fe2a2bd1f00000000"
    assert len(span) == 16 and span != second["traceparent"].split("-")[2]
    assert call.options[0].timeout == (1.0, 2.5)


# advance: one call at a time, over a state the store saves


def two_calls_with_operations():
    """inputs: set; a; rename; b; set at the end. Steps: op, call, op, call, op."""
    return build(
        mapped("a", "text", outputs=[Field("loud", "string")]),
        mapped("b", "shout", outputs=[Field("count", "int")]),
        operations=[
            {"set": {"text": "message"}, "after": "inputs"},
            {"rename": {"loud": "shout"}, "after": 0},
            {"set": {"done": True}},
        ],
    )


ANSWERS = {"http://a/": {"loud": "HI"}, "http://b/": {"count": 2}}


def test_advance_runs_one_call_with_the_operations_before_and_after_it():
    workflow, models = two_calls_with_operations()
    log: list = []
    services, recorder = FakeServices(ANSWERS, log), Recorder(log)
    first = advance(workflow, models, start({"message": "hi"}), services, recorder)
    assert services.calls == [("http://a/", {"text": "hi"})]
    assert first == RunState(
        states.RUNNING, cursor=3, running={"message": "hi", "text": "hi", "shout": "HI"}
    )
    assert workflow.steps[first.cursor] == workflow.calls[1]
    assert recorder.states == [first] and recorder.ended == []

    second = advance(workflow, models, first, services, recorder)
    assert services.calls[1:] == [("http://b/", {"shout": "HI"})]
    running = {"message": "hi", "text": "hi", "shout": "HI", "count": 2, "done": True}
    assert second == RunState(states.SUCCEEDED, 5, running, outputs=running)
    assert recorder.states == [first, second] and recorder.ended == [second]
    assert log == [
        ("call", "http://a/"),
        ("attempt", 0, 1),
        ("step", 0),
        ("call", "http://b/"),
        ("attempt", 1, 1),
        ("step", 1),
        ("end", states.SUCCEEDED),
    ]


def test_advance_leaves_the_state_it_is_given_as_it_was():
    workflow, models = two_calls_with_operations()
    before = start({"message": "hi"})
    advance(workflow, models, before, FakeServices(ANSWERS), Recorder())
    assert before == RunState(states.RUNNING, 0, {"message": "hi"})


@pytest.mark.parametrize(
    "finished",
    [
        RunState(states.SUCCEEDED, 5, {"a": 1}, outputs={"a": 1}),
        RunState(states.FAILED, 1, {"a": 1}, error={"step": 0}),
        RunState(states.CANCELLED, 1, {"a": 1}),
    ],
)
def test_advance_on_a_finished_state_does_nothing(finished):
    workflow, models = two_calls_with_operations()
    services, recorder = FakeServices(ANSWERS), Recorder()
    assert advance(workflow, models, finished, services, recorder) is finished
    assert services.calls == [] and recorder.log == []


def test_a_saved_state_resumes_at_its_cursor_without_calling_earlier_steps():
    workflow, models = two_calls_with_operations()
    first = advance(workflow, models, start({"message": "hi"}), FakeServices(ANSWERS), Recorder())
    saved = {"cursor": first.cursor, "running": first.running}  # what the store keeps

    services, recorder = FakeServices(ANSWERS), Recorder()
    resumed = RunState(states.RUNNING, saved["cursor"], saved["running"])
    state = run_to_end(workflow, models, resumed, services, recorder)
    assert services.calls == [("http://b/", {"shout": "HI"})]
    assert [record["index"] for record in recorder.records] == [1]
    assert state.status == states.SUCCEEDED
    assert state.outputs == {"message": "hi", "text": "hi", "shout": "HI", "count": 2, "done": True}


def test_a_state_at_the_end_of_the_steps_succeeds_without_a_call():
    workflow, models = build(step("a"), outputs=("n",))
    services, recorder = FakeServices({}), Recorder()
    state = advance(workflow, models, RunState(states.RUNNING, 1, {"n": "1"}), services, recorder)
    assert state == RunState(states.SUCCEEDED, 1, {"n": "1"}, outputs={"n": "1"})
    assert services.calls == [] and recorder.records == [] and recorder.ended == [state]


# may_have_been_sent: the process that ran the step died; was the request sent?

INTERRUPTED = (
    "the event was cut off while this step may have been calling the service, which is not "
    "idempotent: it is not called again (redrive the event to do so)"
)


def cut_off(idempotent=False, **call):
    """A workflow of step a then b, resumed at b after its process died."""
    a = step("a")
    b = Step(Service("b", "http://b/", outputs=(Field("n", "int"),), idempotent=idempotent), call)
    workflow, models = build(a, b)
    return workflow, models, RunState(states.RUNNING, 1, {"x": 1})


def test_a_step_that_may_have_reached_a_non_idempotent_service_fails_as_interrupted():
    workflow, models, state = cut_off()
    services, recorder = FakeServices({"http://b/": {"n": 1}}), Recorder()
    ended = advance(workflow, models, state, services, recorder, may_have_been_sent=True)
    assert services.calls == []
    assert ended.status == states.FAILED
    assert ended.error == {
        "step": 1,
        "service": "b",
        "address": "http://b/",
        "kind": states.INTERRUPTED,
        "status_code": None,
        "attempts": 0,
        "message": INTERRUPTED,
    }
    (record,) = recorder.records
    assert record["error"] == {"kind": states.INTERRUPTED, "message": INTERRUPTED}
    assert (record["index"], record["attempts"], record["outputs"]) == (1, [], None)
    assert recorder.attempts == []
    assert recorder.states == [ended] and recorder.ended == [ended]


@pytest.mark.parametrize(
    ("idempotent", "call"), [(True, {}), (False, {"retry_non_idempotent": True})]
)
def test_a_step_that_may_have_been_sent_is_called_again_where_that_is_safe(idempotent, call):
    workflow, models, state = cut_off(idempotent, **call)
    services = FakeServices({"http://b/": {"n": 1}})
    ended = advance(workflow, models, state, services, Recorder(), may_have_been_sent=True)
    assert services.calls == [("http://b/", {})]
    assert ended.status == states.SUCCEEDED
    assert ended.outputs == {"x": 1, "n": 1}


def test_only_the_step_at_the_cursor_may_have_been_sent():
    workflow, models = build(
        Step(Service("a", "http://a/", idempotent=True), {}),
        Step(Service("b", "http://b/"), {}),
    )
    services = FakeServices({"http://a/": {}, "http://b/": {}})
    state = run_to_end(workflow, models, start({}), services, Recorder(), may_have_been_sent=True)
    assert state.status == states.SUCCEEDED
    assert [address for address, _ in services.calls] == ["http://a/", "http://b/"]


# recorded: the step's record was kept, the state after it was not


def kept_record(outputs=None, error=None):
    return {
        "index": 1,
        "service": "b",
        "address": "http://b/",
        "started_at": datetime(2026, 1, 1),
        "duration_ms": 3.0,
        "status_code": 200 if error is None else 503,
        "outputs": outputs,
        "error": error,
        "attempts": [{"attempt": 1, "outcome": "succeeded", "status_code": 200}],
    }


def test_a_recorded_step_is_used_instead_of_calling_its_service():
    a = step("a")
    b = mapped("b", outputs=[Field("n", "int")])
    c = mapped("c", "label", outputs=[Field("m", "int")])
    workflow, models = build(a, b, c, operations=[{"set": {"label": {"const": "x"}}, "after": 1}])
    services, recorder = FakeServices({"http://c/": {"m": 2}}), Recorder()
    record = kept_record(outputs={"n": 1, "undeclared": True})
    state = run_to_end(
        workflow,
        models,
        RunState(states.RUNNING, 1, {"x": 1}),
        services,
        recorder,
        may_have_been_sent=True,
        recorded=record,
    )
    assert services.calls == [("http://c/", {"label": "x"})]
    assert state.status == states.SUCCEEDED
    assert state.outputs == {"x": 1, "n": 1, "label": "x", "m": 2}
    assert recorder.records[0] == record
    assert recorder.states[0] == RunState(states.RUNNING, 3, {"x": 1, "n": 1, "label": "x"})


def test_a_recorded_failure_is_not_used_the_step_runs_again():
    workflow, models, state = cut_off(idempotent=True)
    services, recorder = FakeServices({"http://b/": {"n": 5}}), Recorder()
    failed = kept_record(error={"kind": states.HTTP_STATUS, "message": "HTTP 503"})
    ended = advance(workflow, models, state, services, recorder, recorded=failed)
    assert services.calls == [("http://b/", {})]
    assert ended.outputs == {"x": 1, "n": 5}
    assert recorder.records[0]["outputs"] == {"n": 5}


# listeners


def test_listeners_hear_every_attempt_each_step_end_and_the_event_end_in_order():
    retrying = Service(
        "a", "http://a/", retry=RetryPolicy(max_attempts=2, interval=0), idempotent=True
    )
    workflow, models = build(Step(retrying, {}), step("b"))
    call = Sequence(StepFailed(states.HTTP_STATUS, "HTTP 503", 503), {}, {})
    recorder = Recorder()
    state = run_to_end(workflow, models, start({}), call, recorder, sleep=lambda s: None)
    assert recorder.log == [
        ("attempt", 0, 1),
        ("attempt", 0, 2),
        ("step", 0),
        ("attempt", 1, 1),
        ("step", 1),
        ("end", states.SUCCEEDED),
    ]
    assert [s.cursor for s in recorder.states] == [1, 2]
    assert recorder.states[-1] is state and recorder.ended == [state]


def test_listeners_are_told_in_order():
    log: list = []
    first, second = Recorder(log), Recorder(log)
    services = FakeServices({"http://a/": {}})
    workflow, models = build(step("a"))
    run_to_end(workflow, models, start({}), services, Listeners([first, second]))
    assert log == [
        ("attempt", 0, 1),
        ("attempt", 0, 1),
        ("step", 0),
        ("step", 0),
        ("end", states.SUCCEEDED),
        ("end", states.SUCCEEDED),
    ]
    assert first.records == second.records and first.ended == second.ended


class LeaseLost(Exception):
    pass


class Losing(Recorder):
    """A listener that raises at the named moment (as when an event's lease is lost)."""

    def __init__(self, log, moment: str):
        super().__init__(log)
        self.moment = moment

    def on_attempt(self, call, attempt):
        super().on_attempt(call, attempt)
        if self.moment == "attempt":
            raise LeaseLost()

    def on_step_end(self, record, state):
        super().on_step_end(record, state)
        if self.moment == "step":
            raise LeaseLost()

    def on_event_end(self, state):
        super().on_event_end(state)
        if self.moment == "end":
            raise LeaseLost()


@pytest.mark.parametrize(
    ("moment", "heard", "heard_after"),
    [
        # a failed attempt that the policy would retry: no second attempt
        ("attempt", [("call", "http://a/"), ("attempt", 0, 1)], []),
        # a step ended: the next step is not called, the event does not end
        ("step", [("call", "http://a/"), ("attempt", 0, 1), ("step", 0)], [("attempt", 0, 1)]),
    ],
)
def test_a_listener_that_raises_stops_the_run(moment, heard, heard_after):
    retrying = Service(
        "a", "http://a/", retry=RetryPolicy(max_attempts=3, interval=0), idempotent=True
    )
    workflow, models = build(Step(retrying, {}), step("b"))
    log: list = []
    first = StepFailed(states.HTTP_STATUS, "HTTP 503", 503) if moment == "attempt" else {}
    services = FakeServices({"http://a/": first, "http://b/": {}}, log)
    after = Recorder()  # the next listener, told after the one that raises
    with pytest.raises(LeaseLost):
        run_to_end(
            workflow,
            models,
            start({}),
            services,
            Listeners([Losing(log, moment), after]),
            sleep=lambda s: None,
        )
    assert log == heard
    assert after.log == heard_after


def test_a_listener_that_raises_at_the_event_end_is_heard_by_the_caller():
    workflow, models = build(step("a"))
    log: list = []
    with pytest.raises(LeaseLost):
        run_to_end(workflow, models, start({}), FakeServices({"http://a/": {}}), Losing(log, "end"))
    assert log == [("attempt", 0, 1), ("step", 0), ("end", states.SUCCEEDED)]
