"""Run an event: call each step's service in order and thread its answer into the running data."""

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from machinery.engine import states


@dataclass(frozen=True)
class Step:
    """One call in a plan: which service, where it listens, and which inputs it takes."""

    service: str
    address: str
    inputs: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    """What an event runs: the steps in order, and the names it answers (empty: all the data)."""

    steps: tuple[Step, ...]
    outputs: tuple[str, ...] = ()


class StepFailed(Exception):
    """A service call that did not give a JSON object back; raised by callers."""

    def __init__(self, kind: str, message: str, status_code: int | None = None):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status_code = status_code


@dataclass
class Outcome:
    """How an event ended: its status, its outputs and, when it failed, why."""

    status: str
    outputs: dict = field(default_factory=dict)
    error: dict | None = None
    steps: list[dict] = field(default_factory=list)


# call(address, payload) -> (HTTP status, JSON object answered); raises StepFailed.
Call = Callable[[str, dict], tuple[int, dict]]
# record_step(step) stores a finished step before the next one starts.
RecordStep = Callable[[dict], None]


def run_event(plan: Plan, data: Mapping, call: Call, record_step: RecordStep) -> Outcome:
    """Run every step of the plan on the event data, recording each step as it finishes."""
    running = dict(data)
    outcome = Outcome(status=states.SUCCEEDED)
    for index, step in enumerate(plan.steps):
        payload = {name: running[name] for name in step.inputs if name in running}
        record = {
            "index": index,
            "service": step.service,
            "address": step.address,
            "started_at": datetime.now(UTC),
        }
        started = time.perf_counter()
        try:
            status_code, answer = call(step.address, payload)
        except StepFailed as failure:
            record.update(
                duration_ms=_elapsed_ms(started),
                status_code=failure.status_code,
                outputs=None,
                error={"kind": failure.kind, "message": failure.message},
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
                "message": failure.message,
            }
            return outcome
        record.update(
            duration_ms=_elapsed_ms(started), status_code=status_code, outputs=answer, error=None
        )
        outcome.steps.append(record)
        record_step(record)
        running.update(answer)
    outcome.outputs = _pick_outputs(running, plan.outputs)
    return outcome


def _pick_outputs(running: dict, names: tuple[str, ...]) -> dict:
    if not names:
        return running
    return {name: running[name] for name in names if name in running}


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
