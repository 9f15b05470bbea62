"""Accept an event for a workflow, run it through the engine and keep the record in the store."""

from machinery.datatypes import check_fields
from machinery.engine import states
from machinery.engine.executor import Call, Plan, Step, run_event
from machinery.errors import Conflict, InvalidData
from machinery.store import Store


def submit_event(store: Store, call: Call, workflow_ref: str, body: dict) -> dict:
    """Validate the event data against the workflow, run it, and return the stored event."""
    workflow = store.workflows.get(workflow_ref)
    data = event_data(workflow, body)
    errors = check_fields(workflow["inputs"], data)
    if errors:
        raise InvalidData(
            f"The event data does not match the inputs of workflow {workflow['name']!r}.",
            errors=errors,
        )
    plan = plan_for(workflow, store.services.by_names(workflow["services"]))
    event = store.events.accept(workflow, data)
    outcome = run_event(plan, data, call, lambda step: store.events.record_step(event["id"], step))
    finished = store.events.finish(event["id"], outcome.status, outcome.outputs, outcome.error)
    if finished["status"] == states.FAILED:
        finished["message"] = failure_message(finished["error"])
    return finished


def event_data(workflow: dict, body: dict) -> dict:
    """The event data: the body itself, or its `data` object when the body only wraps one."""
    declared = {field["name"] for field in workflow["inputs"]}
    if set(body) == {"data"} and isinstance(body["data"], dict) and "data" not in declared:
        return body["data"]
    return body


def plan_for(workflow: dict, services: dict[str, dict]) -> Plan:
    """The steps an event of this workflow runs, from the services as registered now."""
    missing = sorted(set(workflow["services"]) - set(services))
    if missing:
        raise Conflict(
            f"Workflow {workflow['name']!r} calls services that are no longer registered: "
            f"{', '.join(missing)}.",
            missing_services=missing,
        )
    steps = tuple(
        Step(
            service=name,
            address=services[name]["address"],
            inputs=tuple(field["name"] for field in services[name]["inputs"]),
        )
        for name in workflow["services"]
    )
    return Plan(steps=steps, outputs=tuple(field["name"] for field in workflow["outputs"]))


def failure_message(error: dict) -> str:
    return f"Step {error['step']} ({error['service']}) failed: {error['message']}"
