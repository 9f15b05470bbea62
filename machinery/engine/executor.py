"""Run an event: call each step's service in order and thread its answer into the running data."""

import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from machinery.datatypes import matches, type_of
from machinery.engine import states
from machinery.engine.failures import StepFailed
from machinery.engine.operations import apply, evaluate
from machinery.engine.paths import Missing, format_path, resolve
from machinery.engine.plan import Field, Plan, Ref, Step
from machinery.engine.retries import call_with_retries

__all__ = [
    "CallOptions",
    "Plan",
    "Step",
    "StepFailed",
    "Outcome",
    "run_event",
    "contract_violations",
]


@dataclass
class Outcome:
    """How an event ended: its status, its outputs and, when it failed, why."""

    status: str
    outputs: dict = field(default_factory=dict)
    error: dict | None = None
    steps: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class CallOptions:
    """How to make one call: the headers to send, and (connect, read) timeouts if not default."""

    headers: Mapping[str, str]
    timeout: tuple[float | None, float | None] | None = None


# call(address, payload, options) -> (HTTP status, JSON object answered); raises StepFailed.
Call = Callable[[str, dict, CallOptions], tuple[int, dict]]
# record_step(step) stores a finished step before the next one starts.
RecordStep = Callable[[dict], None]


def run_event(
    plan: Plan,
    data: Mapping,
    call: Call,
    record_step: RecordStep,
    event_id: str = "",
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    """Run every step of the plan on the event data, recording each step as it finishes."""
    running = _operate(plan, -1, dict(data))
    outcome = Outcome(status=states.SUCCEEDED)
    for index, step in enumerate(plan.steps):
        record = {
            "index": index,
            "service": step.service,
            "address": step.address,
            "started_at": datetime.now(UTC),
        }
        if step.version is not None:
            record["service_version"] = step.version
        started = time.perf_counter()
        status_code, answer = None, None
        attempts: list[dict] = []
        try:
            payload = step_payload(step, running)
            status_code, answer = call_with_retries(
                _attempt(call, step, payload, event_id, index, attempts),
                step.retry,
                step.repeatable,
                sleep,
            )
            violations = contract_violations(step.outputs, answer)
            if violations:
                raise StepFailed(
                    states.CONTRACT_VIOLATION, "; ".join(violations) + ".", status_code
                )
        except StepFailed as failure:
            message = failure.message
            if len(attempts) > 1:
                message += f" (after {len(attempts)} attempts)"
            record.update(
                duration_ms=_elapsed_ms(started),
                status_code=failure.status_code,
                outputs=answer,
                error={"kind": failure.kind, "message": message},
                attempts=attempts,
            )
            outcome.steps.append(record)
            record_step(record)
            outcome.status = states.FAILED
            outcome.error = {
                "step": index,
                "service": step.service,
                "address": step.address,
                "kind": failure.kind,
                "status_code": failure.status_code,
                "attempts": len(attempts),
                "message": message,
            }
            return outcome
        record.update(
            duration_ms=_elapsed_ms(started),
            status_code=status_code,
            outputs=answer,
            error=None,
            attempts=attempts,
        )
        outcome.steps.append(record)
        record_step(record)
        running = _operate(plan, index, merge_answer(step, running, answer))
    outcome.outputs = _pick_outputs(running, plan.outputs)
    return outcome


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


def _attempt(call: Call, step: Step, payload: dict, event_id: str, index: int, log: list):
    """One attempt at a step's call, noted in the log however it ends."""

    def attempt(number: int) -> tuple[int, dict]:
        entry = {"attempt": number, "started_at": datetime.now(UTC)}
        started = time.perf_counter()
        options = CallOptions(headers=request_headers(event_id, index), timeout=step.timeout)
        try:
            status_code, answer = call(step.address, payload, options)
        except StepFailed as failure:
            entry.update(
                duration_ms=_elapsed_ms(started),
                outcome="failed",
                status_code=failure.status_code,
                error_kind=failure.kind,
                error=failure.message,
            )
            log.append(entry)
            raise
        entry.update(duration_ms=_elapsed_ms(started), outcome="succeeded", status_code=status_code)
        log.append(entry)
        return status_code, answer

    return attempt


def step_payload(step: Step, running: dict) -> dict:
    """What a step's service receives: each input it declares, mapped or taken by name.

    An optional input that finds nothing is left out; a required one fails the step
    (missing_input) before its service is called.
    """
    payload = {}
    for name in step.inputs:
        source = step.input_map.get(name) or Ref((name,))
        try:
            payload[name] = evaluate(source, running)
        except Missing:
            if name in step.optional_inputs:
                continue
            raise StepFailed(
                states.MISSING_INPUT,
                f"input {name!r} is required, but {format_path(source.path)!r} is not in the "
                "running data.",
                sent=False,
            ) from None
    return payload


def merge_answer(step: Step, running: dict, answer: dict) -> dict:
    """The running data with a step's answer: its declared outputs (what the checker proved),
    or only what its output mapping names. The whole answer stays on the step's record."""
    if step.output_map is None:
        declared = {
            output.name: answer[output.name] for output in step.outputs if output.name in answer
        }
        return {**running, **declared}
    merged = dict(running)
    for name, path in step.output_map.items():
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


def _operate(plan: Plan, after: int, running: dict) -> dict:
    for operation in plan.operations_after(after):
        running = apply(operation, running)
    return running


def _pick_outputs(running: dict, names: tuple[str, ...]) -> dict:
    if not names:
        return running
    return {name: running[name] for name in names if name in running}


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
