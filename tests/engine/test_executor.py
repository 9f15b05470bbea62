"""Tests of run_event: the order of calls, the running data, the records and the failures."""

from datetime import datetime

import pytest

from machinery.engine import states
from machinery.engine.executor import Plan, Step, StepFailed, run_event


class FakeServices:
    """A call(address, payload) answering from address -> answer dict or StepFailed to raise."""

    def __init__(self, answers: dict, log: list | None = None):
        self.answers = answers
        self.calls: list[tuple[str, dict]] = []
        self.log = log if log is not None else []

    def __call__(self, address: str, payload: dict) -> tuple[int, dict]:
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


def step(name: str, *inputs: str) -> Step:
    """A step calling service `name` at http://<name>/."""
    return Step(service=name, address=f"http://{name}/", inputs=inputs)


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
    plan = Plan(steps=(step("upper", "text"), step("reverse", "upper_text")))
    answers = {"http://upper/": {"upper_text": "HI"}, "http://reverse/": {"reversed": "IH"}}
    outcome, services, _ = run(plan, {"text": "hi"}, answers)
    assert services.calls[1] == ("http://reverse/", {"upper_text": "HI"})
    assert outcome.outputs == {"text": "hi", "upper_text": "HI", "reversed": "IH"}


def test_an_output_overwrites_an_earlier_value_of_the_same_name():
    plan = Plan(steps=(step("upper", "text"), step("reverse", "text"), step("echo", "text")))
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
    plan = Plan(steps=(step("upper", "text"), step("count", "text")), outputs=("count", "text"))
    answers = {"http://upper/": {"text": "HI", "shout": True}, "http://count/": {"count": 2}}
    outcome, _, _ = run(plan, {"text": "hi", "lang": "en"}, answers)
    assert outcome.status == states.SUCCEEDED
    assert outcome.outputs == {"count": 2, "text": "HI"}
    assert outcome.error is None


def test_outputs_are_all_the_running_data_when_the_plan_names_none():
    plan = Plan(steps=(step("upper", "text"),))
    outcome, _, _ = run(plan, {"text": "hi", "lang": "en"}, {"http://upper/": {"loud": "HI"}})
    assert outcome.outputs == {"text": "hi", "lang": "en", "loud": "HI"}


def test_an_output_named_but_not_produced_is_absent():
    plan = Plan(steps=(step("upper", "text"),), outputs=("loud", "never"))
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
