"""Workflow graphs: nodes and edges built from the parsed model and its lineage (build.py),
coloured by an event's steps (outcomes.py), written as JSON, Mermaid, DOT or SVG (render.py,
svg.py), and read from the store at the versions asked for (sources.py)."""

from machinery.graph.build import Edge, Graph, Node, build_graph
from machinery.graph.outcomes import color_by_event
from machinery.graph.render import FORMATS, MEDIA_TYPES, render

__all__ = [
    "FORMATS",
    "MEDIA_TYPES",
    "Edge",
    "Graph",
    "Node",
    "build_graph",
    "color_by_event",
    "render",
]
