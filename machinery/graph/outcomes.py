"""An event's graph: each step's node coloured by what happened to it in the event's last run."""

from machinery import states
from machinery.graph.build import Graph, Node, construct_id

SUCCEEDED = "succeeded"
FAILED = "failed"
RUNNING = "running"
WAITING = "waiting"
NOT_REACHED = "not_reached"
OUTCOMES = (SUCCEEDED, FAILED, RUNNING, WAITING, NOT_REACHED)


def color_by_event(graph: Graph, event: dict) -> Graph:
    """Mark each step of `graph` with its outcome in `event` (as GET /e/<id> shows it), its
    duration, attempts and HTTP status."""
    records, constructs = {}, {}
    for record in event.get("steps") or []:  # in order of runs: a redrive's records come last
        if record.get("workflow"):  # a step of the workflow a step calls, not of this one
            continue
        if "construct" in record:
            constructs[construct_id(record["construct"], record.get("place", ""))] = record
        else:
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
    for node in graph.nodes:
        record = constructs.get(_opening(node))
        if record is not None:
            node.outcome = _construct_outcome(record)
            node.duration_ms = record.get("duration_ms")
            if record.get("branch") and node.kind == "choice":
                node.detail = f"took {record['branch']}"
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


# The nodes that close a construct, and the node that opens it.
_CLOSING = {"join": "parallel", "collect": "map"}


def _opening(node: Node) -> str:
    """The id of the node that opens the construct `node` opens or closes (itself, mostly)."""
    opened = _CLOSING.get(node.kind)
    if opened is None or not node.id.startswith(f"{node.kind}-"):
        return node.id
    return f"{opened}-{node.id.removeprefix(f'{node.kind}-')}"


def _construct_outcome(record: dict) -> str:
    outcome = record.get("outcome")
    if outcome == states.WAITING:
        return WAITING
    return FAILED if outcome == states.FAILED else SUCCEEDED
