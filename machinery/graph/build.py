"""A workflow as a graph: one node per construct of the model, control edges in the order the
nodes run, each edge labelled with the fields that flow along it, as the lineage says.

Each construct of the language is placed by one function (`place`, by singledispatch): a new
construct registers its own, which adds its nodes and says which nodes control leaves by.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import singledispatch

from machinery.engine.checker import Analysis
from machinery.language.model import (
    Block,
    Call,
    Choice,
    Condition,
    Map,
    Operation,
    Parallel,
    SubWorkflow,
    Wait,
    Workflow,
)
from machinery.language.paths import format_path

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
    label: str = ""  # on a control edge: the branch it takes (a condition, otherwise, a catch)

    def as_dict(self) -> dict:
        shown = {
            "source": self.source,
            "target": self.target,
            "control": self.control,
            "fields": list(self.fields),
        }
        if self.label:
            shown["label"] = self.label
        return shown

    @property
    def caption(self) -> str:
        """What an edge is labelled with when drawn: its branch, then its fields."""
        return ", ".join(([self.label] if self.label else []) + list(self.fields))


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

    def follow(self, sources: tuple[str, ...], target: str, label: str = "") -> None:
        """Control goes from each of `sources` to `target` (by the branch `label` names)."""
        for source in sources:
            edge = self.edge(source, target)
            edge.control = True
            if label and not edge.label:
                edge.label = label

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
    detail = f"step {call.index}" + (f" · {call.place}" if call.nested else "")
    node = Node(step_id(call.index), "call", call.service, detail, step=call.index)
    graph.follow(after, graph.add(node))
    return _with_catches(call, graph, node.id, (node.id,))


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


def construct_id(kind: str, where: str) -> str:
    return f"{kind}-" + re.sub(r"[^A-Za-z0-9]+", "-", where).strip("-")


def condition_text(condition: Condition) -> str:
    """A condition in a few words: `amount > 1000`, `not (…)`, `a and b`."""
    symbols = {"lt": "<", "lte": "≤", "gt": ">", "gte": "≥", "equals": "=", "not_equals": "≠"}
    if condition.op in ("and", "or"):
        return f" {condition.op} ".join(condition_text(part) for part in condition.parts)
    if condition.op == "not":
        return f"not ({condition_text(condition.parts[0])})"
    path = format_path(condition.path)
    if condition.op == "exists":
        return f"{path} exists" if condition.value else f"no {path}"
    symbol = symbols.get(condition.op, condition.op.replace("_", " "))
    return (
        f"{path} {symbol} {condition.value!r}"
        if isinstance(condition.value, str)
        else (f"{path} {symbol} {condition.value}")
    )


def _branch(block: Block, graph: Graph, head: str, label: str) -> tuple[str, ...]:
    """A block control enters from `head` by the branch `label` names."""
    if not block:
        return (head,)
    before = len(graph.nodes)
    ends = place_block(block, graph, ())
    first = graph.nodes[before].id
    graph.follow((head,), first, label)
    return ends


@place.register
def _choice(choice: Choice, graph: Graph, after: tuple[str, ...]) -> tuple[str, ...]:
    head = graph.add(Node(construct_id("choice", choice.where), "choice", "choice", choice.where))
    graph.follow(after, head)
    ends: tuple[str, ...] = ()
    for branch in choice.branches:
        ends += _branch(branch.steps, graph, head, condition_text(branch.when))
    ends += _branch(choice.otherwise, graph, head, "otherwise")
    return _with_catches(choice, graph, head, tuple(dict.fromkeys(ends)))


@place.register
def _parallel(parallel: Parallel, graph: Graph, after: tuple[str, ...]) -> tuple[str, ...]:
    head = graph.add(
        Node(construct_id("parallel", parallel.where), "parallel", "parallel", parallel.where)
    )
    graph.follow(after, head)
    join = Node(construct_id("join", parallel.where), "join", "join", parallel.where)
    ends: tuple[str, ...] = ()
    for number, branch in enumerate(parallel.branches):
        ends += _branch(branch, graph, head, f"branch {number}")
    graph.follow(ends, graph.add(join))
    return _with_catches(parallel, graph, head, (join.id,))


@place.register
def _map(node: Map, graph: Graph, after: tuple[str, ...]) -> tuple[str, ...]:
    detail = f"each {node.item_as} of {format_path(node.items)} → {node.output}"
    head = graph.add(Node(construct_id("map", node.where), "map", "map", detail))
    graph.follow(after, head)
    ends = _branch(node.steps, graph, head, f"each {node.item_as}")
    collect = graph.add(
        Node(construct_id("collect", node.where), "collect", "collect", node.output)
    )
    graph.follow(ends, collect)
    return _with_catches(node, graph, head, (collect,))


@place.register
def _wait(wait: Wait, graph: Graph, after: tuple[str, ...]) -> tuple[str, ...]:
    detail = (
        f"{wait.seconds:g} s" if wait.seconds is not None else f"until {format_path(wait.until)}"
    )
    head = graph.add(Node(construct_id("wait", wait.where), "wait", "wait", detail))
    graph.follow(after, head)
    return (head,)


@place.register
def _subworkflow(node: SubWorkflow, graph: Graph, after: tuple[str, ...]) -> tuple[str, ...]:
    detail = f"version {node.version}" if node.version is not None else node.where
    head = graph.add(Node(construct_id("workflow", node.where), "workflow", node.workflow, detail))
    graph.follow(after, head)
    return _with_catches(node, graph, head, (head,))


def _with_catches(node, graph: Graph, head: str, ends: tuple[str, ...]) -> tuple[str, ...]:
    """A step's catches: each fallback entered from the step, by the failures it takes."""
    for catcher in getattr(node, "catch", ()):
        kinds = ", ".join(str(kind) for kind in sorted(catcher.on, key=str)) or "any failure"
        ends += _branch(catcher.steps, graph, head, f"catch {kinds}")
    return tuple(dict.fromkeys(ends))


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
    if source == "map":
        kind = "map" if origin.get("item") else "collect"
        return construct_id(kind, origin["place"])
    if source == "workflow":
        return construct_id("workflow", origin["place"])
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
