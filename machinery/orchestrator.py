"""Events, from acceptance to their end: accept one for a workflow, drive it through its steps
(here, for a synchronous event, or in a worker), cancel it, redrive it, wait for it.

Driving an event is a loop over the executor's `advance`, with the store as the first listener:
each step is recorded and the run state saved before the next step starts, under the lease of
the process driving it. A process that loses its lease (another one took the event over) stops
without writing anything more.
"""

import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from machinery import logs, states, tracing
from machinery.callbacks import ForgedToken
from machinery.catalog import pins
from machinery.contracts import check_definition, services_for
from machinery.credentials import MissingSecret, credential_headers, secret_header_names
from machinery.engine import dry_run as dry_runs
from machinery.engine.executor import (
    ITEM_HEADER,
    CallOptions,
    Listener,
    Listeners,
    RunState,
    StepFailed,
    advance,
    as_cursor,
    as_path,
    contract_violations,
    fail_step,
    failure_message,
    next_call,
)
from machinery.errors import Conflict, Forbidden, Gone, InvalidData, NotFound
from machinery.language.model import Workflow, call_settings
from machinery.language.parse import fields_of
from machinery.language.subworkflows import callees
from machinery.language.types import check_fields
from machinery.runtime import Runtime
from machinery.store.documents import now

log = logging.getLogger(__name__)

# Durability, as Step Functions' Standard and Express workflows: the run state saved after every
# step, or once, at the end.
STEP = "step"
EVENT = "event"
DURABILITIES = (STEP, EVENT)


class LeaseLost(Exception):
    """Another process holds the event now: this one writes nothing more."""


@dataclass
class EventRecorder(Listener):
    """The store as a listener: saves the run state with each step's record (durability
    "step"), or everything at the end in one write (durability "event"), and stores the end."""

    runtime: Runtime
    event_id: str
    run: int
    fence: int
    per_step: bool = True
    cancel_requested: bool = False
    final: dict | None = None
    waiting: dict | None = None
    # The nonce and the seconds to wait of the callback URL last given to a callback service.
    pending_callback: tuple[str, float] | None = None
    # Records not written yet: kept with the end (or all of them, with durability "event").
    unsaved: list = field(default_factory=list)
    workflow: Workflow | None = None  # to say which step runs next
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def on_step_end(self, record: dict, state: RunState) -> None:
        self.unsaved.append({**record, "run": self.run})
        if state.finished or not self.per_step:
            return
        following = None if self.workflow is None else next_call(self.workflow, state.cursor)
        saved = self.runtime.store.events.checkpoint(
            self.event_id,
            self.fence,
            state.cursor,
            state.running,
            self.runtime.lease_s,
            current_step=None if following is None else following.index,
            records=self.unsaved,
        )
        if saved is None:
            raise LeaseLost(self.event_id)
        self.unsaved = []
        self.cancel_requested = bool(saved.get("cancel_requested"))

    def on_branch_step(self, record: dict) -> None:
        """A parallel's or a map's call ended: with durability "step", its record is kept at
        once, so that the construct, resumed after a crash, does not make it again."""
        with self._lock:
            if not self.per_step:
                self.unsaved.append({**record, "run": self.run})
                return
            if not self.runtime.store.events.record(
                self.event_id, self.fence, [{**record, "run": self.run}]
            ):
                raise LeaseLost(self.event_id)

    def on_mark(self, record: dict) -> None:
        with self._lock:
            self.unsaved.append({**record, "run": self.run})

    def on_wait(self, state: RunState) -> None:
        """Leave the event waiting until its time, its state and records saved (whatever the
        durability: nothing holds it meanwhile)."""
        self.waiting = self.runtime.store.events.sleep(
            self.event_id,
            self.fence,
            state.cursor,
            state.running,
            state.wake_at,
            records=self.unsaved,
        )
        if self.waiting is None:
            raise LeaseLost(self.event_id)
        self.unsaved = []

    def on_step_wait(self, record: dict, state: RunState) -> None:
        nonce, wait_s = self.pending_callback
        self.waiting = self.runtime.store.events.wait(
            self.event_id, self.fence, self.run, record, nonce, wait_s
        )
        if self.waiting is None:
            raise LeaseLost(self.event_id)

    def on_event_end(self, state: RunState) -> None:
        self.final = self.runtime.store.events.finish(
            self.event_id,
            self.fence,
            state.status,
            state.outputs if state.outputs is not None else {},  # none: a failed event's
            state.error,
            cursor=state.cursor,
            running=state.running,
            records=self.unsaved,
        )
        if self.final is None:
            raise LeaseLost(self.event_id)
        self.unsaved = []


