"""Graphs of what the store holds: a workflow at a version, an event at the versions it pinned."""

from machinery.contracts import services_for
from machinery.engine.checker import check_workflow
from machinery.graph.build import Graph, build_graph
from machinery.graph.outcomes import color_by_event
from machinery.runtime import Runtime


def workflow_graph(runtime: Runtime, ref: str, version: int | None = None) -> Graph:
    """The graph of a registered workflow (by name or id), at its current version or `version`."""
    store = runtime.store
    document = store.workflows.get(ref, version)
    model = runtime.catalog.workflow(document)
    services = {
        name: runtime.catalog.service(service)
        for name, service in services_for(store, document).items()
    }
    return build_graph(model, check_workflow(model, services))


def event_graph(runtime: Runtime, event: dict) -> Graph:
    """The graph of the workflow an event runs, at the versions it pinned, coloured by its steps.

    `event`: as GET /e/<id> shows it (with its steps)."""
    model, services = runtime.catalog.for_event(event)
    graph = build_graph(model, check_workflow(model, services))
    return color_by_event(graph, event)
