"""SIGTERM to gunicorn's master: events in flight finish and are stored, nothing new is served."""

import signal
import subprocess
import threading
import time

import pytest
import requests
from bson import ObjectId
from fault_processes import Machinery, wait_for
from pymongo import MongoClient


@pytest.fixture
def doomed(fault_logs, nx):
    """A Machinery of its own, since the test stops it."""
    api = Machinery(fault_logs, nx.uri, name="api-shutdown")
    yield api
    api.stop()


def test_an_event_in_flight_at_sigterm_completes_and_new_connections_are_refused(
    doomed, nx, fake, tag
):
    flow = doomed.register(f"slow-{tag}", fake.address("ok", tag, delay=2))  # within the timeout
    answered = {}

    def send():
        answered["response"] = doomed.send(flow, "in flight", timeout=15)

    sender = threading.Thread(target=send)
    sender.start()

    def in_flight():
        """the fake service has received the event's call"""
        return fake.seen("ok", tag)["requests"] == 1

    wait_for(in_flight, timeout=5, pause=0.05)
    doomed.process.popen.send_signal(signal.SIGTERM)
    time.sleep(0.3)

    # Sent after the signal: not served, and not left hanging either.
    begun = time.monotonic()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{doomed.url}/healthcheck", timeout=10)
    assert time.monotonic() - begun < 8  # the event in flight, then 2 s of keep-alive linger

    sender.join(15)
    response = answered["response"]
    assert response.status_code == 201, response.text
    event = response.json()
    assert event["outputs"] == {"message": "in flight", "served": 1}

    try:
        assert doomed.process.popen.wait(15) == 0
    except subprocess.TimeoutExpired:
        pytest.fail("gunicorn did not stop within its graceful timeout")
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{doomed.url}/healthcheck", timeout=5)

    with MongoClient(nx.uri, serverSelectionTimeoutMS=5000) as client:
        db = client[doomed.db_name]
        stored = db.events.find_one({"_id": ObjectId(event["event_id"])})
        assert stored["status"] == "succeeded"
        assert stored["outputs"] == event["outputs"]
        assert stored["finished_at"] is not None
        assert list(stored["steps"]) == ["r0s0"]
    assert fake.seen("ok", tag)["requests"] == 1
