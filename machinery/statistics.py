"""Call statistics of a service, from the step records of recent events: how many calls, how
many failed, and the median and 95th percentile of their durations."""

import math
from collections.abc import Iterable

from machinery.runtime import Runtime

RECENT_EVENTS = 200


def percentile(values: list[float], fraction: float) -> float | None:
    """The nearest-rank percentile of `values` (None when there are none)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(fraction * len(ordered)) - 1, 0)]


def call_statistics(records: Iterable[dict]) -> dict:
    """{"calls", "failures", "p50_ms", "p95_ms"} of step records (those still running left out)."""
    ended = [record for record in records if record.get("duration_ms") is not None]
    durations = [record["duration_ms"] for record in ended]
    return {
        "calls": len(ended),
        "failures": sum(1 for record in ended if record.get("error")),
        "p50_ms": percentile(durations, 0.5),
        "p95_ms": percentile(durations, 0.95),
    }


def service_statistics(runtime: Runtime, name: str, events: int = RECENT_EVENTS) -> dict:
    """The call statistics of a service over the most recent events that called it."""
    runtime.store.services.require(name)
    return {"events": events, **call_statistics(runtime.store.events.recent_steps(name, events))}
