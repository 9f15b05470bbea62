"""Events, from acceptance to their end: accept one for a workflow, drive it through its steps
(here, for a synchronous event, or in a worker), cancel it, redrive it, wait for it.

Driving an event is a loop over the executor's `advance`, with the store as the first listener:
each step is recorded and the run state saved before the next step starts, under the lease of
the process driving it. A process that loses its lease (another one took the event over) stops
without writing anything more.
"""

import hashlib
import json
import time
from dataclasses import dataclass, field

from machinery import states
from machinery.catalog import pins
from machinery.contracts import check_definition, services_for
from machinery.engine import dry_run as dry_runs
from machinery.engine.executor import (
    Listener,
    Listeners,
    RunState,
    advance,
    failure_message,
    next_call,
)
from machinery.errors import Conflict, InvalidData
from machinery.language.model import Workflow
from machinery.language.types import check_fields
from machinery.runtime import Runtime


class LeaseLost(Exception):
    """Another process holds the event now: this one writes nothing more."""


@dataclass
class EventRecorder(Listener):
    """The store as a listener: records each step, saves the run state, stores the end."""

    runtime: Runtime
    event_id: str
    run: int
    fence: int
    cancel_requested: bool = False
    final: dict | None = None

    def on_step_end(self, record: dict, state: RunState) -> None:
        events = self.runtime.store.events
        events.record_step(self.event_id, self.run, record)
        if state.finished:
            return
        saved = events.checkpoint(
            self.event_id,
            self.fence,
            state.cursor,
            state.running,
            self.runtime.lease_s,
            current_step=record["index"] + 1,  # steps run in the order of their indexes
        )
        if saved is None:
            raise LeaseLost(self.event_id)
        self.cancel_requested = bool(saved.get("cancel_requested"))

    def on_event_end(self, state: RunState) -> None:
        self.final = self.runtime.store.events.finish(
            self.event_id,
            self.fence,
            state.status,
            state.outputs if state.outputs is not None else {},  # none: a failed event's
            state.error,
            cursor=state.cursor,
            running=state.running,
        )
        if self.final is None:
            raise LeaseLost(self.event_id)


@dataclass
class Submission:
    """What a client sent: the workflow, the body, and how it wants the event run."""

    workflow: str
    body: dict
    key: str | None = None
    asynchronous: bool = False
    callback_url: str | None = None
    extra_listeners: list = field(default_factory=list)


def submit_event(runtime: Runtime, submission: Submission) -> dict:
    """Accept an event; run it here to its end unless it is asynchronous; return the event.

    With an idempotency key used before for the workflow, the event is not accepted again: the
    original is returned (once it has ended, for a synchronous one, waiting up to the
    idempotency wait; Conflict if it has not ended by then).
    """
    store = runtime.store
    workflow = store.workflows.get(submission.workflow)
    data = event_data(workflow, submission.body)
    require_inputs(workflow, data)
    services = services_for(store, workflow)
    model = runtime.catalog.workflow(workflow)
    models = {name: runtime.catalog.service(document) for name, document in services.items()}
    digest = fingerprint(data) if submission.key is not None else None
    owner = None if submission.asynchronous else runtime.leases.owner
    event, created = store.events.accept(
        workflow,
        pins(services),
        data,
        key=submission.key,
        fingerprint=digest,
        owner=owner,
        lease_s=runtime.lease_s,
        callback_url=submission.callback_url,
    )
    if not created:
        return replay(runtime, event, digest)
    if submission.asynchronous:
        runtime.notify_workers()
        return summary(event)
    return drive(runtime, event, (model, models), cut_off=False) or _still_running(runtime, event)


def drive(runtime: Runtime, event: dict, definitions=None, cut_off: bool = False) -> dict | None:
    """Run a claimed event to its end (or until this process stops or loses it); return the
    event as it ended, or None when it has not ended here."""
    workflow, services = definitions or runtime.catalog.for_event(event)
    event_id = event["id"]
    recorder = EventRecorder(runtime, event_id, event.get("run", 0), event["fence"])
    listener = Listeners([recorder, *runtime.listeners])
    state = RunState(states.RUNNING, event.get("cursor", 0), event.get("running", event["data"]))
    options = {"event_id": event_id, "sleep": runtime.sleep}
    runtime.leases.hold(event_id)
    try:
        if event.get("cancel_requested"):
            return _cancel(runtime, recorder, state)
        # What is known of the call at the cursor when the process running it died.
        recorded = _recorded(runtime, event, workflow) if cut_off else None
        first = {"may_have_been_sent": cut_off, "recorded": recorded}
        while not state.finished:
            if recorder.cancel_requested:
                return _cancel(runtime, recorder, state)
            if runtime.stopping.is_set():
                runtime.store.events.release(event_id, recorder.fence)
                return None
            state = advance(workflow, services, state, runtime.caller, listener, **first, **options)
            first = {}
    except LeaseLost:
        return None
    finally:
        runtime.leases.let_go(event_id)
    return _ended(recorder.final)


