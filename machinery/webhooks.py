"""Webhooks: an event's end, POSTed signed to its callback_url until it is accepted.

The envelope is the event as GET /e/<id> shows it, without its data, steps and webhook. Workers
deliver (see worker.py): each claims a due delivery (store/webhooks.py), POSTs the envelope through
the outbound caller (its address guard, one DNS resolution checked at call time, its timeouts, no
redirect), signed with every configured secret (signatures.py), and records the attempt on the
event. A 2xx answer delivers it. Anything else is tried again after a wait that doubles from
`MACHINERY_WEBHOOK_RETRY_S` up to an hour, with full jitter (a Retry-After is honoured within the
hour), until `MACHINERY_WEBHOOK_DEADLINE_S` after the event ended; an attempt that fails then
fails the delivery. An address the policy refuses fails it at once.
"""

import json
import logging
import time
from datetime import UTC, datetime

from machinery import states
from machinery.engine.failures import StepFailed
from machinery.language.model import RetryPolicy
from machinery.metrics import count_webhook_attempt
from machinery.orchestrator import describe
from machinery.runtime import Runtime, WebhookPolicy
from machinery.signatures import HEADER, sign
from machinery.store.webhooks import DELIVERED, FAILED, PENDING

log = logging.getLogger(__name__)

# The envelope's fields, in order: those GET /e/<id> shows but the data, steps and webhook.
ENVELOPE_FIELDS = (
    "workflow_id",
    "workflow",
    "workflow_version",
    "status",
    "acked_at",
    "finished_at",
    "outputs",
    "error",
    "message",
    "current_step",
    "run",
    "redrives",
    "cancel_requested",
    "callback_url",
    "durability",
    "trace_id",
    "request_id",
)
ERROR_FIELDS = (
    "step",
    "service",
    "address",
    "kind",
    "status_code",
    "attempts",
    "message",
    "place",
    "within",
    "instance",
    "workflow",
)
# The longest wait between two attempts.
LONGEST_WAIT_S = 3600.0


def envelope(event: dict) -> dict:
    """What a webhook sends of an ended event."""
    shown = describe(dict(event))
    body = {"event_id": shown["id"]}
    body.update((name, shown[name]) for name in ENVELOPE_FIELDS if name in shown)
    if body.get("error"):
        body["error"] = {
            name: body["error"][name] for name in ERROR_FIELDS if name in body["error"]
        }
    return body


def envelope_body(event: dict) -> bytes:
    """The envelope as the bytes sent and signed (times in ISO 8601, as the API shows them)."""
    return json.dumps(
        envelope(event), default=_iso_time, separators=(",", ":"), ensure_ascii=False
    ).encode()


def deliver_next(runtime: Runtime) -> bool:
    """Claim the delivery due longest, make one attempt at it and record it; whether there was
    one to make."""
    policy = runtime.webhooks
    deliveries = runtime.store.webhooks
    claimed = deliveries.claim(policy.lease_s)
    if claimed is None:
        return False
    event, token = claimed
    delivery = event["webhook"]
    number = len(delivery.get("attempts", [])) + 1
    deadline = delivery.get("deadline") or _ended_at(event) + policy.deadline_s
    attempt, failure = attempt_delivery(runtime, event, number)
    outcome = after_attempt(policy, number, failure, time.time(), deadline)
    attempts = [*delivery.get("attempts", []), attempt]
    recorded = deliveries.record(event["id"], token, attempts, outcome)
    if recorded:
        count_webhook_attempt(outcome["status"])
    if not recorded:
        log.info("Webhook of event %s: claim lost (taken over, or redriven)", event["id"])
    elif failure is not None and outcome["status"] == FAILED:
        log.warning(
            "Webhook of event %s failed at attempt %d: %s", event["id"], number, failure.message
        )
    elif outcome["status"] == PENDING:
        wait = outcome["next_at"] - time.time()
        log.info(
            "Webhook of event %s: attempt %d failed, next in %.1f s", event["id"], number, wait
        )
    return True


def attempt_delivery(runtime: Runtime, event: dict, number: int) -> tuple[dict, StepFailed | None]:
    """POST the envelope, signed now: (the attempt as recorded, the failure or None)."""
    body = envelope_body(event)
    started_at = datetime.now(UTC)
    headers = {
        HEADER: sign(body, runtime.webhooks.secrets, int(started_at.timestamp())),
        # The same for every attempt at one end of the event: receivers drop repeats by it.
        "Idempotency-Key": f"{event['id']}-webhook-{event.get('run', 0)}",
        "X-Machinery-Event-Id": event["id"],
        "X-Machinery-Webhook-Attempt": str(number),
    }
    attempt: dict = {"attempt": number, "at": started_at}
    started = time.perf_counter()
    try:
        status_code = runtime.post(event["callback_url"], body, headers)
    except StepFailed as failure:
        attempt.update(
            duration_ms=_elapsed_ms(started),
            status_code=failure.status_code,
            error_kind=failure.kind,
            error=failure.message,
        )
        return attempt, failure
    attempt.update(duration_ms=_elapsed_ms(started), status_code=status_code)
    return attempt, None


def after_attempt(
    policy: WebhookPolicy,
    number: int,
    failure: StepFailed | None,
    now: float,
    deadline: float,
) -> dict:
    """The delivery after its attempt `number` (from 1) ended in `failure` (None: accepted):
    delivered; failed (the address refused, or the deadline reached); or pending, its next
    attempt after a backoff and no later than the deadline. None values are removed."""
    if failure is None:
        return {"status": DELIVERED, "next_at": None, "deadline": deadline}
    if failure.kind == states.REFUSED_ADDRESS or now >= deadline:
        return {"status": FAILED, "next_at": None, "deadline": deadline}
    wait = backoff(policy).delay(number, failure.retry_after)
    return {"status": PENDING, "next_at": min(now + wait, deadline), "deadline": deadline}


def backoff(policy: WebhookPolicy) -> RetryPolicy:
    """The waits between attempts: doubling from `retry_s`, up to an hour, with full jitter."""
    return RetryPolicy(interval=policy.retry_s, backoff_rate=2.0, max_delay=LONGEST_WAIT_S)


def _ended_at(event: dict) -> float:
    finished = event.get("finished_at")
    if not isinstance(finished, datetime):
        return time.time()
    return (finished if finished.tzinfo else finished.replace(tzinfo=UTC)).timestamp()


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def _iso_time(value):
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")
