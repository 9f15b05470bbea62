"""MongoDB (nx-27017) killed with SIGKILL under load and started again on its port and data."""

import threading
import time
from collections import Counter
from dataclasses import dataclass

import pytest
import requests
from fault_processes import Machinery, NxServer, wait_for

SENDERS = 4
REQUEST_BOUND_S = 10  # MONGO_TIMEOUT_MS is 1 s: no request should come near this


@pytest.fixture
def outage_nx(fault_logs, tmp_path_factory):
    """An nx-27017 of its own, since the test kills it."""
    server = NxServer(fault_logs, tmp_path_factory.mktemp("nx-outage"))
    yield server
    server.stop()


@pytest.fixture
def outage(outage_nx, fault_logs):
    """The nx-27017 to kill, and a Machinery of its own on it."""
    api = Machinery(
        fault_logs,
        outage_nx.uri,
        name="api-outage",
        MONGO_TIMEOUT_MS="1000",
        MACHINERY_IDEMPOTENCY_WAIT_S="3",
    )
    yield outage_nx, api
    api.stop()


@dataclass
class Sent:
    key: str
    elapsed: float
    status: int | None = None
    body: dict | None = None
    content_type: str = ""
    retry_after: str | None = None
    failure: str = ""


def send_one(api: Machinery, flow: str, key: str) -> Sent:
    """Send one event (its key as its message), noting how it was answered, if it was."""
    begun = time.monotonic()
    try:
        response = api.send(flow, key, key=key, timeout=REQUEST_BOUND_S + 5)
    except requests.RequestException as error:
        return Sent(key, time.monotonic() - begun, failure=repr(error))
    try:
        body = response.json()
    except ValueError:
        body = None
    return Sent(
        key,
        time.monotonic() - begun,
        response.status_code,
        body,
        response.headers.get("Content-Type", ""),
        response.headers.get("Retry-After"),
    )


def readiness(api: Machinery) -> int:
    response = requests.get(f"{api.url}/readyz", timeout=5)
    assert response.headers["Content-Type"] == "application/json"
    return response.status_code


def test_events_survive_a_database_crash_under_load(outage, fake, tag):
    server, api = outage
    flow = api.register(f"echo-{tag}", fake.address("ok", tag))
    sent: list[Sent] = []
    stop = threading.Event()

    def load(sender: int):
        for number in range(300):  # bounded, whatever happens
            if stop.is_set():
                return
            sent.append(send_one(api, flow, f"{tag}-{sender}-{number}"))
            time.sleep(0.02)

    senders = [threading.Thread(target=load, args=(n,)) for n in range(SENDERS)]
    for thread in senders:
        thread.start()
    try:

        def successes():
            return sum(1 for one in sent if one.status == 201)

        wait_for(lambda: successes() >= 40, timeout=15)
        server.kill()
        killed_at = time.monotonic()
        wait_for(lambda: readiness(api) == 503, timeout=5)
        down = requests.get(f"{api.url}/readyz", timeout=5)
        assert down.headers["Retry-After"] and down.json()["message"]
        assert requests.get(f"{api.url}/healthcheck", timeout=5).status_code == 204
        time.sleep(max(0.0, killed_at + 2 - time.monotonic()))  # down for about 2 s, under load

        server.start()
        wait_for(lambda: readiness(api) == 200, timeout=15)
        recovered = successes()
        wait_for(lambda: successes() >= recovered + 20, timeout=10)  # it recovered by itself
    finally:
        stop.set()
        for thread in senders:
            thread.join(REQUEST_BOUND_S + 10)

    assert not any(thread.is_alive() for thread in senders)
    statuses = Counter(one.status for one in sent)
    # Every request was answered, within the bound, with an event or a JSON error saying why.
    assert [one for one in sent if one.failure] == []
    assert max(one.elapsed for one in sent) < REQUEST_BOUND_S
    for one in sent:
        if one.status == 201:
            continue
        assert one.status >= 500, one
        assert one.content_type == "application/json", one
        assert one.body and one.body.get("message"), one
        if one.status == 503:
            assert one.retry_after, one
    # The outage was felt: refused (503), or waited out by the retried writes (slow answers).
    slowest = max(one.elapsed for one in sent)
    assert statuses[503] >= 1 or slowest >= 0.9, (statuses, slowest)

    # Every event answered 201 is stored, with its outputs: none lost in the crash.
    answered = [one for one in sent if one.status == 201]
    for one in answered:
        stored = api.event(one.body["event_id"])
        assert stored["status"] == "succeeded", one
        assert stored["data"] == {"message": one.key}
        assert stored["outputs"] == one.body["outputs"]
        assert stored["outputs"]["message"] == one.key
        assert len(stored["steps"]) == 1

    # No event called the service twice, and no request made more than one event.
    seen = fake.seen("ok", tag)
    assert Counter(seen["event_ids"]).most_common(1)[0][1] == 1
    assert Counter(seen["messages"]).most_common(1)[0][1] == 1
    called = set(seen["messages"])
    assert {one.key for one in answered} <= called


def test_an_event_cut_off_by_an_outage_is_not_run_again_nor_answered_201(outage, fake, tag):
    """The event's service answered, then the database went away before the event was recorded
    as finished: the client is told 503, and sends it again with the same Idempotency-Key."""
    server, api = outage
    flow = api.register(f"cut-off-{tag}", fake.address("ok", tag, delay=1))
    key = f"cut-off-{tag}"
    answered = {}
    sender = threading.Thread(target=lambda: answered.update(first=send_one(api, flow, key)))
    sender.start()

    def called():
        """the fake service has received the event's call"""
        return fake.seen("ok", tag)["requests"] == 1

    wait_for(called, timeout=5, pause=0.05)
    server.kill()
    sender.join(REQUEST_BOUND_S + 5)
    first = answered["first"]
    assert first.status == 503, first
    assert first.retry_after and first.body["message"]

    server.start()
    wait_for(lambda: readiness(api) == 200, timeout=15)
    again = send_one(api, flow, key)
    # Machinery waits MACHINERY_IDEMPOTENCY_WAIT_S for the stranded event, then says it has not
    # finished (409, naming it) rather than run it again or pass it off as done.
    assert again.status == 409, again
    assert again.body["event_id"] and "not finished" in again.body["message"]
    assert fake.seen("ok", tag)["requests"] == 1
