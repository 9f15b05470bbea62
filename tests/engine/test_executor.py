"""Tests of run_event: the order of calls, the running data, the records and the failures."""

from datetime import datetime

import pytest
from factories import SEED_MESSAGE, field, service

from machinery import states
from machinery.engine.executor import (
    Plan,
    Step,
    StepFailed,
    contract_violations,
    merge_answer,
    run_event,
    step_payload,
)
from machinery.engine.plan import Field, Literal, Ref, build_plan, parse_operations
from machinery.engine.retries import RetryPolicy


class FakeServices:
    """A call(address, payload) answering from address -> answer dict or StepFailed to raise."""

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


class Recorder:
    """A record_step that keeps each step it is given and notes it in a shared log."""

    def __init__(self, log: list):
        self.steps: list[dict] = []
        self.log = log

    def __call__(self, step: dict) -> None:
        self.steps.append(dict(step))
        self.log.append(("record", step["index"]))


def step(name: str, *inputs: str, outputs: tuple[str, ...] = ()) -> Step:
    """A step calling service `name` at http://<name>/, taking optional string inputs and
    declaring the string or any-typed outputs named (only declared outputs are merged)."""
    return Step(
        service=name,
        address=f"http://{name}/",
        inputs=inputs,
        optional_inputs=frozenset(inputs),
        outputs=tuple(Field(output, "string", required=False) for output in outputs),
    )


def run(plan: Plan, data: dict, answers: dict):
    """Run the plan against fake services; return the outcome, the services and the recorder."""
    log: list = []
    services = FakeServices(answers, log)
    recorder = Recorder(log)
    outcome = run_event(plan, data, services, recorder)
    return outcome, services, recorder


def test_each_step_receives_only_the_declared_inputs_that_exist():
    plan = Plan(steps=(step("upper", "text", "missing"), step("count", "count_of")))
    data = {"text": "hi", "count_of": "i", "unrelated": 1}
    _, services, _ = run(plan, data, {"http://upper/": {}, "http://count/": {}})
    assert services.calls == [
        ("http://upper/", {"text": "hi"}),
        ("http://count/", {"count_of": "i"}),
    ]


def test_a_step_with_no_inputs_receives_an_empty_payload():
    _, services, _ = run(Plan(steps=(step("clock"),)), {"text": "hi"}, {"http://clock/": {}})
    assert services.calls == [("http://clock/", {})]


def test_a_later_step_sees_an_earlier_step_output():
    plan = Plan(
        steps=(
            step("upper", "text", outputs=("upper_text",)),
            step("reverse", "upper_text", outputs=("reversed",)),
        )
    )
    answers = {"http://upper/": {"upper_text": "HI"}, "http://reverse/": {"reversed": "IH"}}
    outcome, services, _ = run(plan, {"text": "hi"}, answers)
    assert services.calls[1] == ("http://reverse/", {"upper_text": "HI"})
    assert outcome.outputs == {"text": "hi", "upper_text": "HI", "reversed": "IH"}


def test_an_output_overwrites_an_earlier_value_of_the_same_name():
    plan = Plan(
        steps=(
            step("upper", "text", outputs=("text",)),
            step("reverse", "text", outputs=("text",)),
            step("echo", "text"),
        )
    )
    answers = {
        "http://upper/": {"text": "HI"},
        "http://reverse/": {"text": "IH"},
        "http://echo/": {},
    }
    outcome, services, _ = run(plan, {"text": "hi"}, answers)
    assert [payload for _, payload in services.calls] == [
        {"text": "hi"},
        {"text": "HI"},
        {"text": "IH"},
    ]
    assert outcome.outputs == {"text": "IH"}


def test_run_event_leaves_the_event_data_untouched():
    data = {"text": "hi"}
    run(Plan(steps=(step("upper", "text"),)), data, {"http://upper/": {"text": "HI"}})
    assert data == {"text": "hi"}


def test_outputs_are_picked_by_the_plan():
    count = Step("count", "http://count/", inputs=("text",), outputs=(Field("count", "int"),))
    plan = Plan(steps=(step("upper", "text", outputs=("text",)), count), outputs=("count", "text"))
    answers = {"http://upper/": {"text": "HI", "shout": True}, "http://count/": {"count": 2}}
    outcome, _, _ = run(plan, {"text": "hi", "lang": "en"}, answers)
    assert outcome.status == states.SUCCEEDED
    assert outcome.outputs == {"count": 2, "text": "HI"}
    assert outcome.error is None