@dataclass
class Submission:
    """What a client sent: the workflow, the body, and how it wants the event run."""

    workflow: str
    body: dict
    key: str | None = None
    asynchronous: bool = False
    callback_url: str | None = None
    durability: str | None = None  # None: the workflow's
    extra_listeners: list = field(default_factory=list)
    # The trace the request continues (from its traceparent), and the request's id.
    trace_id: str | None = None
    parent_span_id: str | None = None
    request_id: str | None = None


def submit_event(runtime: Runtime, submission: Submission) -> dict:
    """Accept an event; run it here to its end unless it is asynchronous; return the event.

    With an idempotency key used before for the workflow, the event is not accepted again: the
    original is returned (once it has ended, for a synchronous one, waiting up to the
    idempotency wait; Conflict if it has not ended by then).
    """
    store = runtime.store
    workflow, services, model, models = current_definitions(runtime, submission.workflow)
    data = event_data(workflow, submission.body)
    require_inputs(workflow, data)
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
        durability=submission.durability or model.durability,
        trace={
            k: v
            for k, v in (
                ("trace_id", submission.trace_id),
                ("parent_span_id", submission.parent_span_id),
                ("request_id", submission.request_id),
            )
            if v
        },
    )
    if not created:
        return replay(runtime, event, digest)
    if submission.asynchronous:
        runtime.notify_workers()
        return summary(event)
    return drive(runtime, event, (model, models)) or _still_running(runtime, event)


def current_definitions(runtime: Runtime, ref: str) -> tuple:
    """The current workflow named or identified by `ref` and the services it calls: their
    documents and their models, kept per process while a change stream watches them (see
    store/current.py), read from the store otherwise."""

    def load() -> tuple:
        workflow = runtime.store.workflows.get(ref)
        services = services_for(runtime.store, workflow)
        model = runtime.catalog.workflow(workflow)
        models = {name: runtime.catalog.service(document) for name, document in services.items()}
        return workflow, services, model, models

    return runtime.store.current.read(("event", ref), load)


def drive(
    runtime: Runtime, event: dict, definitions=None, previous: str = states.QUEUED
) -> dict | None:
    """Run a claimed event to its end (or until it waits for a callback, this process stops or
    loses it); return the event as it ended or waits, or None when this process let it go.

    `previous`: the status the event had when it was claimed: `running` when the process that
    ran it died (the call at its cursor may have been made), `waiting` when the callback it waited
    for is overdue.
    """
    workflow, services = definitions or runtime.catalog.for_event(event)
    event_id, run = event["id"], event.get("run", 0)
    per_step = event.get("durability", STEP) == STEP
    recorder = EventRecorder(runtime, event_id, run, event["fence"], per_step=per_step)
    recorder.workflow = workflow
    others = [*runtime.listeners, *(make(event) for make in runtime.event_listeners)]
    others.append(StepLog())
    sent = SentRequests()
    trace_id = event.get("trace_id") or tracing.event_trace_id(event_id)
    spans = runtime.telemetry.for_event(event, trace_id) if runtime.telemetry else None
    if spans is not None:
        others.append(spans)
    listener = Listeners([sent, recorder, *others])
    caller = traced_caller(
        runtime, services, workflow, trace_id, event.get("request_id"), sent, spans
    )
    cursor = as_cursor(as_path(event.get("cursor", 0)))
    state = RunState(states.RUNNING, cursor, event.get("running", event["data"]))

    def callback_url(call) -> str:
        url, nonce = runtime.callbacks.issue(event_id, run, call.index)
        read_timeout = call_settings(call, services[call.service]).timeout
        wait_s = (read_timeout and read_timeout[1]) or runtime.callback_timeout_s
        recorder.pending_callback = (nonce, wait_s)
        return url

    options = {
        "event_id": event_id,
        "sleep": runtime.sleep,
        "callback_url": callback_url,
        "limits": runtime.limits,
    }
    runtime.leases.hold(event_id)
    context = logs.bind(
        event_id=event_id,
        workflow=event.get("workflow"),
        trace_id=trace_id,
        request_id=event.get("request_id"),
    )
    try:
        if event.get("cancel_requested"):
            return _cancel(runtime, recorder, state, others)
        timer = (event.get("waiting") or {}).get("kind") == states.WAITING_FOR_TIME
        if previous == states.WAITING and not timer:
            return _overdue(runtime, event, workflow, services, state, listener, recorder)
        if previous == states.WAITING:
            _woken(event, recorder)
        # What is known of the call at the cursor: the process running it died (so it may have
        # been made), or a callback service posted its result.
        cut_off = previous == states.RUNNING
        if cut_off and not per_step:
            # Nothing was saved since the event (or its redrive) started: it runs again from
            # there, where every service it calls may be called again.
            if not _repeatable(workflow, services):
                return _interrupted(workflow, services, state, listener, recorder)
            cut_off = False
        first = {
            "may_have_been_sent": cut_off,
            "recorded": _posted(event, workflow),
            "replay": _made(event) if cut_off else None,
        }
        while not state.finished and state.status != states.WAITING:
            if recorder.cancel_requested:
                return _cancel(runtime, recorder, state, others)
            if runtime.stopping.is_set():
                runtime.store.events.release(event_id, recorder.fence)
                return None
            state = advance(workflow, services, state, caller, listener, **first, **options)
            first = {}
    except LeaseLost:
        return None
    finally:
        runtime.leases.let_go(event_id)
        logs.unbind(context)
        if spans is not None:
            spans.end()
    return _ended(recorder.waiting if state.status == states.WAITING else recorder.final)


