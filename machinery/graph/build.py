"""A workflow as a graph: one node per construct of the model, control edges in the order the
nodes run, each edge labelled with the fields that flow along it, as the lineage says.

Each construct of the language is placed by one function (`place`, by singledispatch): a new
construct registers its own, which adds its nodes and says which nodes control leaves by.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import singledispatch

from machinery.engine.checker import Analysis
from machinery.language.model import Block, Call, Operation, Workflow

INPUTS = "inputs"
OUTPUTS = "outputs"


@dataclass
class Node:
    """A box in the graph: the workflow's inputs or outputs, a step, an operation."""

    id: str
    kind: str  # "inputs", "outputs", "call", "operation", ...
    label: str
    detail: str = ""
    step: int | None = None
    # Set for an event's graph (see outcomes.py).
    outcome: str | None = None
    duration_ms: float | None = None
    attempts: int | None = None
    status_code: int | None = None

    def as_dict(self) -> dict:
        shown = {"id": self.id, "kind": self.kind, "label": self.label}
        if self.detail:
            shown["detail"] = self.detail
        if self.step is not None:
            shown["step"] = self.step
        for name in ("outcome", "duration_ms", "attempts", "status_code"):
            value = getattr(self, name)
            if value is not None:
                shown[name] = value
        return shown


@dataclass
class Edge:
    """An arrow: `control` when the target runs after the source; `fields` that flow along it."""

    source: str
    target: str
    control: bool = False
    fields: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "source": self.source,
            "target": self.target,
            "control": self.control,
            "fields": list(self.fields),
        }


@dataclass
class Graph:
    workflow: str
    version: int | None
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    event: dict | None = None

    def add(self, node: Node) -> str:
        self.nodes.append(node)
        return node.id

    def node(self, node_id: str) -> Node | None:
        return next((node for node in self.nodes if node.id == node_id), None)

    def edge(self, source: str, target: str) -> Edge:
        """The edge from source to target, made when there is none yet."""
        for edge in self.edges:
            if edge.source == source and edge.target == target:
                return edge
        made = Edge(source, target)
        self.edges.append(made)
        return made

    def follow(self, sources: tuple[str, ...], target: str) -> None:
        """Control goes from each of `sources` to `target`."""
        for source in sources:
            self.edge(source, target).control = True

    def as_dict(self) -> dict:
        shown = {"workflow": self.workflow, "version": self.version}
        if self.event is not None:
            shown["event"] = self.event
        shown["nodes"] = [node.as_dict() for node in self.nodes]
        shown["edges"] = [edge.as_dict() for edge in self.edges]
        return shown


def step_id(index: int) -> str:
    return f"step-{index}"


def operation_id(number: int) -> str:
    return f"operation-{number}"


@singledispatch
def place(node, graph: Graph, after: tuple[str, ...]) -> tuple[str, ...]:
    """Add a construct's nodes after `after` (the nodes control comes from); return the nodes
    control leaves it by."""
    raise TypeError(f"The graph does not know {type(node).__name__} nodes.")


@place.register
def _call(call: Call, graph: Graph, after: tuple[str, ...]) -> tuple[str, ...]:
    node = Node(step_id(call.index), "call", call.service, f"step {call.index}", step=call.index)
    graph.follow(after, graph.add(node))
    return (node.id,)


@place.register
def _operation(operation: Operation, graph: Graph, after: tuple[str, ...]) -> tuple[str, ...]:
    argument = operation.argument
    names = list(argument) if isinstance(argument, Mapping | list | tuple) else []
    node = Node(
        operation_id(operation.number),
        "operation",
        operation.action,
        ", ".join(str(name) for name in names),
    )
    graph.follow(after, graph.add(node))
    return (node.id,)


def place_block(block: Block, graph: Graph, after: tuple[str, ...]) -> tuple[str, ...]:
    for node in block:
        after = place(node, graph, after)
    return after


def origin_node(origin: Mapping | None) -> str | None:
    """The node a value comes from, as the lineage says; None for a literal or nothing."""
    if not origin:
        return None
    source = origin.get("from")
    if source == "input":
        return INPUTS
    if source == "step":
        return step_id(origin["step"])
    if source == "operation":
        return operation_id(origin["operation"])
    return None


def build_graph(workflow: Workflow, analysis: Analysis) -> Graph:
    """The graph of a parsed workflow, its edges labelled with the lineage of `analysis`
    (see engine/checker.py: check_workflow)."""
    graph = Graph(workflow.name, workflow.version)
    inputs = ", ".join(f.name for f in workflow.inputs)
    graph.add(Node(INPUTS, "inputs", "inputs", inputs))
    last = place_block(workflow.steps, graph, (INPUTS,))
    outputs = ", ".join(f.name for f in workflow.outputs)
    graph.add(Node(OUTPUTS, "outputs", "outputs", outputs))
    graph.follow(last, OUTPUTS)
    lineage = analysis.lineage
    for step in lineage["steps"]:
        for name, origin in step["inputs"].items():
            flow(graph, origin, step_id(step["index"]), name)
    for name, origin in lineage["outputs"].items():
        flow(graph, origin, OUTPUTS, name)
    return graph


def flow(graph: Graph, origin: Mapping | None, target: str, name: str) -> None:
    source = origin_node(origin)
    if source is None or graph.node(source) is None:
        return
    label = name
    if origin.get("from") == "step" and origin.get("field") not in (None, name):
        label = f"{origin['field']} → {name}"
    fields = graph.edge(source, target).fields
    if label not in fields:
        fields.append(label)