def test_outputs_are_all_the_running_data_when_the_plan_names_none():
    plan = Plan(steps=(step("upper", "text", outputs=("loud",)),))
    answers = {"http://upper/": {"loud": "HI", "undeclared": 1}}
    outcome, _, _ = run(plan, {"text": "hi", "lang": "en"}, answers)
    assert outcome.outputs == {"text": "hi", "lang": "en", "loud": "HI"}


def test_an_output_named_but_not_produced_is_absent():
    plan = Plan(steps=(step("upper", "text", outputs=("loud",)),), outputs=("loud", "never"))
    outcome, _, _ = run(plan, {"text": "hi"}, {"http://upper/": {"loud": "HI"}})
    assert outcome.status == states.SUCCEEDED
    assert outcome.outputs == {"loud": "HI"}


def test_a_plan_without_steps_answers_the_event_data():
    outcome, services, recorder = run(Plan(steps=()), {"text": "hi"}, {})
    assert outcome.status == states.SUCCEEDED
    assert outcome.outputs == {"text": "hi"}
    assert outcome.steps == [] and services.calls == [] and recorder.steps == []


def test_each_step_is_recorded_once_in_order_before_the_next_call():
    plan = Plan(steps=(step("a"), step("b"), step("c")))
    answers = {"http://a/": {"x": 1}, "http://b/": {"y": 2}, "http://c/": {"z": 3}}
    outcome, services, recorder = run(plan, {}, answers)
    assert services.log == [
        ("call", "http://a/"),
        ("record", 0),
        ("call", "http://b/"),
        ("record", 1),
        ("call", "http://c/"),
        ("record", 2),
    ]
    assert recorder.steps == outcome.steps


def test_a_step_record_describes_the_call():
    plan = Plan(steps=(step("upper", "text"), step("count", "text")))
    answers = {"http://upper/": {"text": "HI"}, "http://count/": {"count": 2}}
    outcome, _, recorder = run(plan, {"text": "hi"}, answers)
    assert len(recorder.steps) == 2
    for index, (record, name, answer) in enumerate(
        zip(recorder.steps, ["upper", "count"], [{"text": "HI"}, {"count": 2}], strict=True)
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
    plan = Plan(steps=(step("a"), step("b")))
    failure = StepFailed(states.TIMEOUT, "timed out")
    outcome, _, _ = run(plan, {}, {"http://a/": {}, "http://b/": failure})
    assert len(outcome.steps) == 2
    for record in outcome.steps:
        assert isinstance(record["duration_ms"], float)
        assert record["duration_ms"] >= 0
        assert isinstance(record["started_at"], datetime)
        assert record["started_at"].tzinfo is not None
        assert record["started_at"].utcoffset() is not None
    assert outcome.steps[0]["started_at"] <= outcome.steps[1]["started_at"]


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
    plan = Plan(steps=(step("a", "text"), step("b", "text"), step("c", "text")), outputs=("x",))
    answers = {"http://a/": {"x": 1}, "http://b/": failure, "http://c/": {"z": 3}}
    outcome, services, recorder = run(plan, {"text": "hi"}, answers)

    assert outcome.status == states.FAILED
    assert [address for address, _ in services.calls] == ["http://a/", "http://b/"]
    assert outcome.error == {
        "step": 1,
        "service": "b",
        "address": "http://b/",
        "kind": failure.kind,
        "status_code": status_code,
        "attempts": 1,
        "message": failure.message,
    }
    assert outcome.outputs == {}
    assert len(outcome.steps) == 2
    assert recorder.steps == outcome.steps
    assert services.log == [
        ("call", "http://a/"),
        ("record", 0),
        ("call", "http://b/"),
        ("record", 1),
    ]
    succeeded, failed = outcome.steps
    assert succeeded["outputs"] == {"x": 1} and succeeded["error"] is None
    assert failed["index"] == 1
    assert failed["service"] == "b"
    assert failed["outputs"] is None
    assert failed["status_code"] == status_code
    assert failed["error"] == {"kind": failure.kind, "message": failure.message}


@pytest.mark.parametrize("failing", [0, 1, 2])
def test_a_failure_at_step_i_leaves_i_plus_one_records(failing):
    names = ["a", "b", "c"]
    plan = Plan(steps=tuple(step(name) for name in names))
    answers = {f"http://{name}/": {} for name in names}
    answers[f"http://{names[failing]}/"] = StepFailed(states.HTTP_STATUS, "answered HTTP 503", 503)
    outcome, services, recorder = run(plan, {}, answers)
    assert outcome.status == states.FAILED
    assert outcome.error["step"] == failing
    assert outcome.error["service"] == names[failing]
    assert len(services.calls) == failing + 1
    assert len(outcome.steps) == failing + 1
    assert [record["index"] for record in recorder.steps] == list(range(failing + 1))
    assert outcome.steps[-1]["error"] is not None and outcome.steps[-1]["outputs"] is None
    assert all(record["error"] is None for record in outcome.steps[:-1])


def test_step_failed_keeps_its_kind_message_and_status_code():
    failure = StepFailed(states.HTTP_STATUS, "answered HTTP 404: nope", 404)
    assert (failure.kind, failure.message, failure.status_code, str(failure)) == (
        states.HTTP_STATUS,
        "answered HTTP 404: nope",
        404,
        "answered HTTP 404: nope",
    )
    assert StepFailed(states.TIMEOUT, "slow").status_code is None


# Step mappings, operations and contract checks.


def mapped(name: str, *inputs: str, outputs=(), **mappings) -> Step:
    """A step like step(), with declared outputs and input_map / output_map given by keyword."""
    return Step(
        service=name,
        address=f"http://{name}/",
        inputs=inputs,
        outputs=tuple(outputs),
        **mappings,
    )


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
    step_ = mapped(
        "counter", "text", "limit", input_map=input_map, optional_inputs={"text", "limit"}
    )
    assert step_payload(step_, running) == payload


def test_a_step_receives_a_literal_and_a_nested_path_through_run_event():
    plan = Plan(
        steps=(
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
            ),
        )
    )
    data = {"user": {"name": "Ada"}, "items": [{"id": 7}], "name": "not this"}
    _, services, _ = run(plan, data, {"http://greet/": {}})
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
    step_ = mapped("counter", output_map=output_map, outputs=[Field("count", "int")])
    answer = {"count": 3, "detail": {"city": "Paris"}}
    assert merge_answer(step_, {"message": "hi"}, answer) == running


