"""Accept an event for a workflow, run it through the engine and keep the record in the store."""

from machinery.contracts import check_definition, services_for
from machinery.datatypes import check_fields
from machinery.engine import states
from machinery.engine.executor import Call, run_event
from machinery.engine.plan import build_plan
from machinery.engine.samples import SampleCaller, sample_data
from machinery.errors import InvalidData
from machinery.store import Store


def submit_event(store: Store, call: Call, workflow_ref: str, body: dict) -> dict:
    """Validate the event data against the workflow, run it, and return the stored event."""
    workflow = store.workflows.get(workflow_ref)
    data = event_data(workflow, body)
    require_inputs(workflow, data)
    plan = build_plan(workflow, services_for(store, workflow))
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


def require_inputs(workflow: dict, data: dict) -> None:
    errors = check_fields(workflow["inputs"], data)
    if errors:
        raise InvalidData(
            f"The event data does not match the inputs of workflow {workflow['name']!r}.",
            errors=errors,
        )


def dry_run(store: Store, workflow: dict, data: dict | None, samples: dict) -> dict:
    """Walk a workflow without calling any service: supplied or made-up answers stand in."""
    services = services_for(store, workflow)
    analysis = check_definition(store, workflow, services)
    if data is None:
        data = sample_data(workflow["inputs"])
    require_inputs(workflow, data)
    plan = build_plan(workflow, services)
    caller = SampleCaller(plan, samples)
    outcome = run_event(plan, data, caller, lambda step: None)
    steps = [
        {**call, "index": index, "service": step.service}
        for index, (call, step) in enumerate(zip(caller.calls, plan.steps, strict=False))
    ]
    return {
        "workflow": workflow["name"],
        "status": outcome.status,
        "data": data,
        "outputs": outcome.outputs,
        "error": outcome.error,
        "steps": steps,
        "warnings": analysis.warnings,
    }


def failure_message(error: dict) -> str:
    return f"Step {error['step']} ({error['service']}) failed: {error['message']}"
