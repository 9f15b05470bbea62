"""Tests of dry runs: sample values and data, the SampleCaller standing in for services, and
dry_run, the real executor run on sampled answers."""

import pytest
from factories import field, service

from machinery import states
from machinery.engine import executor
from machinery.engine.dry_run import SampleCaller, dry_run, sample_data, sample_value
from machinery.engine.executor import CallOptions, StepFailed, request_headers
from machinery.language.model import Field
from machinery.language.parse import parse_service, parse_workflow


@pytest.mark.parametrize(
    ("type_", "value"),
    [
        ("string", "upper.message"),
        ("int", 1),
        ("float", 1.5),
        ("bool", True),
        ("object", {}),
        ("array", []),
    ],
)
def test_sample_value_is_a_fixed_value_of_the_field_type(type_, value):
    sample = sample_value(Field("message", type_), "upper")
    assert sample == value
    assert type(sample) is type(value)
    assert sample_value(Field("message", type_), "upper") == sample


def test_a_sample_string_says_whose_field_it_is():
    assert sample_value(Field("name", "string"), "greet") == "greet.name"
    assert sample_value(Field("name", "string", required=False), "input") == "input.name"


def test_sample_data_samples_every_workflow_input_optional_or_not():
    inputs = (Field("message", "string"), Field("n", "int"), Field("ratio", "float", False))
    assert sample_data(inputs) == {"message": "input.message", "n": 1, "ratio": 1.5}
    assert sample_data(()) == {}


SERVICES = {
    name: parse_service(definition)
    for name, definition in {
        "upper": service("upper", address="http://upper/"),
        "counter": service(
            "counter",
            address="http://counter/",
            inputs=[field("message")],
            outputs=[field("count", "int")],
        ),
        "flag": service(
            "flag",
            address="http://flag/",
            inputs=[],
            outputs=[field("on", "bool"), field("tags", "array")],
        ),
    }.items()
}


def workflow_of(*names, **extra):
    definition = {"name": "w", "services": list(names), "inputs": [field("message")], **extra}
    return parse_workflow(definition)


def options(step: int) -> CallOptions:
    """What the executor sends with a call at the given step."""
    return CallOptions(headers=request_headers("", step))


def sample_caller(*names, supplied=None) -> SampleCaller:
    return SampleCaller(workflow_of(*names), SERVICES, supplied or {})


def test_without_supplied_answers_each_step_answers_samples_of_its_outputs():
    state, calls = dry_run(workflow_of("upper", "counter", "flag"), SERVICES, {"message": "hi"}, {})
    assert state.status == states.SUCCEEDED
    assert calls == [
        {
            "index": 0,
            "service": "upper",
            "request": {"message": "hi"},
            "response": {"message": "upper.message"},
            "sampled": True,
        },
        {
            "index": 1,
            "service": "counter",
            "request": {"message": "upper.message"},
            "response": {"count": 1},
            "sampled": True,
        },
        {
            "index": 2,
            "service": "flag",
            "request": {},
            "response": {"on": True, "tags": []},
            "sampled": True,
        },
    ]
    assert state.outputs == {"message": "upper.message", "count": 1, "on": True, "tags": []}


@pytest.mark.parametrize(
    "supplied",
    [
        {"1": {"count": 5}},
        {1: {"count": 5}},
        {"counter": {"count": 5}},
        {"1": {"count": 5}, "counter": {"count": 9}},
        {1: {"count": 5}, "counter": {"count": 9}},
    ],
)
def test_a_supplied_answer_is_used_by_step_index_or_service_name(supplied):
    state, calls = dry_run(workflow_of("upper", "counter"), SERVICES, {"message": "hi"}, supplied)
    assert state.outputs == {"message": "upper.message", "count": 5}
    assert [call["sampled"] for call in calls] == [True, False]
    assert calls[1] == {
        "index": 1,
        "service": "counter",
        "request": {"message": "upper.message"},
        "response": {"count": 5},
        "sampled": False,
    }


def test_an_index_as_a_string_comes_before_an_index_as_an_int():
    caller = sample_caller("counter", supplied={"0": {"count": 2}, 0: {"count": 3}})
    assert caller("http://anywhere/", {}, options(0)) == (200, {"count": 2})