def test_merge_answer_leaves_the_running_data_as_it_was():
    running = {"message": "hi"}
    merge_answer(mapped("upper", output_map={"message": ("message",)}), running, {"message": "HI"})
    merge_answer(mapped("upper"), running, {"message": "HI"})
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


def seed_call(address: str, payload: dict, options=None) -> tuple[int, dict]:
    return 200, SEED_ANSWERS[address](payload)


def seed_workflow(counter_entry) -> dict:
    return {
        "name": "process-text",
        "services": ["upper", "reverse", counter_entry],
        "inputs": [field("message")],
        "outputs": [field("message"), field("space_count", "int")],
    }


def test_an_output_mapping_keeps_a_later_answer_from_overwriting_the_message():
    counter = {"service": "space-counter", "output": {"space_count": "message"}}
    plan = build_plan(seed_workflow(counter), SEED_SERVICES)
    outcome = run_event(plan, {"message": SEED_MESSAGE}, seed_call, lambda record: None)
    assert outcome.status == states.SUCCEEDED
    assert outcome.outputs == {"message": "! GNINROM EHT NI ESIR LLIW NUS EHT", "space_count": 7}
    assert outcome.steps[2]["outputs"] == {"message": 7}


def test_without_the_output_mapping_the_count_overwrites_the_message():
    plan = build_plan(seed_workflow("space-counter"), SEED_SERVICES)
    outcome = run_event(plan, {"message": SEED_MESSAGE}, seed_call, lambda record: None)
    assert outcome.status == states.SUCCEEDED
    assert outcome.outputs == {"message": 7}


def test_operations_run_on_the_inputs_after_a_step_and_at_the_end():
    plan = Plan(
        steps=(
            mapped("upper", "message", outputs=[Field("loud", "string")]),
            mapped("count", "message", "label", outputs=[Field("count", "int")]),
        ),
        outputs=("result", "label", "n"),
        operations=parse_operations(
            [
                {"rename": {"text": "message"}, "after": "inputs"},
                {"set": {"message": "loud", "label": {"const": "shouted"}}, "after": 0},
                {"rename": {"count": "n", "message": "result"}},
            ],
            steps=2,
        ),
    )
    answers = {"http://upper/": {"loud": "HI"}, "http://count/": {"count": 2}}
    outcome, services, _ = run(plan, {"text": "hi"}, answers)
    assert services.calls == [
        ("http://upper/", {"message": "hi"}),
        ("http://count/", {"message": "HI", "label": "shouted"}),
    ]
    assert outcome.outputs == {"result": "HI", "label": "shouted", "n": 2}


