"""Run an event, one step at a time: each call to `advance` runs the workflow from the state's
cursor through its next service call, and returns the state to save.

The run state is all an event needs to go on after a crash: the running data, the cursor (the
position of the next node to run) and, once it ends, its status, outputs or error. Listeners hear
of every attempt, every step's end and the event's end; the store, webhooks and metrics are
listeners, so the executor itself knows no store, no HTTP library and no web framework.
"""

import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from machinery import states
from machinery.engine.failures import StepFailed
from machinery.engine.operations import apply, evaluate
from machinery.engine.retries import call_with_retries
from machinery.language.model import (
    Call,
    CallSettings,
    Field,
    Operation,
    Ref,
    Service,
    Workflow,
    call_settings,
)
from machinery.language.paths import Missing, format_path, resolve
from machinery.language.types import matches, type_of

__all__ = [
    "CallOptions",
    "Caller",
    "Listener",
    "Listeners",
    "RunState",
    "StepFailed",
    "advance",
    "contract_violations",
    "fail_step",
    "next_call",
    "run_to_end",
    "start",
]


CALLBACK = "callback"
# The header that gives a callback service the URL to post its result to.
CALLBACK_HEADER = "X-Machinery-Callback-Url"


@dataclass(frozen=True)
class CallOptions:
    """How to make one call: the headers to send, and (connect, read) timeouts if not default."""

    headers: Mapping[str, str]
    timeout: tuple[float | None, float | None] | None = None
    # False for a callback service, whose answer only acknowledges the call: any 2xx will do.
    expect_answer: bool = True


# caller(address, payload, options) -> (HTTP status, JSON object answered); raises StepFailed.
Caller = Callable[[str, dict, CallOptions], tuple[int, dict]]


@dataclass(frozen=True)
class RunState:
    """Where an event is: what the store saves after every step."""

    status: str
    cursor: int  # the position, in the workflow's steps, of the next node to run
    running: dict  # the running data
    outputs: dict | None = None
    error: dict | None = None

    @property
    def finished(self) -> bool:
        return self.status in states.FINAL_STATES


def start(data: Mapping) -> RunState:
    """The state of an event about to run its first step."""
    return RunState(status=states.RUNNING, cursor=0, running=dict(data))


class Listener:
    """What hears of an event's progress. Each method may raise to stop the run (a lost lease)."""

    def on_attempt(self, call: Call, attempt: dict) -> None:
        """An attempt at a step's call ended (it is in the step's record too)."""

    def on_step_end(self, record: dict, state: RunState) -> None:
        """A step ended, succeeded or failed: its record, and the state after it."""

    def on_step_wait(self, record: dict, state: RunState) -> None:
        """A callback service acknowledged its call: the step waits for the result it posts."""

    def on_event_end(self, state: RunState) -> None:
        """The event ended: succeeded or failed."""


@dataclass
class Listeners(Listener):
    """Several listeners, told in order (the store first: later ones hear of what is kept)."""

    listeners: list[Listener] = field(default_factory=list)

    def on_attempt(self, call, attempt):
        for listener in self.listeners:
            listener.on_attempt(call, attempt)

    def on_step_end(self, record, state):
        for listener in self.listeners:
            listener.on_step_end(record, state)

    def on_step_wait(self, record, state):
        for listener in self.listeners:
            listener.on_step_wait(record, state)

    def on_event_end(self, state):
        for listener in self.listeners:
            listener.on_event_end(state)