def test_a_service_name_answers_every_step_calling_that_service():
    workflow = workflow_of("upper", "upper")
    state, calls = dry_run(workflow, SERVICES, {"message": "hi"}, {"upper": {"message": "SAME"}})
    assert [call["request"] for call in calls] == [{"message": "hi"}, {"message": "SAME"}]
    assert state.outputs == {"message": "SAME"}


def test_a_supplied_answer_for_another_step_leaves_this_one_sampled():
    caller = sample_caller("upper", "counter", supplied={"7": {"x": 1}, "reverse": {"x": 2}})
    assert caller("http://upper/", {"message": "hi"}, options(0)) == (
        200,
        {"message": "upper.message"},
    )
    assert caller.calls[0]["sampled"] is True


def test_answers_follow_the_step_the_executor_names_not_the_address_or_the_order():
    caller = sample_caller("upper", "counter")
    assert caller("http://upper/", {}, options(1)) == (200, {"count": 1})
    assert caller("http://counter/", {}, options(0)) == (200, {"message": "upper.message"})
    assert [(call["index"], call["service"]) for call in caller.calls] == [
        (1, "counter"),
        (0, "upper"),
    ]


def test_a_supplied_answer_that_breaks_the_contract_fails_the_dry_run():
    workflow = workflow_of("upper", "counter")
    state, calls = dry_run(workflow, SERVICES, {"message": "hi"}, {"counter": {"count": "many"}})
    assert state.status == states.FAILED
    assert state.error["kind"] == states.CONTRACT_VIOLATION
    assert state.error["message"] == "output 'count' is string, expected int."
    assert calls[1]["response"] == {"count": "many"}


@pytest.mark.parametrize("answer", [["not", "an", "object"], "text", 3])
def test_a_supplied_answer_that_is_not_an_object_fails_the_step(answer):
    caller = sample_caller("upper", supplied={"0": answer})
    with pytest.raises(StepFailed) as raised:
        caller("http://upper/", {"message": "hi"}, options(0))
    assert raised.value.kind == states.INVALID_RESPONSE
    assert raised.value.message == "the supplied answer is not a JSON object"
    assert raised.value.status_code is None
    assert caller.calls == [
        {
            "index": 0,
            "service": "upper",
            "request": {"message": "hi"},
            "response": answer,
            "sampled": False,
        }
    ]


def test_a_dry_run_runs_the_operations_between_the_steps():
    workflow = workflow_of(
        "upper",
        "counter",
        operations=[
            {"set": {"message": {"const": "set on the inputs"}}, "after": "inputs"},
            {"rename": {"message": "shout"}, "after": 0},
            {"set": {"message": "shout"}, "after": 0},
            {"pick": ["count"]},
        ],
    )
    state, calls = dry_run(workflow, SERVICES, {"message": "hi"}, {})
    assert [call["request"] for call in calls] == [
        {"message": "set on the inputs"},
        {"message": "upper.message"},
    ]
    assert state.outputs == {"count": 1}


def test_a_dry_run_fails_a_step_whose_required_input_is_missing_without_calling_it():
    workflow = workflow_of("upper", operations=[{"remove": ["message"], "after": "inputs"}])
    state, calls = dry_run(workflow, SERVICES, {"message": "hi"}, {})
    assert state.status == states.FAILED
    assert state.error["kind"] == states.MISSING_INPUT
    assert calls == []


def test_a_dry_run_retries_as_the_service_says_without_waiting(monkeypatch):
    def wait(seconds):
        raise AssertionError(f"a dry run waited {seconds}s")

    monkeypatch.setitem(executor.advance.__kwdefaults__, "sleep", wait)
    retry = {"max_attempts": 3, "interval": 60, "jitter": False, "on": ["invalid_response"]}
    services = {"upper": parse_service({**service("upper"), "retry": retry, "idempotent": True})}
    state, calls = dry_run(workflow_of("upper"), services, {"message": "hi"}, {"upper": "text"})
    assert state.status == states.FAILED
    assert state.error["attempts"] == 3
    assert state.error["message"] == "the supplied answer is not a JSON object (after 3 attempts)"
    assert len(calls) == 3