def test_operations_at_the_end_run_before_the_outputs_are_picked():
    plan = Plan(
        steps=(mapped("upper", "message", outputs=[Field("message", "string")]),),
        outputs=("message", "copy"),
        operations=parse_operations([{"set": {"copy": "message"}}, {"remove": ["message"]}], 1),
    )
    outcome, _, _ = run(plan, {"message": "hi"}, {"http://upper/": {"message": "HI"}})
    assert outcome.outputs == {"copy": "HI"}


def test_a_pick_on_the_inputs_hides_the_other_inputs_from_every_step():
    plan = Plan(
        steps=(mapped("upper", "message", "secret", optional_inputs={"secret"}),),
        operations=parse_operations([{"pick": ["message"], "after": "inputs"}], 1),
    )
    outcome, services, _ = run(plan, {"message": "hi", "secret": "s"}, {"http://upper/": {}})
    assert services.calls == [("http://upper/", {"message": "hi"})]
    assert outcome.outputs == {"message": "hi"}


def test_operations_after_a_failed_step_do_not_run():
    plan = Plan(
        steps=(mapped("upper", "message"),),
        operations=parse_operations([{"set": {"done": True}}], 1),
    )
    failure = StepFailed(states.HTTP_STATUS, "answered HTTP 500", 500)
    outcome, _, _ = run(plan, {"message": "hi"}, {"http://upper/": failure})
    assert outcome.status == states.FAILED
    assert outcome.outputs == {}


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
    plan = Plan(
        steps=(
            mapped("upper", "text", outputs=[Field("text", "string")]),
            mapped("count", "text", outputs=[Field("count", "int"), Field("unit", "string")]),
            mapped("never", "text"),
        ),
    )
    answers = {
        "http://upper/": {"text": "HI"},
        "http://count/": {"count": "two", "other": 1},
        "http://never/": {},
    }
    outcome, services, recorder = run(plan, {"text": "hi"}, answers)
    message = "output 'count' is string, expected int; output 'unit' (string) is missing."
    assert outcome.status == states.FAILED
    assert outcome.outputs == {}
    assert outcome.error["step"] == 1
    assert outcome.error["service"] == "count"
    assert outcome.error["address"] == "http://count/"
    assert outcome.error["kind"] == states.CONTRACT_VIOLATION
    assert outcome.error["status_code"] == 200
    assert outcome.error["message"] == message
    assert [address for address, _ in services.calls] == ["http://upper/", "http://count/"]
    failed = recorder.steps[1]
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
    plan = Plan(steps=(mapped("count", outputs=[Field("count", "int")]),))
    outcome, _, _ = run(plan, {}, {"http://count/": answer})
    assert outcome.error["kind"] == states.CONTRACT_VIOLATION
    assert outcome.error["message"] == message


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
    plan = Plan(steps=(mapped("count", outputs=outputs),))
    outcome, _, _ = run(plan, {}, {"http://count/": answer})
    assert outcome.status == states.SUCCEEDED
    assert outcome.outputs == {k: v for k, v in answer.items() if k != "extra"}
    assert outcome.steps[0]["outputs"] == answer


def test_an_int_answer_for_a_float_output_is_kept_as_it_is():
    plan = Plan(steps=(mapped("scale", outputs=[Field("ratio", "float")]),))
    outcome, _, _ = run(plan, {}, {"http://scale/": {"ratio": 2}})
    assert outcome.status == states.SUCCEEDED
    assert outcome.outputs == {"ratio": 2}


def test_the_contract_is_checked_on_the_answer_not_on_what_the_mapping_keeps():
    plan = Plan(
        steps=(
            mapped(
                "count",
                outputs=[Field("count", "int"), Field("unit", "string")],
                output_map={"n": ("count",)},
            ),
        )
    )
    outcome, _, _ = run(plan, {}, {"http://count/": {"count": 2}})
    assert outcome.status == states.FAILED
    assert outcome.error["message"] == "output 'unit' (string) is missing."