class SentRequests(Listener):
    """Keeps what each step sent (its last attempt's headers, redacted, and body) on its record,
    before the store hears of it; the store bounds its size."""

    def __init__(self):
        self.last: dict[tuple[int, str], dict] = {}

    def note(self, step: tuple[int, str], headers, payload: dict, secret=frozenset()) -> None:
        """What the call of `step` (its index, and its map item or "") sent."""
        hidden = logs.SECRET_HEADERS | secret
        shown = {
            name: (logs.REDACTED if name.lower() in hidden else value)
            for name, value in headers.items()
        }
        self.last[step] = {"headers": shown, "body": payload}

    def on_step_end(self, record: dict, state: RunState) -> None:
        if "construct" in record:  # a parallel's or a map's end: it sent nothing itself
            return
        sent = self.last.get((record["index"], record.get("instance") or ""))
        if sent is not None:
            record["request"] = sent

    on_step_wait = on_step_end

    def on_branch_step(self, record: dict) -> None:
        self.on_step_end(record, None)


class StepLog(Listener):
    """A log line per step (a succeeded one at debug level, a failed one as a warning) and one
    per event end: what ran, how it ended; never data."""

    def on_step_end(self, record: dict, state: RunState) -> None:
        if "construct" in record:
            return
        error = record.get("error")
        with logs.bound(step=record["index"], service=record["service"]):
            if error:
                log.warning(
                    "Step failed (%s) after %.1f ms: %s",
                    error["kind"],
                    record.get("duration_ms") or 0.0,
                    error["message"],
                )
            else:
                log.debug("Step succeeded in %.1f ms", record.get("duration_ms") or 0.0)

    def on_branch_step(self, record: dict) -> None:
        self.on_step_end(record, None)

    def on_event_end(self, state: RunState) -> None:
        log.info("Event %s", state.status)


def traced_caller(runtime: Runtime, services, workflow, trace_id, request_id, sent, spans=None):
    """The runtime's caller, sending each call within the event's trace (a new span each
    attempt, exported as a client span when OpenTelemetry is on) with the request's id and the
    service's credentials (a step fails as missing_secret, its service not called, when the
    secret is not set), and logging with the step and service bound."""
    by_index = {call.index: call.service for call in workflow.calls}

    def call(address: str, payload: dict, options: CallOptions):
        headers = dict(options.headers)
        if request_id:
            headers[tracing.REQUEST_ID_HEADER] = request_id
        step = headers.get("X-Machinery-Step")
        index = int(step) if step and step.isdigit() else None
        key = (index, headers.get(ITEM_HEADER, ""))  # a map's items call the same step
        service = services.get(by_index.get(index))
        traced = spans is not None and index is not None
        span_id = spans.start_call(key, by_index[index], address) if traced else None
        headers[tracing.TRACEPARENT_HEADER] = tracing.child_traceparent(trace_id, span_id)
        auth = service.auth.spec() if service is not None and service.auth else None
        with logs.bound(step=index, service=by_index.get(index)):
            if auth:
                try:
                    headers.update(credential_headers(auth, runtime.secrets))
                except MissingSecret as missing:
                    if traced:
                        spans.end_call(key, None, states.MISSING_SECRET)
                    raise StepFailed(states.MISSING_SECRET, str(missing), sent=False) from None
            if index is not None:
                sent.note(key, headers, payload, secret_header_names(auth))
            try:
                status_code, answer = runtime.caller(
                    address, payload, replace(options, headers=headers)
                )
            except StepFailed as failure:
                if traced:
                    spans.end_call(key, failure.status_code, f"{failure.kind}: {failure.message}")
                raise
            if traced:
                spans.end_call(key, status_code, None)
            return status_code, answer

    return call


