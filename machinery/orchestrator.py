"""Accept an event for a workflow, run it through the engine and keep the record in the store."""

import hashlib
import json
import time

from machinery.contracts import check_definition, services_for
from machinery.datatypes import check_fields
from machinery.engine import states
from machinery.engine.executor import Call, run_event
from machinery.engine.plan import build_plan
from machinery.engine.samples import SampleCaller, sample_data
from machinery.errors import Conflict, InvalidData
from machinery.store import Store


def submit_event(
    store: Store,
    call: Call,
    workflow_ref: str,
    body: dict,
    key: str | None = None,
    wait_s: float = 60.0,
) -> dict:
    """Validate the event data against the workflow, run it, and return the stored event.

    With an idempotency key used before for the workflow, the event is not run again: the
    original is returned once it has finished, waiting up to `wait_s` for it (Conflict if it
    has not finished by then).
    """
    workflow = store.workflows.get(workflow_ref)
    data = event_data(workflow, body)
    require_inputs(workflow, data)
    plan = build_plan(workflow, services_for(store, workflow))
    digest = fingerprint(data) if key is not None else None
    event, created = store.events.accept(workflow, data, key, digest)
    if not created:
        return replay(store, event, digest, wait_s)
    outcome = run_event(
        plan, data, call, lambda step: store.events.record_step(event["id"], step), event["id"]
    )
    finished = store.events.finish(event["id"], outcome.status, outcome.outputs, outcome.error)
    if finished["status"] == states.FAILED:
        finished["message"] = failure_message(finished["error"])
    return finished


def fingerprint(data: dict) -> str:
    """A digest of event data, the same for the same data whatever the order of its keys."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def replay(store: Store, original: dict, digest: str, wait_s: float) -> dict:
    """The event first sent with an idempotency key, once finished (or when waiting is over)."""
    if original.get("fingerprint") != digest:
        raise InvalidData(
            "This Idempotency-Key was already used with different data for this workflow.",
            errors={"Idempotency-Key": ["Already used with different data."]},
        )
    deadline = time.monotonic() + wait_s
    pause = 0.02
    while original["status"] == states.RUNNING and time.monotonic() < deadline:
        time.sleep(pause)
        pause = min(pause * 2, 0.5)
        original = store.events.get(original["id"], with_steps=False)
    if original["status"] == states.RUNNING:
        raise Conflict(
            "The event first sent with this Idempotency-Key has not finished: it is still "
            "running, or was cut off before its end could be recorded. It is not run again; "
            "read it with GET /e/<event_id>.",
            event_id=original["id"],
        )
    if original["status"] == states.FAILED:
        original["message"] = failure_message(original["error"])
    original["replayed"] = True
    return original


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
    outcome = run_event(plan, data, caller, lambda step: None, sleep=lambda seconds: None)
    steps = [
        {**call, "index": index, "service": plan.steps[index].service}
        for call, index in zip(caller.calls, caller.steps, strict=True)
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
