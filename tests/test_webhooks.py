"""Webhooks on mongomock: armed with the event, due by the write storing its end, claimed and
attempted by a worker, signed, retried with backoff until the deadline, shown on GET /e/<id>."""

import json
import time
from datetime import UTC, datetime

import pytest
from factories import SEED_MESSAGE, build_app, failing, register_example

from machinery import states
from machinery.engine.failures import StepFailed
from machinery.runtime import WebhookPolicy
from machinery.schemas import EventOut
from machinery.signatures import verify
from machinery.store.webhooks import DELIVERED, FAILED, PENDING
from machinery.webhooks import ENVELOPE_FIELDS, after_attempt, envelope_body
from machinery.worker import Worker

SECRET = "whsec-0123456789abcdef"
OLD_SECRET = "whsec-fedcba9876543210"
HOOK = "http://receiver.example:8000/hooks/machinery"


class Receiver:
    """Stands in for HttpCaller.post: answers each POST as scripted (a status, or a failure)."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.posts = []

    def __call__(self, address, body, headers):
        self.posts.append((address, body, dict(headers)))
        answer = self.answers.pop(0) if self.answers else 200
        if isinstance(answer, StepFailed):
            raise answer
        if not 200 <= answer < 300:
            raise StepFailed(states.HTTP_STATUS, f"answered HTTP {answer}: no", answer)
        return answer


@pytest.fixture
def app(services):
    app = build_app(
        services,
        WEBHOOK_SECRETS=[SECRET, OLD_SECRET],
        WEBHOOK_RETRY_S=0.01,
        WEBHOOK_DEADLINE_S=3600.0,
    )
    yield app
    app.extensions["machinery.store"].connection.close()


@pytest.fixture
def runtime(app):
    return app.extensions["machinery.runtime"]


@pytest.fixture
def example(client, services):
    return register_example(client, services)


@pytest.fixture
def worker(runtime):
    return Worker(runtime, concurrency=1)


@pytest.fixture
def receiver(runtime):
    receiver = Receiver()
    runtime.post = receiver
    return receiver


def send(client, asynchronous=False, url=HOOK):
    body = {"data": {"message": SEED_MESSAGE}, "callback_url": url, "async": asynchronous}
    response = client.post("/e/process-text", json=body)
    assert response.status_code in (201, 202, 502, 504), response.json
    return response.json


def webhook_of(client, event_id):
    return client.get(f"/e/{event_id}").json["webhook"]


def test_without_a_secret_an_event_with_a_callback_url_is_refused(services):
    app = build_app(services, WEBHOOK_SECRETS=[])
    client = app.test_client()
    register_example(client, services)
    for path, body in [
        ("/e/process-text", {"data": {"message": "hi"}, "callback_url": HOOK}),
        ("/e", {"workflow": "process-text", "data": {"message": "hi"}, "callback_url": HOOK}),
    ]:
        response = client.post(path, json=body)
        assert response.status_code == 422
        assert response.json["message"].startswith("This deployment has no webhook secret")
        assert "MACHINERY_WEBHOOK_SECRETS" in response.json["message"]
        assert response.json["errors"] == {"callback_url": ["No webhook secret is configured."]}
    assert services.calls == []
    assert client.get("/e?count=true").json["total"] == 0


@pytest.mark.parametrize(
    "url, message",
    [
        ("ftp://receiver.example/x", "callback_url is an http(s) URL."),
        ("http://169.254.169.254/latest", "a link-local address"),
    ],
)
def test_a_callback_url_the_guard_refuses_is_a_422(client, example, url, message):
    response = client.post("/e/process-text", json={"data": {"message": "hi"}, "callback_url": url})
    assert response.status_code == 422
    assert message in response.json["message"]


def test_an_event_with_a_callback_url_shows_its_delivery_pending_until_it_ends(
    client, example, worker, receiver
):
    event = send(client, asynchronous=True)
    assert event["webhook"] == {"status": "pending", "attempts": [], "next_at": None}
    assert not worker.deliver_once()  # queued: nothing to send yet
    assert worker.run_once()
    assert webhook_of(client, event["event_id"])["status"] == "pending"
    assert worker.deliver_once()  # the write storing its end made it due
    assert not worker.deliver_once()
    webhook = webhook_of(client, event["event_id"])
    assert webhook["status"] == "delivered"
    assert "next_at" not in webhook
    [attempt] = webhook["attempts"]
    assert attempt["attempt"] == 1 and attempt["status_code"] == 200
    assert attempt["duration_ms"] >= 0 and datetime.fromisoformat(attempt["at"])
    assert "error" not in attempt


def test_an_event_without_a_callback_url_has_no_webhook(client, example, worker, receiver):
    sent = client.post("/e/process-text", json={"message": SEED_MESSAGE}).json
    assert "webhook" not in sent and "webhook" not in client.get(f"/e/{sent['event_id']}").json
    assert not worker.deliver_once()
    assert receiver.posts == []


def test_the_delivery_is_the_envelope_signed_with_every_secret(client, example, worker, receiver):
    event = send(client)  # synchronous: ended when answered, delivered by a worker
    assert event["status"] == "succeeded"
    before = time.time()
    assert worker.deliver_once()
    [(address, body, headers)] = receiver.posts
    assert address == HOOK
    shown = client.get(f"/e/{event['event_id']}").json
    expected = {k: v for k, v in shown.items() if k not in ("data", "steps", "webhook")}
    assert json.loads(body) == expected
    assert json.loads(body) == {k: v for k, v in event.items() if k != "webhook"}
    signature = headers["Machinery-Signature"]
    assert signature.count("v1=") == 2
    assert before - 1 <= int(signature.split(",")[0].removeprefix("t=")) <= time.time()
    verify(body, signature, [SECRET])
    verify(body, signature, [OLD_SECRET])
    assert headers["Idempotency-Key"] == f"{event['event_id']}-webhook-0"
    assert headers["X-Machinery-Event-Id"] == event["event_id"]
    assert headers["X-Machinery-Webhook-Attempt"] == "1"


def test_the_envelope_holds_what_get_shows_but_data_steps_and_webhook():
    shown = {field.data_key or name for name, field in EventOut().fields.items()}
    assert shown - {"webhook", "event_id"} == set(ENVELOPE_FIELDS)


def test_a_failed_event_sends_why_it_failed(client, example, services, worker, receiver):
    services.answer("http://upper.example:5000/event", failing("timeout", "took too long"))
    event = send(client)
    assert event["status"] == "failed"
    assert worker.deliver_once()
    delivered = json.loads(receiver.posts[0][1])
    assert delivered["status"] == "failed"
    assert delivered["error"]["kind"] == "timeout"
    assert delivered["message"] == "Step 0 (upper) failed: took too long"
    assert "data" not in delivered


def test_a_refused_delivery_is_retried_after_a_backoff_then_delivered(
    client, example, worker, receiver
):
    receiver.answers = [500, StepFailed(states.CONNECTION_ERROR, "could not connect", sent=False)]
    event = send(client)
    assert worker.deliver_once()
    first = webhook_of(client, event["event_id"])
    assert first["status"] == "pending"
    assert first["attempts"][0]["status_code"] == 500
    assert first["attempts"][0]["error_kind"] == "http_status"
    finished_at = datetime.fromisoformat(event["finished_at"]).timestamp()
    deadline = datetime.fromisoformat(first["deadline"]).timestamp()
    assert deadline == pytest.approx(finished_at + 3600, abs=0.01)
    next_at = datetime.fromisoformat(first["next_at"]).timestamp()
    assert next_at <= time.time() + 0.01  # the first wait is at most WEBHOOK_RETRY_S
    time.sleep(0.02)
    assert worker.deliver_once()
    second = webhook_of(client, event["event_id"])["attempts"][1]
    assert second["status_code"] is None
    assert (second["error_kind"], second["error"]) == ("connection_error", "could not connect")
    time.sleep(0.03)
    assert worker.deliver_once()
    webhook = webhook_of(client, event["event_id"])
    assert webhook["status"] == "delivered"
    assert [a["status_code"] for a in webhook["attempts"]] == [500, None, 200]
    assert webhook["deadline"] == first["deadline"]  # fixed when the event ended
    assert [h["X-Machinery-Webhook-Attempt"] for _, _, h in receiver.posts] == ["1", "2", "3"]
    bodies = {body for _, body, _ in receiver.posts}
    assert len(bodies) == 1  # the same envelope every time, signed anew


def test_a_delivery_not_due_yet_is_not_claimed(client, example, worker, receiver, runtime):
    receiver.answers = [StepFailed(states.HTTP_STATUS, "answered HTTP 503", 503, retry_after=30)]
    event = send(client)
    before = time.time()
    assert worker.deliver_once()
    next_at = datetime.fromisoformat(webhook_of(client, event["event_id"])["next_at"])
    assert next_at.timestamp() >= before + 30  # Retry-After is honoured
    assert not worker.deliver_once()
    assert len(receiver.posts) == 1


def test_past_the_deadline_the_delivery_fails(client, example, worker, receiver, runtime):
    runtime.webhooks = WebhookPolicy(secrets=(SECRET,), deadline_s=0.05, retry_s=1.0)
    receiver.answers = [500] * 10
    event = send(client)
    assert worker.deliver_once()
    webhook = webhook_of(client, event["event_id"])
    assert webhook["status"] == "pending"
    # The next attempt comes no later than the deadline, however long the backoff.
    next_at = datetime.fromisoformat(webhook["next_at"])
    assert next_at <= datetime.fromisoformat(webhook["deadline"])
    time.sleep(0.06)
    assert worker.deliver_once()
    webhook = webhook_of(client, event["event_id"])
    assert webhook["status"] == "failed"
    assert "next_at" not in webhook
    assert len(webhook["attempts"]) == 2
    assert not worker.deliver_once()


def test_an_address_the_guard_refuses_at_call_time_fails_the_delivery_at_once(
    client, example, worker, receiver
):
    receiver.answers = [
        StepFailed(
            states.REFUSED_ADDRESS,
            "refused to call it: receiver.example resolves to 169.254.169.254, a link-local "
            "address; Machinery never calls it.",
            sent=False,
        )
    ]
    event = send(client)
    assert worker.deliver_once()
    webhook = webhook_of(client, event["event_id"])
    assert webhook["status"] == "failed"
    assert webhook["attempts"][0]["error_kind"] == "refused_address"
    assert not worker.deliver_once()


def test_a_cancelled_queued_event_sends_its_end(client, example, worker, receiver):
    event = send(client, asynchronous=True)
    assert client.post(f"/e/{event['event_id']}/cancel").status_code == 200
    assert worker.deliver_once()
    assert json.loads(receiver.posts[0][1])["status"] == "cancelled"


def test_an_event_interrupted_as_stale_sends_its_end(client, example, worker, receiver, runtime):
    event = send(client, asynchronous=True)
    events = runtime.store.events
    events.collection.update_many(
        {}, {"$set": {"status": "running", "acked_at": datetime(2000, 1, 1)}}
    )
    assert events.interrupt_stale(60) == 1
    shown = client.get(f"/e/{event['event_id']}")
    assert shown.status_code == 200
    assert shown.json["message"].startswith("The event failed (interrupted): still running")
    assert worker.deliver_once()
    delivered = json.loads(receiver.posts[0][1])
    assert (delivered["status"], delivered["error"]["kind"]) == ("failed", "interrupted")


def test_a_redriven_event_sends_its_next_end_again(client, example, services, worker, receiver):
    upper = "http://upper.example:5000/event"
    working = services.handlers[upper]
    services.answer(upper, failing("http_status", "answered HTTP 500", 500))
    event = send(client)
    assert worker.deliver_once()
    assert webhook_of(client, event["event_id"])["status"] == "delivered"
    services.answer(upper, working)
    assert client.post(f"/e/{event['event_id']}/redrive").status_code == 202
    assert webhook_of(client, event["event_id"]) == {
        "status": "pending",
        "attempts": [],
        "next_at": None,
    }
    assert not worker.deliver_once()  # queued again: nothing to send until it ends
    assert worker.run_once()
    assert worker.deliver_once()
    second = json.loads(receiver.posts[1][1])
    assert (second["status"], second["run"]) == ("succeeded", 1)
    assert receiver.posts[1][2]["Idempotency-Key"] == f"{event['event_id']}-webhook-1"


def test_a_claim_is_held_for_its_lease_and_a_lost_one_records_nothing(client, example, runtime):
    event = send(client)
    deliveries = runtime.store.webhooks
    first = deliveries.claim(lease_s=60)
    assert first is not None and first[0]["id"] == event["event_id"]
    assert "data" not in first[0]
    assert deliveries.claim(lease_s=60) is None  # held: no other worker sends it meanwhile
    later = deliveries.claim(lease_s=60, now=time.time() + 61)  # the holder died
    assert later is not None
    at = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    attempt = {"attempt": 1, "at": at, "duration_ms": 1.0, "status_code": 200}
    assert not deliveries.record(event["event_id"], first[1], [attempt], {"status": DELIVERED})
    assert deliveries.record(event["event_id"], later[1], [attempt], {"status": DELIVERED})
    assert webhook_of(client, event["event_id"])["attempts"] == [
        {**attempt, "at": "2030-01-02T03:04:05+00:00"}
    ]


def test_a_worker_without_secrets_delivers_nothing(services):
    app = build_app(services, WEBHOOK_SECRETS=[])
    assert not Worker(app.extensions["machinery.runtime"]).delivers_webhooks


def test_the_envelope_bytes_are_compact_json_with_iso_times(client, example, runtime):
    event = send(client)
    stored = runtime.store.events.get(event["event_id"], with_steps=False)
    body = envelope_body(stored)
    assert body.startswith(b'{"event_id":"') and b", " not in body[:40]
    assert json.loads(body)["acked_at"] == event["acked_at"]


@pytest.mark.parametrize("number", [1, 2, 5, 30])
def test_the_wait_after_an_attempt_doubles_within_an_hour_and_the_deadline(number):
    policy = WebhookPolicy(secrets=(SECRET,), retry_s=5.0)
    failure = StepFailed(states.HTTP_STATUS, "answered HTTP 500", 500)
    now = 1_000_000.0
    for _ in range(20):  # jittered: each draw stays within the bounds
        outcome = after_attempt(policy, number, failure, now, deadline=now + 86400)
        assert outcome["status"] == PENDING
        assert now <= outcome["next_at"] <= now + min(5.0 * 2 ** (number - 1), 3600)
    near = after_attempt(policy, number, failure, now, deadline=now + 0.5)
    assert near["next_at"] <= now + 0.5
    assert after_attempt(policy, number, failure, now + 1, deadline=now)["status"] == FAILED
    assert after_attempt(policy, number, None, now + 1, deadline=now)["status"] == DELIVERED
