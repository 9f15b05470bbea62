"""Sub-workflows: each `workflow` step's callee, parsed and attached to the model that calls it.

A callee is found by `load(name, version)` (the version pinned when the calling workflow was
saved), parsed, and given its own callees in turn. A workflow that would call itself, through
any chain of calls, is refused.
"""

from collections.abc import Callable, Mapping
from dataclasses import replace

from machinery.language.model import (
    Block,
    Branch,
    Choice,
    Map,
    Parallel,
    SubWorkflow,
    Workflow,
    blocks_of,
)
from machinery.language.parse import DefinitionError, parse_workflow

Load = Callable[[str, int | None], Mapping | None]


def attach_callees(model: Workflow, load: Load, chain: tuple[str, ...] = ()) -> Workflow:
    """The model with every sub-workflow step's callee attached; DefinitionError at the step
    whose callee is not registered, or whose calls lead back to a workflow in `chain`."""
    chain = (*chain, model.name)

    def attach(node):
        if not isinstance(node, SubWorkflow):
            return node
        if node.workflow in chain:
            route = " → ".join((*chain, node.workflow))
            raise DefinitionError(f"A workflow may not call itself: {route}.", node.place)
        raw = load(node.workflow, node.version)
        if raw is None:
            at = f" at version {node.version}" if node.version is not None else ""
            raise DefinitionError(f"No workflow {node.workflow!r}{at} is registered.", node.place)
        callee = attach_callees(parse_workflow(raw), load, chain)
        return replace(node, callee=callee)

    return replace(model, steps=rebuild(model.steps, attach))


def rebuild(block: Block, change: Callable) -> Block:
    """The block with `change` applied to every node, nested ones included (inner first)."""
    return tuple(change(_inner(node, change)) for node in block)


def _inner(node, change):
    if isinstance(node, Choice):
        node = replace(
            node,
            branches=tuple(
                Branch(branch.when, rebuild(branch.steps, change)) for branch in node.branches
            ),
            otherwise=rebuild(node.otherwise, change),
        )
    elif isinstance(node, Parallel):
        node = replace(node, branches=tuple(rebuild(b, change) for b in node.branches))
    elif isinstance(node, Map):
        node = replace(node, steps=rebuild(node.steps, change))
    catches = getattr(node, "catch", ())
    if catches:
        node = replace(
            node,
            catch=tuple(replace(c, steps=rebuild(c.steps, change)) for c in catches),
        )
    return node


def callees(model: Workflow) -> list[Workflow]:
    """Every workflow the model calls, through any chain of calls, once each by (name, version)."""
    found: dict = {}
    pending = list(_subworkflows(model.steps))
    while pending:
        node = pending.pop(0)
        if node.callee is None:
            continue
        key = (node.callee.name, node.callee.version)
        if key not in found:
            found[key] = node.callee
            pending.extend(_subworkflows(node.callee.steps))
    return list(found.values())


def _subworkflows(block: Block):
    for node in block:
        if isinstance(node, SubWorkflow):
            yield node
        for _, inner in blocks_of(node):
            yield from _subworkflows(inner)