def cancel_event(runtime: Runtime, event_id: str) -> dict:
    """Cancel a queued event, or have a running one stop before its next step."""
    event = runtime.store.events.cancel(event_id)
    if event["status"] == states.CANCELLED:  # ended here: no run will tell its listeners
        cancelled = RunState(states.CANCELLED, event.get("cursor", 0), {})
        for make in runtime.event_listeners:
            make(event).on_event_end(cancelled)
    return summary(event)


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


def post_callback(runtime: Runtime, token: str, result: dict) -> dict:
    """Take the result a callback service posts for its step: checked against the outputs the
    service declares (InvalidData, recorded, the step still waiting), kept once, and the event
    queued to go on."""
    claim, event = _waiting_event(runtime, token)
    workflow, services = runtime.catalog.for_event(event)
    call = next_call(workflow, event["cursor"])
    service = services[call.service]
    violations = contract_violations(service.outputs, result)
    if violations:
        message = "; ".join(violations) + "."
        rejection = {"at": time.time(), "kind": states.CONTRACT_VIOLATION, "message": message}
        runtime.store.events.reject_callback(claim.event_id, claim.nonce, rejection)
        raise InvalidData(
            f"The result does not keep to the outputs {service.name} declares: {message} The "
            "step goes on waiting for a result that does.",
            violations=violations,
        )
    waiting = event["waiting"]
    record = {**waiting["record"], "outputs": result, "callback_at": now()}
    if not runtime.store.events.complete_callback(claim.event_id, claim.nonce, record):
        raise Conflict("This callback URL was used already.")
    runtime.notify_workers()
    return summary(runtime.store.events.get(claim.event_id, with_steps=False))


def heartbeat_callback(runtime: Runtime, token: str) -> dict:
    """Move the deadline of a waiting step by its whole wait again (a long task's heartbeat)."""
    claim, event = _waiting_event(runtime, token)
    deadline = time.time() + event["waiting"]["wait_s"]
    if not runtime.store.events.extend_deadline(claim.event_id, claim.nonce, deadline):
        raise Conflict("This callback URL was used already.")
    return summary(runtime.store.events.get(claim.event_id, with_steps=False))


def _waiting_event(runtime: Runtime, token: str):
    """The claim of a callback token and the event waiting for it: Forbidden for a token
    Machinery did not issue, Gone past the deadline, Conflict when it was used."""
    try:
        claim = runtime.callbacks.read(token)
    except ForgedToken as error:
        log.warning("Refused a callback with a forged token: %s", error)
        raise Forbidden(f"This is not a callback URL Machinery issued ({error}).") from None
    event = runtime.store.events.waiting_for(claim.event_id, claim.nonce)
    if event is None:
        raise _not_waiting(runtime, claim)
    if time.time() > event["waiting"]["deadline"]:
        raise Gone("The step's deadline has passed: the event no longer takes its result.")
    return claim, event


def _not_waiting(runtime: Runtime, claim) -> Conflict | Gone:
    """Why an event is not waiting for this callback: used, expired, or ended otherwise."""
    try:
        event = runtime.store.events.get(claim.event_id, with_steps=False)
    except NotFound:
        return Gone("The event of this callback URL no longer exists.")
    error = event.get("error") or {}
    if error.get("step") == claim.step and error.get("kind") == states.TIMEOUT:
        return Gone("The step's deadline passed: the event failed without this result.")
    if event["status"] == states.CANCELLED and event.get("run", 0) == claim.run:
        return Conflict("The event was cancelled.", event_status="cancelled")
    return Conflict("This callback URL was used already.")


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
    errors = check_fields(fields_of(workflow["inputs"]), data)
    if errors:
        raise InvalidData(
            f"The event data does not match the inputs of workflow {workflow['name']!r}.",
            errors=errors,
        )


