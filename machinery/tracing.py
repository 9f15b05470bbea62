"""Trace context and request ids: the W3C traceparent Machinery continues, and the X-Request-Id
it echoes and passes on. Standard library alone: the API reads them, the orchestrator sends them.
"""

import re
import secrets
import uuid

REQUEST_ID_HEADER = "X-Request-Id"
TRACEPARENT_HEADER = "traceparent"
# A request id a client may choose: printable, no spaces, short enough to log on every line.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:/+=@-]{1,128}$")
# version-trace_id-parent_id-flags (https://www.w3.org/TR/trace-context/#traceparent-header).
_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")


def request_id(sent: str | None) -> str:
    """The request id a client sent when it is one Machinery can log and pass on, else a new one."""
    if sent and _REQUEST_ID.match(sent.strip()):
        return sent.strip()
    return uuid.uuid4().hex


def parse_traceparent(traceparent: str | None) -> tuple[str, str] | None:
    """(trace id, parent span id) of a valid W3C traceparent, or None (none sent, or one to
    ignore, as the specification says: an unknown version ff, an all-zero trace or parent id)."""
    match = _TRACEPARENT.match((traceparent or "").strip().lower())
    if match is None:
        return None
    version, trace, parent, _flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest) or set(trace) == {"0"} or set(parent) == {"0"}:
        return None
    return trace, parent


def trace_id(traceparent: str | None) -> str | None:
    """The trace id of a valid W3C traceparent, or None."""
    parsed = parse_traceparent(traceparent)
    return parsed[0] if parsed else None


def event_trace_id(event_id: str) -> str:
    """The trace of an event that continues none: made from its id (as services always saw it)."""
    return (event_id + "0" * 32)[:32] if event_id else secrets.token_hex(16)


def child_traceparent(trace: str, span_id: str | None = None) -> str:
    """A traceparent for a call made within the trace: the call's span id (a new one when it
    has none)."""
    return f"00-{trace}-{span_id or secrets.token_hex(8)}-01"
