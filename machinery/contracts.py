"""Contracts between workflows and services: checked when either changes.

A workflow is checked against the services it calls when it is saved; a service's new
definition is checked against every workflow that calls it before it replaces the old one.
"""

from collections.abc import Mapping

from machinery.engine.checker import INVALID, Analysis, check_workflow
from machinery.errors import Conflict, InvalidData, NotFound
from machinery.language.model import NO_LIMITS, Limits
from machinery.language.parse import (
    DefinitionError,
    parse_service,
    parse_workflow,
    pin_subworkflows,
    service_names,
    subworkflow_refs,
)
from machinery.language.subworkflows import Load, attach_callees
from machinery.store import Store


def workflow_loader(store: Store) -> Load:
    """How sub-workflows are found: by name, at a version (None: the current one)."""

    def load(name: str, version: int | None):
        try:
            return store.workflows.get(name, version)
        except NotFound:
            return None

    return load


def analyse(
    workflow: Mapping,
    services: Mapping[str, Mapping],
    limits: Limits = NO_LIMITS,
    load: Load | None = None,
) -> Analysis:
    """The flow analysis of a workflow definition against service definitions (documents),
    within the control-flow limits given (none: a stored definition, checked when saved), its
    sub-workflows found by `load`."""
    try:
        model = parse_workflow(workflow, limits)
        if load is not None:
            model = attach_callees(model, load)
    except DefinitionError as error:
        analysis = Analysis()
        analysis.problems.append({"code": INVALID, "message": str(error), "place": error.place})
        return analysis
    return check_workflow(model, {name: parse_service(doc) for name, doc in services.items()})


def callee_documents(store: Store, workflow: Mapping) -> list[dict]:
    """The workflows a workflow calls, through any chain of calls, once each; Conflict naming
    every one that is not registered."""
    load = workflow_loader(store)
    found: dict = {}
    missing: set[str] = set()
    pending = list(subworkflow_refs(workflow["services"]))
    while pending:
        name, version = pending.pop(0)
        if (name, version) in found or name == workflow.get("name"):
            continue
        document = load(name, version)
        if document is None:
            missing.add(name if version is None else f"{name} (version {version})")
            continue
        found[(name, version)] = document
        pending.extend(subworkflow_refs(document["services"]))
    if missing:
        listed = ", ".join(sorted(missing))
        raise Conflict(
            f"These workflows are not registered: {listed}. Register them with POST /w first.",
            missing_workflows=sorted(missing),
        )
    return list(found.values())


def services_for(store: Store, workflow: dict) -> dict[str, dict]:
    """The registered services a workflow calls, its sub-workflows' included, by name;
    Conflict naming every missing one."""
    names = service_names(workflow["services"])
    for callee in callee_documents(store, workflow):
        names += service_names(callee["services"])
    registered = store.services.by_names(names)
    missing = sorted(set(names) - set(registered))
    if missing:
        raise Conflict(
            f"These services are not registered: {', '.join(missing)}. "
            "Register them with POST /s first.",
            missing_services=missing,
        )
    return registered


def check_definition(
    store: Store, workflow: dict, services: dict | None = None, limits: Limits = NO_LIMITS
) -> Analysis:
    """The flow analysis of a workflow definition; InvalidData (422) when its data cannot flow
    or it passes the limits. A sub-workflow step that names no version is given the current
    one: an event runs the version the calling workflow was checked with."""
    load = workflow_loader(store)
    pin_subworkflows(workflow["services"], lambda name: (load(name, None) or {}).get("version"))
    services = services or services_for(store, workflow)
    analysis = analyse(workflow, services, limits, load)
    if analysis.problems:
        count = len(analysis.problems)
        first = analysis.problems[0]
        where = f" (at {first['place']})" if first.get("place") else ""
        raise InvalidData(
            f"The data of workflow {workflow['name']!r} cannot flow: "
            f"{count} problem{'s' if count > 1 else ''}. {first['message']}{where}",
            problems=analysis.problems,
            warnings=analysis.warnings,
        )
    return analysis


def service_impact(store: Store, name: str, proposed: dict) -> dict:
    """What replacing a service's definition would do to each workflow that calls it."""
    store.services.require(name)
    affected = []
    for workflow in store.workflows.using(name):
        services = services_for(store, workflow)
        load = workflow_loader(store)
        before = analyse(workflow, services, load=load)
        after = analyse(workflow, {**services, name: {**proposed, "name": name}}, load=load)
        broken = [p for p in after.problems if p["message"] not in _messages(before.problems)]
        lost = [
            warning
            for warning in after.warnings
            if "output" in warning and warning["message"] not in _messages(before.warnings)
        ]
        affected.append(
            {
                "workflow": workflow["name"],
                "version": workflow.get("version"),
                "compatible": not broken and not lost,
                "problems": broken,
                "lost_outputs": lost,
            }
        )
    return {
        "service": name,
        "compatible": all(entry["compatible"] for entry in affected),
        "workflows": affected,
    }


def require_compatible(store: Store, name: str, proposed: dict) -> None:
    """Conflict (409) when the new definition would break a workflow that calls the service."""
    impact = service_impact(store, name, proposed)
    if impact["compatible"]:
        return
    broken = [entry for entry in impact["workflows"] if not entry["compatible"]]
    names = ", ".join(entry["workflow"] for entry in broken)
    raise Conflict(
        f"This change to service {name!r} breaks workflows {names}; fix them first, or "
        "send the change again with ?force=true.",
        workflows=broken,
    )


def _messages(items: list[dict]) -> set[str]:
    return {item["message"] for item in items}