def advance(
    workflow: Workflow,
    services: Mapping[str, Service],
    state: RunState,
    caller: Caller,
    listener: Listener,
    *,
    event_id: str = "",
    may_have_been_sent: bool = False,
    recorded: dict | None = None,
    callback_url: Callable[[Call], str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> RunState:
    """Run the operations at the cursor, the next service call and the operations after it.

    `may_have_been_sent`: the process that ran this state before died, so the call at the cursor
    may have reached its service; it is made again only where that is safe (an idempotent
    service, or a step allowing it), otherwise the event fails as interrupted.
    `recorded`: the record of the call at the cursor, kept by a process that died before it
    saved the state after it (or the result a callback service posted); a succeeded step's
    answer is used, its service not called again.
    `callback_url(call)`: the URL a callback service posts its result to (it raises StepFailed
    when none can be made); the step then waits (status `waiting`). None: callback services'
    answers are taken as their results (a dry run).
    """
    if state.finished:
        return state
    steps = workflow.steps
    cursor, running = _operate(steps, state.cursor, state.running)
    if cursor < len(steps):
        call = steps[cursor]
        service = services[call.service]
        settings = call_settings(call, service)
        record = _record(call, service)
        if recorded is not None and recorded.get("error") is None:
            return _merge(workflow, call, service, recorded, running, cursor, listener)
        if may_have_been_sent and not settings.repeatable:
            failure = StepFailed(
                states.INTERRUPTED,
                "the event was cut off while this step may have been calling the service, "
                "which is not idempotent: it is not called again (redrive the event to do so)",
            )
            return _fail(call, service, record, failure, [], running, cursor, listener)
        attempts: list[dict] = []
        started = time.perf_counter()
        status_code, answer = None, None
        waits = service.mode == CALLBACK and callback_url is not None
        try:
            payload = step_payload(call, service, running)
            headers = {CALLBACK_HEADER: callback_url(call)} if waits else {}
            attempt = _attempt(
                caller,
                call,
                service.address,
                settings,
                payload,
                event_id,
                attempts,
                listener,
                headers,
            )
            status_code, answer = call_with_retries(
                attempt, settings.retry, settings.repeatable, sleep
            )
            if waits:
                record.update(
                    duration_ms=_elapsed_ms(started),
                    status_code=status_code,
                    outputs=None,
                    error=None,
                    attempts=attempts,
                )
                waiting = RunState(states.WAITING, cursor, running)
                listener.on_step_wait(record, waiting)
                return waiting
            violations = contract_violations(service.outputs, answer)
            if violations:
                raise StepFailed(
                    states.CONTRACT_VIOLATION, "; ".join(violations) + ".", status_code
                )
        except StepFailed as failure:
            record.update(duration_ms=_elapsed_ms(started), outputs=answer)
            return _fail(call, service, record, failure, attempts, running, cursor, listener)
        record.update(
            duration_ms=_elapsed_ms(started),
            status_code=status_code,
            outputs=answer,
            error=None,
            attempts=attempts,
        )
        return _merge(workflow, call, service, record, running, cursor, listener)
    finished = _succeed(workflow, RunState(states.RUNNING, cursor, running))
    listener.on_event_end(finished)
    return finished


def run_to_end(
    workflow: Workflow,
    services: Mapping[str, Service],
    state: RunState,
    caller: Caller,
    listener: Listener,
    *,
    may_have_been_sent: bool = False,
    recorded: dict | None = None,
    **options,
) -> RunState:
    """Advance until the event ends (the loop a dry run is); what is said of the call at the
    cursor (`may_have_been_sent`, `recorded`) holds for the first advance only."""
    first = {"may_have_been_sent": may_have_been_sent, "recorded": recorded}
    while not state.finished and state.status != states.WAITING:
        state = advance(workflow, services, state, caller, listener, **first, **options)
        first = {}
    return state


def fail_step(
    workflow: Workflow,
    services: Mapping[str, Service],
    state: RunState,
    failure: StepFailed,
    listener: Listener,
    record: dict | None = None,
) -> RunState:
    """End the event at the call at its cursor with a failure found outside a call (a callback
    that never came); `record`: what is known of the step so far."""
    cursor, running = _operate(workflow.steps, state.cursor, state.running)
    call = workflow.steps[cursor]
    service = services[call.service]
    record = {**_record(call, service), **(record or {})}
    attempts = record.get("attempts") or []
    return _fail(call, service, record, failure, attempts, running, cursor, listener)


def next_call(workflow: Workflow, cursor: int) -> Call | None:
    """The call the event at this cursor makes next (None: none is left)."""
    return next((node for node in workflow.steps[cursor:] if isinstance(node, Call)), None)


def request_headers(event_id: str, index: int) -> dict[str, str]:
    """What every call says about itself: the event and step, a key stable across retries, and
    a W3C traceparent whose trace is the event (a new span each attempt)."""
    trace_id = (event_id + "0" * 32)[:32] if event_id else secrets.token_hex(16)
    return {
        "Idempotency-Key": f"{event_id}-{index}",
        "X-Machinery-Event-Id": event_id,
        "X-Machinery-Step": str(index),
        "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01",
    }


def step_payload(call: Call, service: Service, running: dict) -> dict:
    """What a step's service receives: each input it declares, mapped or taken by name.

    An optional input that finds nothing is left out; a required one fails the step
    (missing_input) before its service is called.
    """
    payload = {}
    for spec in service.inputs:
        source = call.input_map.get(spec.name) or Ref((spec.name,))
        try:
            payload[spec.name] = evaluate(source, running)
        except Missing:
            if not spec.required:
                continue
            raise StepFailed(
                states.MISSING_INPUT,
                f"input {spec.name!r} is required, but {format_path(source.path)!r} is not in "
                "the running data.",
                sent=False,
            ) from None
    return payload


def merge_answer(call: Call, service: Service, running: dict, answer: dict) -> dict:
    """The running data with a step's answer: its declared outputs (what the checker proved),
    or only what its output mapping names. The whole answer stays on the step's record."""
    merged = dict(running)
    if call.output_map is None:
        for output in service.outputs:
            if output.name in answer:
                merged[output.name] = answer[output.name]
        return merged
    for name, path in call.output_map.items():
        try:
            merged[name] = resolve(answer, path)
        except Missing:
            merged.pop(name, None)
    return merged


def contract_violations(declared: tuple[Field, ...], answer: dict) -> list[str]:
    """How an answer breaks the outputs its service declares (empty when it keeps to them)."""
    violations = []
    for output in declared:
        if output.name not in answer:
            if output.required:
                violations.append(f"output {output.name!r} ({output.type}) is missing")
        elif not matches(output.type, answer[output.name]):
            violations.append(
                f"output {output.name!r} is {type_of(answer[output.name])}, expected {output.type}"
            )
    return violations


def failure_message(error: dict) -> str:
    """Why an event failed, in one sentence."""
    if "step" not in error:  # cut off as a whole (interrupt-stale), not by one of its steps
        return f"The event failed ({error['kind']}): {error['message']}"
    return f"Step {error['step']} ({error['service']}) failed: {error['message']}"


def _record(call: Call, service: Service) -> dict:
    record = {
        "index": call.index,
        "service": call.service,
        "address": service.address,
        "started_at": datetime.now(UTC),
    }
    if service.version is not None:
        record["service_version"] = service.version
    return record


def _fail(call, service, record, failure: StepFailed, attempts, running, cursor, listener):
    message = failure.message
    if len(attempts) > 1:
        message += f" (after {len(attempts)} attempts)"
    record.setdefault("duration_ms", 0.0)
    record.setdefault("outputs", None)
    record.update(
        status_code=failure.status_code,
        error={"kind": failure.kind, "message": message},
        attempts=attempts,
    )
    error = {
        "step": call.index,
        "service": call.service,
        "address": service.address,
        "kind": failure.kind,
        "status_code": failure.status_code,
        "attempts": len(attempts),
        "message": message,
    }
    failed = RunState(states.FAILED, cursor, running, error=error)
    listener.on_step_end(record, failed)
    listener.on_event_end(failed)
    return failed


def _merge(workflow, call, service, record, running, cursor, listener) -> RunState:
    """The state after a succeeded step, told to the listener."""
    steps = workflow.steps
    merged = merge_answer(call, service, running, record["outputs"])
    cursor, running = _operate(steps, cursor + 1, merged)
    after = RunState(states.RUNNING, cursor, running)
    if cursor == len(steps):
        after = _succeed(workflow, after)
    listener.on_step_end(record, after)
    if after.finished:
        listener.on_event_end(after)
    return after


def _succeed(workflow: Workflow, state: RunState) -> RunState:
    names = [output.name for output in workflow.outputs]
    running = state.running
    outputs = {name: running[name] for name in names if name in running} if names else running
    return replace(state, status=states.SUCCEEDED, outputs=outputs)


def _operate(steps, cursor: int, running: dict) -> tuple[int, dict]:
    """Apply the operations from the cursor up to the next call: (its position, the data)."""
    while cursor < len(steps) and isinstance(steps[cursor], Operation):
        running = apply(steps[cursor], running)
        cursor += 1
    return cursor, running


def _attempt(
    caller: Caller,
    call: Call,
    address: str,
    settings: CallSettings,
    payload: dict,
    event_id: str,
    log: list,
    listener: Listener,
    headers: Mapping[str, str],
):
    """One attempt at a step's call, noted in the log (and told to the listener) however it
    ends."""

    def attempt(number: int) -> tuple[int, dict]:
        entry = {"attempt": number, "started_at": datetime.now(UTC)}
        started = time.perf_counter()
        options = CallOptions(
            headers={**request_headers(event_id, call.index), **headers},
            timeout=settings.timeout,
            expect_answer=CALLBACK_HEADER not in headers,
        )
        try:
            status_code, answer = caller(address, payload, options)
        except StepFailed as failure:
            entry.update(
                duration_ms=_elapsed_ms(started),
                outcome="failed",
                status_code=failure.status_code,
                error_kind=failure.kind,
                error=failure.message,
            )
            log.append(entry)
            listener.on_attempt(call, entry)
            raise
        entry.update(duration_ms=_elapsed_ms(started), outcome="succeeded", status_code=status_code)
        log.append(entry)
        listener.on_attempt(call, entry)
        return status_code, answer

    return attempt


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
