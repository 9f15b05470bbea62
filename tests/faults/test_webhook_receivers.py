"""Webhooks with real processes: the API under gunicorn, worker processes on nx-27017, and a
receiver in this test's process on 127.0.0.1 that answers as each test scripts it."""

import json
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from fault_processes import API_ENV, wait_for

from machinery.signatures import verify

SECRET = API_ENV["MACHINERY_WEBHOOK_SECRETS"]
# Short waits between attempts, so that retries show within a test.
FAST_RETRIES = {"MACHINERY_WEBHOOK_RETRY_S": "0.2"}


class Receiver:
    """An HTTP server on 127.0.0.1 that answers the webhooks POSTed to /<tag> as scripted: each
    path's statuses in turn (then 200), after a delay if asked; it keeps every request."""

    def __init__(self):
        self.script: dict[str, list[tuple[int, float]]] = {}
        self.requests: dict[str, list[dict]] = {}
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver._lock:
                    answers = receiver.script.get(self.path) or [(200, 0.0)]
                    status, delay = answers.pop(0) if len(answers) > 1 else answers[0]
                time.sleep(delay)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                with receiver._lock:
                    receiver.requests.setdefault(self.path, []).append(
                        {"headers": dict(self.headers), "body": body, "answered": status}
                    )

            def log_message(self, format, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, tag: str, *answers: int | tuple[int, float]) -> str:
        """The address of a path answering these statuses in turn (the last one from then on)."""
        path = f"/{tag}"
        self.script[path] = [a if isinstance(a, tuple) else (a, 0.0) for a in answers]
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def received(self, tag: str) -> list[dict]:
        with self._lock:
            return list(self.requests.get(f"/{tag}", []))

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.close()


def send(api, workflow: str, callback_url: str, asynchronous: bool) -> dict:
    body = {"data": {"message": "hooked"}, "callback_url": callback_url, "async": asynchronous}
    response = requests.post(f"{api.url}/e/{workflow}", json=body, timeout=30)
    assert response.status_code == (202 if asynchronous else 201), response.text
    return response.json()


def delivery_ended(api, event_id: str):
    def ended():
        """the event's webhook was delivered or failed"""
        event = api.event(event_id)
        webhook = event.get("webhook") or {}
        return event if webhook.get("status") in ("delivered", "failed") else None

    return ended


def envelope_of(event: dict) -> dict:
    """What GET /e/<id> shows of the event, but its data, steps and webhook."""
    return {k: v for k, v in event.items() if k not in ("data", "steps", "webhook")}


def test_a_receiver_failing_twice_gets_one_accepted_signed_delivery_of_the_end(
    machinery, fake, tag, workers, receiver
):
    flow = machinery.register(f"hook-{tag}", fake.address("ok", tag))
    event_id = send(machinery, flow, receiver.url(tag, 500, 500, 200), True)["event_id"]
    workers(2, **FAST_RETRIES)
    event = wait_for(delivery_ended(machinery, event_id), timeout=30, pause=0.2)

    assert event["status"] == "succeeded"
    webhook = event["webhook"]
    assert webhook["status"] == "delivered"
    assert [a["status_code"] for a in webhook["attempts"]] == [500, 500, 200]
    assert [a["error_kind"] for a in webhook["attempts"][:2]] == ["http_status"] * 2
    assert [a["attempt"] for a in webhook["attempts"]] == [1, 2, 3]
    received = receiver.received(tag)
    assert [r["answered"] for r in received] == [500, 500, 200]
    [accepted] = [r for r in received if r["answered"] == 200]
    verify(accepted["body"], accepted["headers"]["Machinery-Signature"], [SECRET])
    assert json.loads(accepted["body"]) == envelope_of(event)
    assert json.loads(accepted["body"])["outputs"]["message"] == "hooked"
    assert {r["headers"]["Idempotency-Key"] for r in received} == {f"{event_id}-webhook-0"}
    assert accepted["headers"]["Content-Type"] == "application/json"