def dry_run(
    runtime: Runtime,
    workflow: dict,
    data: dict | None,
    samples: dict,
    branches: dict | None = None,
) -> dict:
    """Walk a workflow without calling any service: supplied or made-up answers stand in, and
    `branches` may say which branch a choice takes, by its place."""
    store = runtime.store
    services = services_for(store, workflow)
    analysis = check_definition(store, workflow, services, runtime.limits)
    model = runtime.catalog.parse_unsaved(workflow)
    models = {name: runtime.catalog.service(document) for name, document in services.items()}
    if data is None:
        data = dry_runs.sample_data(model.inputs)
    require_inputs(workflow, data)
    chosen = dry_runs.branch_choices(model, branches or {})
    state, calls = dry_runs.dry_run(model, models, data, samples, chosen)
    return {
        "workflow": workflow["name"],
        "status": state.status,
        "data": data,
        "outputs": state.outputs or {},
        "error": state.error,
        "steps": calls,
        "warnings": analysis.warnings,
    }


def _repeatable(workflow: Workflow, services) -> bool:
    """Whether every call of the workflow may be made again (durability "event" after a crash)."""
    calls = [*workflow.calls, *(c for callee in callees(workflow) for c in callee.calls)]
    return all(call_settings(c, services[c.service]).repeatable for c in calls)


def _interrupted(workflow, services, state, listener, recorder) -> dict | None:
    """End an event run with durability "event" that was cut off, when not every service it calls
    may be called again: nothing of its run was saved, so it cannot go on safely."""
    failure = StepFailed(
        states.INTERRUPTED,
        'the event (durability "event", which saves nothing until its end) was cut off, and '
        "not every service it calls is idempotent: it is not run again (redrive it to do so)",
    )
    fail_step(workflow, services, state, failure, listener)
    return _ended(recorder.final)


def _woken(event: dict, recorder: EventRecorder) -> None:
    """The wait this event's time has come for: its record says it is over, and how long it
    lasted (kept with the next state saved)."""
    run = event.get("run", 0)
    for record in (event.get("steps") or {}).values():
        if not isinstance(record, dict) or record.get("run") != run:
            continue
        if record.get("construct") == "wait" and record.get("outcome") == states.WAITING:
            ended = {**record, "outcome": states.SUCCEEDED}
            started = record.get("started_at")
            if isinstance(started, datetime):
                started = started if started.tzinfo else started.replace(tzinfo=UTC)
                ended["duration_ms"] = round((datetime.now(UTC) - started).total_seconds() * 1e3, 3)
            recorder.on_mark(ended)


def _made(event: dict) -> dict:
    """The calls this run of the event made and recorded, by (call index, instance)."""
    run = event.get("run", 0)
    made = {}
    for record in (event.get("steps") or {}).values():
        if isinstance(record, dict) and record.get("run") == run and "index" in record:
            made[(record["index"], record.get("instance") or "")] = record
    return made


def _posted(event: dict, workflow: Workflow) -> dict | None:
    """The record of the call at the cursor with the result a callback service posted for it."""
    waiting = event.get("waiting") or {}
    call = next_call(workflow, event.get("cursor", 0))
    if not waiting.get("result") or call is None:
        return None
    if (waiting.get("run"), waiting.get("step")) != (event.get("run", 0), call.index):
        return None
    return waiting["result"]


def _overdue(runtime, event, workflow, services, state, listener, recorder) -> dict | None:
    """End the event whose callback service did not post its result in time."""
    failure = StepFailed(
        states.TIMEOUT, "the callback service posted no result before the step's deadline"
    )
    fail_step(workflow, services, state, failure, listener, event["waiting"]["record"])
    return _ended(recorder.final)


def _cancel(runtime: Runtime, recorder: EventRecorder, state: RunState, listeners) -> dict | None:
    ended = runtime.store.events.finish(
        recorder.event_id,
        recorder.fence,
        states.CANCELLED,
        {},
        None,
        cursor=state.cursor,
        running=state.running,
        records=recorder.unsaved,
    )
    if ended is not None:
        cancelled = RunState(states.CANCELLED, state.cursor, state.running)
        for listener in listeners:
            listener.on_event_end(cancelled)
    return _ended(ended)


def _ended(event: dict | None) -> dict | None:
    return None if event is None else summary(event)


def _still_running(runtime: Runtime, event: dict) -> dict:
    """A synchronous event this process stopped driving (it lost the lease, or is stopping)."""
    return summary(runtime.store.events.get(event["id"], with_steps=False))
