"""An event's graph: each step's node coloured by what happened to it in the event's last run."""

from machinery import states
from machinery.graph.build import Graph

SUCCEEDED = "succeeded"
FAILED = "failed"
RUNNING = "running"
WAITING = "waiting"
NOT_REACHED = "not_reached"
OUTCOMES = (SUCCEEDED, FAILED, RUNNING, WAITING, NOT_REACHED)


def color_by_event(graph: Graph, event: dict) -> Graph:
    """Mark each step of `graph` with its outcome in `event` (as GET /e/<id> shows it), its
    duration, attempts and HTTP status."""
    records = {}
    for record in event.get("steps") or []:  # in order of runs: a redrive's records come last
        records[record["index"]] = record
    graph.event = {"event_id": event["id"], "status": event["status"]}
    status = event["status"]
    current = event.get("current_step")
    for node in graph.nodes:
        if node.step is None:
            continue
        record = records.get(node.step)
        if record is not None and record.get("error"):
            node.outcome = FAILED
        elif record is not None:
            waits = status == states.WAITING and node.step == max(records)
            node.outcome = WAITING if waits and record.get("outputs") is None else SUCCEEDED
        elif status in (states.RUNNING, states.WAITING) and _current(node.step, current, records):
            node.outcome = WAITING if status == states.WAITING else RUNNING
        else:
            node.outcome = NOT_REACHED
        if record is not None:
            node.duration_ms = record.get("duration_ms")
            node.attempts = len(record.get("attempts") or []) or None
            node.status_code = record.get("status_code")
    for end in ("inputs", "outputs"):
        node = graph.node(end)
        if node is not None:
            node.outcome = SUCCEEDED if end == "inputs" or status == states.SUCCEEDED else None
    return graph


def _current(step: int, current: int | None, records: dict) -> bool:
    """Whether `step` is the one a running event is at."""
    if current is not None:
        return step == current
    return step == (max(records) + 1 if records else 0)