def test_a_synchronous_events_webhook_is_delivered_by_a_worker(
    machinery, fake, tag, workers, receiver
):
    flow = machinery.register(f"hook-sync-{tag}", fake.address("ok", tag))
    answered = send(machinery, flow, receiver.url(tag, 200), False)
    assert answered["status"] == "succeeded"
    assert answered["webhook"]["status"] == "pending"  # the API delivers none itself
    assert receiver.received(tag) == []
    workers(1)
    event = wait_for(delivery_ended(machinery, answered["event_id"]), timeout=30, pause=0.2)
    assert event["webhook"]["status"] == "delivered"
    [delivered] = receiver.received(tag)
    verify(delivered["body"], delivered["headers"]["Machinery-Signature"], [SECRET])
    assert json.loads(delivered["body"]) == envelope_of(event)


def test_a_receiver_that_never_accepts_fails_the_delivery_at_the_deadline(
    machinery, fake, tag, workers, receiver
):
    flow = machinery.register(f"hook-never-{tag}", fake.address("ok", tag))
    event_id = send(machinery, flow, receiver.url(tag, 503), True)["event_id"]
    workers(1, MACHINERY_WEBHOOK_DEADLINE_S="2", **FAST_RETRIES)
    event = wait_for(delivery_ended(machinery, event_id), timeout=30, pause=0.2)
    webhook = event["webhook"]
    assert webhook["status"] == "failed"
    attempts = webhook["attempts"]
    assert len(attempts) >= 2 and {a["status_code"] for a in attempts} == {503}
    ended = datetime.fromisoformat(event["finished_at"]).timestamp()
    deadline = datetime.fromisoformat(webhook["deadline"]).timestamp()
    assert deadline == pytest.approx(ended + 2, abs=0.01)
    # The last attempt was made at the deadline, none after it.
    last = datetime.fromisoformat(attempts[-1]["at"]).timestamp()
    assert deadline - 0.5 <= last <= deadline + 1.5
    assert len(receiver.received(tag)) == len(attempts)
    time.sleep(0.5)
    assert len(receiver.received(tag)) == len(attempts)


def test_a_receiver_slower_than_the_read_timeout_is_tried_again_with_the_same_key(
    machinery, fake, tag, workers, receiver
):
    flow = machinery.register(f"hook-slow-{tag}", fake.address("ok", tag))
    url = receiver.url(tag, (200, 1.5), 200)  # the first answer comes after the timeout
    event_id = send(machinery, flow, url, True)["event_id"]
    workers(1, MACHINERY_READ_TIMEOUT="0.5", **FAST_RETRIES)
    event = wait_for(delivery_ended(machinery, event_id), timeout=30, pause=0.2)
    webhook = event["webhook"]
    assert webhook["status"] == "delivered"
    assert [a.get("error_kind") for a in webhook["attempts"]] == ["timeout", None]
    assert webhook["attempts"][0]["status_code"] is None
    wait_for(lambda: len(receiver.received(tag)) == 2, timeout=5)
    keys = {r["headers"]["Idempotency-Key"] for r in receiver.received(tag)}
    assert keys == {f"{event_id}-webhook-0"}  # the receiver can tell the repeat


def test_a_callback_url_the_workers_guard_refuses_fails_at_once_and_nothing_is_sent(
    machinery, fake, tag, workers, receiver
):
    flow = machinery.register(f"hook-refused-{tag}", fake.address("ok", tag))
    answered = send(machinery, flow, receiver.url(tag, 200), False)
    workers(1, MACHINERY_DENIED_NETWORKS="127.0.0.0/8")
    event = wait_for(delivery_ended(machinery, answered["event_id"]), timeout=30, pause=0.2)
    webhook = event["webhook"]
    assert webhook["status"] == "failed"
    [attempt] = webhook["attempts"]
    assert attempt["error_kind"] == "refused_address"
    assert "MACHINERY_DENIED_NETWORKS" in attempt["error"]
    assert receiver.received(tag) == []
