"""Every construct of the language × every pass over the model: a kind of node added to
`model.Node` fails here until the checker, the executor and the dry run all handle it."""

import typing

import pytest

from machinery import states
from machinery.engine.checker import _Walk, check_workflow
from machinery.engine.dry_run import dry_run
from machinery.engine.executor import Listener, run_to_end, start
from machinery.language import model
from machinery.language.model import (
    Branch,
    Call,
    Choice,
    Condition,
    Field,
    Literal,
    Map,
    Operation,
    Parallel,
    Ref,
    Service,
    SubWorkflow,
    Wait,
    Workflow,
)

CONSTRUCTS = typing.get_args(model.Node)

MESSAGE = (Field("message", "string"),)
SERVICES = {"upper": Service("upper", "http://upper/", inputs=MESSAGE, outputs=MESSAGE)}


def upper(address, payload, options):
    return 200, {"message": payload["message"].upper()}


# For each construct: a workflow made of it, what an event {"message": "hi"} answers, and
# where the checker says each output comes from.
EXAMPLES = {
    Call: (
        Workflow("call", steps=(Call(0, "upper"),), inputs=MESSAGE, outputs=MESSAGE),
        {"message": "HI"},
        {"message": {"from": "step", "step": 0, "service": "upper", "field": "message"}},
    ),
    Operation: (
        Workflow(
            "operation",
            steps=(Operation(0, "set", {"greeting": Literal("hello")}),),
            inputs=MESSAGE,
            outputs=(Field("greeting", "string"),),
        ),
        {"greeting": "hello"},
        {"greeting": {"from": "operation", "operation": 0}},
    ),
    Choice: (
        Workflow(
            "choice",
            steps=(
                Choice(
                    "services[0]",
                    branches=(
                        Branch(
                            Condition("equals", ("message",), "hi"),
                            (Call(0, "upper", where="services[0].choice[0].steps[0]"),),
                        ),
                    ),
                    otherwise=(Call(1, "upper", where="services[0].otherwise[0]"),),
                ),
            ),
            inputs=MESSAGE,
            outputs=MESSAGE,
        ),
        {"message": "HI"},
        {"message": {"from": "step", "step": 0, "service": "upper", "field": "message"}},
    ),
    Parallel: (
        Workflow(
            "parallel",
            steps=(
                Parallel(
                    "services[0]",
                    branches=(
                        (Call(0, "upper", where="services[0].parallel[0][0]"),),
                        (
                            Operation(
                                0, "set", {"n": Literal(1)}, where="services[0].parallel[1][0]"
                            ),
                        ),
                    ),
                ),
            ),
            inputs=MESSAGE,
            outputs=(*MESSAGE, Field("n", "int")),
        ),
        {"message": "HI", "n": 1},
        {
            "message": {"from": "step", "step": 0, "service": "upper", "field": "message"},
            "n": {"from": "operation", "operation": 0},
        },
    ),
    Map: (
        Workflow(
            "map",
            steps=(
                Operation(0, "set", {"words": Literal(["hi", "hi"])}),
                Map(
                    "services[0]",
                    items=("words",),
                    steps=(
                        Operation(1, "set", {"message": Ref(("item",))}, where="x"),
                        Call(0, "upper", where="services[0].map.steps[0]"),
                    ),
                    output="shouted",
                    collect="message",
                ),
            ),
            inputs=MESSAGE,
            outputs=(Field("shouted", "array"),),
        ),
        {"shouted": ["HI", "HI"]},
        {"shouted": {"from": "map", "place": "services[0]"}},
    ),
    SubWorkflow: (
        Workflow(
            "calls-another",
            steps=(
                SubWorkflow(
                    "services[0]",
                    "shout",
                    1,
                    0,
                    callee=Workflow(
                        "shout", steps=(Call(0, "upper"),), inputs=MESSAGE, outputs=MESSAGE
                    ),
                ),
            ),
            inputs=MESSAGE,
            outputs=MESSAGE,
        ),
        {"message": "HI"},
        {
            "message": {
                "from": "workflow",
                "place": "services[0]",
                "workflow": "shout",
                "field": "message",
            }
        },
    ),
    Wait: (
        Workflow(
            "wait",
            steps=(Wait("services[0]", seconds=60.0), Call(0, "upper")),
            inputs=MESSAGE,
            outputs=MESSAGE,
        ),
        {"message": "HI"},
        {"message": {"from": "step", "step": 0, "service": "upper", "field": "message"}},
    ),
}


def test_every_construct_has_an_example_for_the_passes():
    assert CONSTRUCTS, "model.Node lists no constructs"
    assert set(EXAMPLES) == set(CONSTRUCTS)


@pytest.mark.parametrize("construct", CONSTRUCTS, ids=lambda construct: construct.__name__)
def test_the_checker_visits_every_construct(construct):
    dispatcher = _Walk.__dict__["visit"].dispatcher
    assert dispatcher.dispatch(construct) is not dispatcher.dispatch(object)
    workflow, _, lineage = EXAMPLES[construct]
    analysis = check_workflow(workflow, SERVICES)
    assert analysis.problems == [] and analysis.warnings == []
    assert analysis.lineage["outputs"] == lineage


@pytest.mark.parametrize("construct", CONSTRUCTS, ids=lambda construct: construct.__name__)
def test_the_executor_runs_every_construct(construct):
    workflow, outputs, _ = EXAMPLES[construct]
    state = run_to_end(workflow, SERVICES, start({"message": "hi"}), upper, Listener(), waits=False)
    assert state.status == states.SUCCEEDED
    assert state.cursor == len(workflow.steps)
    assert state.outputs == outputs


@pytest.mark.parametrize("construct", CONSTRUCTS, ids=lambda construct: construct.__name__)
def test_the_dry_run_runs_every_construct(construct):
    workflow, outputs, _ = EXAMPLES[construct]
    state, _ = dry_run(workflow, SERVICES, {"message": "hi"}, {"upper": {"message": "HI"}})
    assert state.status == states.SUCCEEDED
    assert state.outputs == outputs


@pytest.mark.parametrize("construct", CONSTRUCTS, ids=lambda construct: construct.__name__)
def test_the_graph_places_every_construct(construct):
    from machinery.graph.build import build_graph, place

    assert place.dispatch(construct) is not place.dispatch(object)
    workflow, _, _ = EXAMPLES[construct]
    graph = build_graph(workflow, check_workflow(workflow, SERVICES))
    ids = {node.id for node in graph.nodes}
    assert {"inputs", "outputs"} <= ids
    assert all(edge.source in ids and edge.target in ids for edge in graph.edges)
