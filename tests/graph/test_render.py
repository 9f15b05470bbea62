"""Graphs built from the model alone: every construct placed, every user string escaped."""

import json
import xml.etree.ElementTree as ET

import pytest

from machinery.engine.checker import check_workflow
from machinery.graph import FORMATS, build_graph, color_by_event, render
from machinery.graph.build import place
from machinery.language import model
from machinery.language.model import Call, Field, Literal, Operation, Service, Workflow

PROBE = '<script>alert("x")</script>&"\\'


def evil_workflow():
    service = Service(PROBE, "http://evil.example/", (Field("message", "string"),), ())
    workflow = Workflow(
        PROBE,
        (
            Call(0, PROBE),
            Operation(0, "set", {PROBE: Literal("v")}),
        ),
        inputs=(Field("message", "string"),),
    )
    return workflow, {PROBE: service}


def test_every_node_construct_of_the_model_has_a_place_in_the_graph():
    constructs = [t for t in getattr(model.Node, "__args__", (model.Node,))]
    for construct in constructs:
        assert place.dispatch(construct) is not place.dispatch(object), construct.__name__


@pytest.mark.parametrize("format", FORMATS)
def test_markup_in_names_is_escaped(format):
    workflow, services = evil_workflow()
    graph = build_graph(workflow, check_workflow(workflow, services))
    event = {"id": "e1", "status": "failed", "steps": [{"index": 0, "error": {"kind": "x"}}]}
    color_by_event(graph, event)
    rendered = render(graph, format)
    if format == "json":
        assert json.loads(json.dumps(rendered))["nodes"][1]["label"] == PROBE
        return
    if format != "dot":  # a quoted DOT string is never markup; its quotes are what matter
        assert "<script" not in rendered
    if format == "svg":
        root = ET.fromstring(rendered)
        texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
        assert any(text and text.startswith("<script>") for text in texts)
    if format == "dot":
        assert '\\"x\\"' in rendered and "\\\\" in rendered
    if format == "mermaid":
        assert "#lt;script#gt;" in rendered and '"x"' not in rendered