def cancel_event(runtime: Runtime, event_id: str) -> dict:
    """Cancel a queued event, or have a running one stop before its next step."""
    return summary(runtime.store.events.cancel(event_id))


def redrive_event(runtime: Runtime, event_id: str) -> dict:
    """Queue a failed or cancelled event again from the step that did not complete."""
    event = summary(runtime.store.events.redrive(event_id))
    runtime.notify_workers()
    return event


def wait_for_event(runtime: Runtime, event_id: str, wait_s: float) -> dict:
    """The event with its steps, once it has ended or `wait_s` seconds have passed."""
    deadline = time.monotonic() + wait_s
    pause = 0.02
    event = runtime.store.events.get(event_id, with_steps=False)
    while event["status"] not in states.FINAL_STATES and time.monotonic() < deadline:
        time.sleep(min(pause, max(deadline - time.monotonic(), 0)))
        pause = min(pause * 2, 0.5)
        event = runtime.store.events.get(event_id, with_steps=False)
    return describe(runtime.store.events.get(event_id))


def describe(event: dict) -> dict:
    """An event as GET /e/<id> shows it: with the step it is at while it runs."""
    if "cancel_requested" in event:
        event["cancel_requested"] = bool(event["cancel_requested"])
    if event["status"] == states.FAILED and event.get("error"):
        event["message"] = failure_message(event["error"])
    return event


def summary(event: dict) -> dict:
    """An event as answers show it: no data, no run state."""
    hidden = ("data", "running", "fingerprint", "lease_owner", "lease_until", "fence")
    return describe({key: value for key, value in event.items() if key not in hidden})


def fingerprint(data: dict) -> str:
    """A digest of event data, the same for the same data whatever the order of its keys."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def replay(runtime: Runtime, original: dict, digest: str) -> dict:
    """The event first sent with an idempotency key: at once when it was asynchronous, or once
    it has ended (or when waiting is over)."""
    if original.get("fingerprint") != digest:
        raise InvalidData(
            "This Idempotency-Key was already used with different data for this workflow.",
            errors={"Idempotency-Key": ["Already used with different data."]},
        )
    if original.get("lease_owner") is None and original["status"] == states.QUEUED:
        return {**summary(original), "replayed": True}
    deadline = time.monotonic() + runtime.idempotency_wait_s
    pause = 0.02
    while original["status"] not in states.FINAL_STATES and time.monotonic() < deadline:
        time.sleep(pause)
        pause = min(pause * 2, 0.5)
        original = runtime.store.events.get(original["id"], with_steps=False)
    if original["status"] not in states.FINAL_STATES:
        raise Conflict(
            "The event first sent with this Idempotency-Key has not finished: it is still "
            "running, or was cut off before its end could be recorded. It is not run again; "
            "read it with GET /e/<event_id>.",
            event_id=original["id"],
        )
    return {**summary(original), "replayed": True}


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


def dry_run(runtime: Runtime, workflow: dict, data: dict | None, samples: dict) -> dict:
    """Walk a workflow without calling any service: supplied or made-up answers stand in."""
    store = runtime.store
    services = services_for(store, workflow)
    analysis = check_definition(store, workflow, services)
    model = runtime.catalog.parse_unsaved(workflow)
    models = {name: runtime.catalog.service(document) for name, document in services.items()}
    if data is None:
        data = dry_runs.sample_data(model.inputs)
    require_inputs(workflow, data)
    state, calls = dry_runs.dry_run(model, models, data, samples)
    return {
        "workflow": workflow["name"],
        "status": state.status,
        "data": data,
        "outputs": state.outputs or {},
        "error": state.error,
        "steps": calls,
        "warnings": analysis.warnings,
    }


def _recorded(runtime: Runtime, event: dict, workflow: Workflow) -> dict | None:
    """The record of the call at the cursor, if a process that died after making it kept it."""
    call = next_call(workflow, event.get("cursor", 0))
    if call is None:
        return None
    return runtime.store.events.recorded_step(event["id"], event.get("run", 0), call.index)


def _cancel(runtime: Runtime, recorder: EventRecorder, state: RunState) -> dict | None:
    ended = runtime.store.events.finish(
        recorder.event_id,
        recorder.fence,
        states.CANCELLED,
        {},
        None,
        cursor=state.cursor,
        running=state.running,
    )
    if ended is not None:
        cancelled = RunState(states.CANCELLED, state.cursor, state.running)
        for listener in runtime.listeners:
            listener.on_event_end(cancelled)
    return _ended(ended)


def _ended(event: dict | None) -> dict | None:
    return None if event is None else summary(event)


def _still_running(runtime: Runtime, event: dict) -> dict:
    """A synchronous event this process stopped driving (it lost the lease, or is stopping)."""
    return summary(runtime.store.events.get(event["id"], with_steps=False))