def test_a_step_record_carries_the_service_version_when_the_plan_knows_it():
    plan = Plan(
        steps=(
            Step(service="upper", address="http://upper/", inputs=(), version=4),
            step("count"),
        )
    )
    outcome, _, _ = run(plan, {}, {"http://upper/": {}, "http://count/": {}})
    assert outcome.steps[0]["service_version"] == 4
    assert "service_version" not in outcome.steps[1]


def test_a_path_with_a_superscript_digit_is_missing_not_a_crash():
    plan = Plan(steps=(mapped("upper", "message", input_map={"message": Ref(("items", "²"))}),))
    outcome, services, _ = run(plan, {"items": ["a", "b", "c"]}, {"http://upper/": {}})
    assert services.calls == []
    assert outcome.error["kind"] == states.MISSING_INPUT


# retries, attempts and what each call says about itself


class Sequence:
    """A call answering, attempt after attempt, from a list of answers and failures."""

    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.options = []

    def __call__(self, address, payload, options=None):
        self.options.append(options)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, StepFailed):
            raise outcome
        return 200, outcome


def retrying_step(**options) -> Step:
    return Step(service="flaky", address="http://flaky/", inputs=(), **options)


def test_a_retried_step_records_every_attempt():
    policy = RetryPolicy(max_attempts=3, interval=0.25, jitter=False)
    call = Sequence(StepFailed(states.HTTP_STATUS, "HTTP 503", 503), {"ok": True})
    sleeps = []
    outcome = run_event(
        Plan(steps=(retrying_step(retry=policy, repeatable=True),)),
        {},
        call,
        lambda step: None,
        event_id="6b09f0bee692bd4fe2a2bd1f",
        sleep=sleeps.append,
    )
    assert outcome.status == states.SUCCEEDED
    assert sleeps == [0.25]
    attempts = outcome.steps[0]["attempts"]
    assert [(a["attempt"], a["outcome"], a["status_code"]) for a in attempts] == [
        (1, "failed", 503),
        (2, "succeeded", 200),
    ]
    assert attempts[0]["error_kind"] == states.HTTP_STATUS


def test_a_step_that_keeps_failing_says_after_how_many_attempts():
    policy = RetryPolicy(max_attempts=2, interval=0)
    failures = [StepFailed(states.TIMEOUT, "slow") for _ in range(2)]
    outcome = run_event(
        Plan(steps=(retrying_step(retry=policy, repeatable=True),)),
        {},
        Sequence(*failures),
        lambda step: None,
        sleep=lambda s: None,
    )
    assert outcome.error["attempts"] == 2
    assert outcome.error["message"] == "slow (after 2 attempts)"


def test_a_non_idempotent_step_is_not_resent_after_a_timeout():
    policy = RetryPolicy(max_attempts=3, interval=0)
    call = Sequence(StepFailed(states.TIMEOUT, "slow"), {"ok": True})
    outcome = run_event(
        Plan(steps=(retrying_step(retry=policy),)), {}, call, lambda s: None, sleep=lambda s: None
    )
    assert outcome.status == states.FAILED
    assert len(call.options) == 1


def test_each_call_carries_the_event_the_step_a_stable_key_and_a_traceparent():
    policy = RetryPolicy(max_attempts=2, interval=0)
    call = Sequence(StepFailed(states.HTTP_STATUS, "HTTP 503", 503), {"ok": True})
    run_event(
        Plan(steps=(retrying_step(retry=policy, repeatable=True, timeout=(1.0, 2.5)),)),
        {},
        call,
        lambda step: None,
        event_id="6b09f0bee692bd4fe2a2bd1f",
        sleep=lambda s: None,
    )
    first, second = (options.headers for options in call.options)
    assert first["Idempotency-Key"] == second["Idempotency-Key"] == "6b09f0bee692bd4fe2a2bd1f-0"
    assert first["X-Machinery-Event-Id"] == "6b09f0bee692bd4fe2a2bd1f"
    assert first["X-Machinery-Step"] == "0"
    version, trace, span, flags = first["traceparent"].split("-")
    assert (version, flags) == ("00", "01")
    assert trace == "6b09f0bee692bd4fe2a2bd1f00000000"
    assert len(span) == 16 and span != second["traceparent"].split("-")[2]
    assert call.options[0].timeout == (1.0, 2.5)
