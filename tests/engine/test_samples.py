"""Tests of dry runs: sample values and data, and the SampleCaller standing in for services."""

import pytest
from factories import field, service

from machinery import states
from machinery.engine.executor import StepFailed, run_event
from machinery.engine.plan import Field, build_plan
from machinery.engine.samples import SampleCaller, sample_data, sample_value


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
    inputs = [field("message"), field("n", "int"), field("ratio", "float", required=False)]
    assert sample_data(inputs) == {"message": "input.message", "n": 1, "ratio": 1.5}
    assert sample_data([]) == {}


SERVICES = {
    "upper": service("upper"),
    "counter": service("counter", inputs=[field("message")], outputs=[field("count", "int")]),
    "flag": service("flag", inputs=[], outputs=[field("on", "bool"), field("tags", "array")]),
}


def plan_of(*names):
    definition = {"name": "w", "services": list(names), "inputs": [field("message")], "outputs": []}
    return build_plan(definition, SERVICES)


def test_without_supplied_answers_each_step_answers_samples_of_its_outputs():
    plan = plan_of("upper", "counter", "flag")
    caller = SampleCaller(plan, {})
    outcome = run_event(plan, {"message": "hi"}, caller, lambda record: None)
    assert outcome.status == states.SUCCEEDED
    assert caller.calls == [
        {"request": {"message": "hi"}, "response": {"message": "upper.message"}, "sampled": True},
        {"request": {"message": "upper.message"}, "response": {"count": 1}, "sampled": True},
        {"request": {}, "response": {"on": True, "tags": []}, "sampled": True},
    ]
    assert outcome.outputs == {"message": "upper.message", "count": 1, "on": True, "tags": []}


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
    plan = plan_of("upper", "counter")
    caller = SampleCaller(plan, supplied)
    outcome = run_event(plan, {"message": "hi"}, caller, lambda record: None)
    assert outcome.outputs == {"message": "upper.message", "count": 5}
    assert [call["sampled"] for call in caller.calls] == [True, False]
    assert caller.calls[1] == {
        "request": {"message": "upper.message"},
        "response": {"count": 5},
        "sampled": False,
    }


def test_an_index_as_a_string_comes_before_an_index_as_an_int():
    caller = SampleCaller(plan_of("counter"), {"0": {"count": 2}, 0: {"count": 3}})
    assert caller("http://anywhere/", {}) == (200, {"count": 2})


def test_a_service_name_answers_every_step_calling_that_service():
    plan = plan_of("upper", "upper")
    caller = SampleCaller(plan, {"upper": {"message": "SAME"}})
    outcome = run_event(plan, {"message": "hi"}, caller, lambda record: None)
    assert [call["request"] for call in caller.calls] == [{"message": "hi"}, {"message": "SAME"}]
    assert outcome.outputs == {"message": "SAME"}


def test_a_supplied_answer_for_another_step_leaves_this_one_sampled():
    caller = SampleCaller(plan_of("upper", "counter"), {"7": {"x": 1}, "reverse": {"x": 2}})
    assert caller("http://upper/", {"message": "hi"}) == (200, {"message": "upper.message"})
    assert caller.calls[0]["sampled"] is True


def test_answers_follow_the_order_of_calls_not_the_address():
    caller = SampleCaller(plan_of("upper", "counter"), {})
    assert caller("http://counter/", {}) == (200, {"message": "upper.message"})
    assert caller("http://upper/", {}) == (200, {"count": 1})


def test_a_supplied_answer_that_breaks_the_contract_fails_the_dry_run():
    plan = plan_of("upper", "counter")
    caller = SampleCaller(plan, {"counter": {"count": "many"}})
    outcome = run_event(plan, {"message": "hi"}, caller, lambda record: None)
    assert outcome.status == states.FAILED
    assert outcome.error["kind"] == states.CONTRACT_VIOLATION
    assert outcome.error["message"] == "output 'count' is string, expected int."
    assert caller.calls[1]["response"] == {"count": "many"}


@pytest.mark.parametrize("answer", [["not", "an", "object"], "text", 3])
def test_a_supplied_answer_that_is_not_an_object_fails_the_step(answer):
    caller = SampleCaller(plan_of("upper"), {"0": answer})
    with pytest.raises(StepFailed) as raised:
        caller("http://upper/", {"message": "hi"})
    assert raised.value.kind == states.INVALID_RESPONSE
    assert raised.value.message == "the supplied answer is not a JSON object"
    assert raised.value.status_code is None
    assert caller.calls == [{"request": {"message": "hi"}, "response": answer, "sampled": False}]
