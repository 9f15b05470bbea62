"""Each way a service can misbehave, through Machinery under gunicorn: what the client is answered,
what is stored, how many attempts were made and what the service saw."""

import time
from datetime import datetime

import pytest
import requests
from fault_processes import memory_kib
from processes import free_port

QUICK = {"interval": 0.05, "jitter": False}  # retry at once: these tests count, not wait
KIB_PER_MIB = 1024


def started_at(attempt: dict) -> datetime:
    return datetime.fromisoformat(attempt["started_at"])


def failed_step(machinery, response, kind: str, attempts: int) -> dict:
    """The failed event's one step, checked against the answer: the kind and the attempts."""
    event = response.json()
    assert event["status"] == "failed"
    assert event["error"]["kind"] == kind
    assert event["error"]["attempts"] == attempts
    assert event["message"].startswith("Step 0 (")
    stored = machinery.event(event["event_id"])
    assert stored["status"] == "failed"
    assert stored["error"] == event["error"]
    (step,) = stored["steps"]
    assert step["error"]["kind"] == kind
    assert len(step["attempts"]) == attempts
    assert [attempt["attempt"] for attempt in step["attempts"]] == list(range(1, attempts + 1))
    return step


def test_a_slow_service_that_is_not_idempotent_is_called_once_then_504(machinery, fake, tag):
    address = fake.address("slow", tag, seconds=2)
    flow = machinery.register(f"slow-{tag}", address, timeout=0.5, retry={"max_attempts": 3})
    begun = time.monotonic()
    response = machinery.send(flow)
    assert response.status_code == 504
    assert time.monotonic() - begun < 1.8  # gave up after the read timeout, not the service
    step = failed_step(machinery, response, "timeout", attempts=1)
    assert step["attempts"][0]["error_kind"] == "timeout"
    assert step["attempts"][0]["outcome"] == "failed"
    assert fake.seen("slow", tag)["requests"] == 1


def test_a_slow_idempotent_service_is_retried_with_the_same_key(machinery, fake, tag):
    address = fake.address("slow", tag, seconds=2)
    retry = {"max_attempts": 3, **QUICK}
    flow = machinery.register(f"slow-i-{tag}", address, idempotent=True, timeout=0.5, retry=retry)
    response = machinery.send(flow)
    assert response.status_code == 504
    step = failed_step(machinery, response, "timeout", attempts=3)
    assert {attempt["error_kind"] for attempt in step["attempts"]} == {"timeout"}
    assert "after 3 attempts" in response.json()["message"]
    event_id = response.json()["event_id"]
    seen = fake.seen("slow", tag)
    assert seen["requests"] == 3
    assert seen["idempotency_keys"] == [f"{event_id}-0"] * 3
    assert seen["event_ids"] == [event_id] * 3
    assert seen["steps"] == ["0"] * 3
    # One trace (the event's), a new span per attempt.
    assert {parent.split("-")[1] for parent in seen["traceparents"]} == {event_id + "0" * 8}
    assert len(set(seen["traceparents"])) == 3


def test_a_step_may_set_its_timeout_and_allow_retrying_a_service_not_idempotent(
    machinery, fake, tag
):
    address = fake.address("slow", tag, seconds=2, times=1)
    step = {"timeout": 0.5, "retry": {"max_attempts": 2, **QUICK}, "retry_non_idempotent": True}
    flow = machinery.register(f"slow-step-{tag}", address, step=step)
    response = machinery.send(flow, "again")
    assert response.status_code == 201, response.text
    assert response.json()["outputs"] == {"message": "again", "served": 2}
    attempts = machinery.event(response.json()["event_id"])["steps"][0]["attempts"]
    assert [attempt["outcome"] for attempt in attempts] == ["failed", "succeeded"]
    assert attempts[0]["error_kind"] == "timeout"
    assert fake.seen("slow", tag)["requests"] == 2


def test_a_500_then_a_200_from_an_idempotent_service_succeeds_on_the_second_attempt(
    machinery, fake, tag
):
    address = fake.address("status", tag, code=500, times=1)
    retry = {"on": [500], **QUICK}
    flow = machinery.register(f"flaky-{tag}", address, idempotent=True, retry=retry)
    response = machinery.send(flow, "twice")
    assert response.status_code == 201, response.text
    event = response.json()
    assert event["status"] == "succeeded"
    assert event["outputs"] == {"message": "twice", "served": 2}
    (step,) = machinery.event(event["event_id"])["steps"]
    first, second = step["attempts"]
    assert (first["outcome"], first["status_code"], first["error_kind"]) == (
        "failed",
        500,
        "http_status",
    )
    assert (second["outcome"], second["status_code"]) == ("succeeded", 200)
    assert step["status_code"] == 200 and step["error"] is None
    seen = fake.seen("status", tag)
    assert seen["requests"] == 2
    assert seen["idempotency_keys"] == [f"{event['event_id']}-0"] * 2


def test_a_500_from_a_service_that_is_not_idempotent_is_not_retried(machinery, fake, tag):
    address = fake.address("status", tag, code=500, times=1)
    flow = machinery.register(f"flaky-n-{tag}", address, retry={"on": [500], **QUICK})
    response = machinery.send(flow)
    assert response.status_code == 502
    assert response.json()["error"]["status_code"] == 500
    failed_step(machinery, response, "http_status", attempts=1)
    assert fake.seen("status", tag)["requests"] == 1


def test_a_503_with_retry_after_is_retried_no_sooner_than_asked(machinery, fake, tag):
    address = fake.address("status", tag, code=503, retry_after=1, times=1)
    flow = machinery.register(f"busy-{tag}", address, idempotent=True, retry=QUICK)
    response = machinery.send(flow)
    assert response.status_code == 201, response.text
    first, second = machinery.event(response.json()["event_id"])["steps"][0]["attempts"]
    assert first["status_code"] == 503
    # 50 ms by the policy, 1 s by the service: the service wins (started_at is kept to the ms).
    assert 0.99 <= (started_at(second) - started_at(first)).total_seconds() < 3
    assert fake.seen("status", tag)["requests"] == 2


def test_a_refused_connection_is_retried_even_for_a_service_that_is_not_idempotent(machinery, tag):
    address = f"http://127.0.0.1:{free_port()}/event"
    flow = machinery.register(f"refused-{tag}", address, retry={"max_attempts": 3, **QUICK})
    response = machinery.send(flow)
    assert response.status_code == 502
    assert response.json()["error"]["status_code"] is None
    step = failed_step(machinery, response, "connection_error", attempts=3)
    assert [attempt["error_kind"] for attempt in step["attempts"]] == ["connection_error"] * 3
    assert all("could not connect" in attempt["error"] for attempt in step["attempts"])


@pytest.mark.parametrize("fault", ["cut", "drop"])
def test_a_connection_broken_during_the_answer_is_not_resent_to_a_service_not_idempotent(
    machinery, fake, tag, fault
):
    address = fake.address(fault, tag)
    flow = machinery.register(f"{fault}-{tag}", address, retry={"max_attempts": 3, **QUICK})
    response = machinery.send(flow)
    assert response.status_code == 502
    failed_step(machinery, response, "connection_error", attempts=1)
    assert fake.seen(fault, tag)["requests"] == 1


@pytest.mark.parametrize("fault", ["cut", "drop"])
def test_a_connection_broken_during_the_answer_is_resent_to_an_idempotent_service(
    machinery, fake, tag, fault
):
    address = fake.address(fault, tag, times=1)
    flow = machinery.register(f"{fault}-i-{tag}", address, idempotent=True, retry=QUICK)
    response = machinery.send(flow, "mended")
    assert response.status_code == 201, response.text
    assert response.json()["outputs"] == {"message": "mended", "served": 2}
    attempts = machinery.event(response.json()["event_id"])["steps"][0]["attempts"]
    assert [attempt.get("error_kind") for attempt in attempts] == ["connection_error", None]


@pytest.mark.parametrize(
    ("fault", "kind", "says"),
    [
        ("not-json", "invalid_response", "not usable JSON (Expecting value): <html>"),
        ("wrong-types", "contract_violation", "output 'message' is int, expected string"),
        ("huge", "response_too_large", "more than 65536 bytes"),
    ],
    ids=["not-json", "wrong-types", "huge"],
)
def test_an_answer_that_is_wrong_fails_the_step_without_retrying(
    machinery, fake, tag, fault, kind, says
):
    # Idempotent and with the default policy: retrying would be allowed, were it worth it.
    flow = machinery.register(f"{fault}-{tag}", fake.address(fault, tag), idempotent=True, retry={})
    response = machinery.send(flow)
    assert response.status_code == 502
    assert response.json()["error"]["status_code"] == 200
    assert says in response.json()["error"]["message"]
    failed_step(machinery, response, kind, attempts=1)
    assert fake.seen(fault, tag)["requests"] == 1


@pytest.mark.parametrize(("fault", "mib"), [("huge", 32), ("gzip-bomb", 64)])
def test_a_huge_answer_is_refused_without_holding_it(machinery, fake, tag, fault, mib):
    ok = machinery.register(f"fine-{fault}-{tag}", fake.address("ok", tag))
    for _ in range(6):  # every worker warmed up: its first requests grow it anyway
        assert machinery.send(ok).status_code == 201
    workers = machinery.worker_pids()
    assert len(workers) == 2
    before = {pid: memory_kib(pid) for pid in workers}

    flow = machinery.register(f"{fault}-big-{tag}", fake.address(fault, tag, mib=mib))
    for _ in range(2):
        begun = time.monotonic()
        response = machinery.send(flow)
        assert response.status_code == 502
        assert response.json()["error"]["kind"] == "response_too_large"
        assert time.monotonic() - begun < 5

    # The answer inflates to 32 or 64 MiB: a worker that held it would have grown that much.
    for pid in workers:
        grown = memory_kib(pid)["VmHWM"] - before[pid]["VmHWM"]
        assert grown < 16 * KIB_PER_MIB, f"worker {pid} grew by {grown} KiB"
    assert machinery.worker_pids() == workers  # none crashed or was replaced
    assert requests.get(f"{machinery.url}/healthcheck", timeout=5).status_code == 204
    assert requests.get(f"{machinery.url}/readyz", timeout=5).status_code == 200
    assert machinery.send(ok, "still here").json()["outputs"]["message"] == "still here"


def test_every_call_says_which_event_and_step_it_is(machinery, fake, tag):
    for name in ("first", "second"):
        requests.post(
            f"{machinery.url}/s",
            json={
                "name": f"{name}-{tag}",
                "address": fake.address("ok", f"{tag}-{name}"),
                "inputs": [{"name": "message", "type": "string"}],
                "outputs": [{"name": "message", "type": "string"}],
            },
            timeout=10,
        ).raise_for_status()
    flow = machinery.workflow(f"two-{tag}", [f"first-{tag}", f"second-{tag}"])
    response = machinery.send(flow, "both")
    assert response.status_code == 201, response.text
    event_id = response.json()["event_id"]
    for index, name in enumerate(("first", "second")):
        seen = fake.seen("ok", f"{tag}-{name}")
        assert seen["idempotency_keys"] == [f"{event_id}-{index}"]
        assert seen["event_ids"] == [event_id]
        assert seen["steps"] == [str(index)]
        version, trace, span, flags = seen["traceparents"][0].split("-")
        assert (version, trace, flags) == ("00", event_id + "0" * 8, "01")
        assert len(span) == 16 and int(span, 16) != 0


def test_a_service_that_trickles_its_answer_is_cut_off_at_the_read_timeout(machinery, fake, tag):
    flow = machinery.register(
        f"trickle-{tag}", fake.address("trickle", tag, every=0.08), timeout=0.5
    )
    begun = time.monotonic()
    response = machinery.send(flow)  # its 33 bytes take 2.6 s
    elapsed = time.monotonic() - begun
    assert (response.status_code, round(elapsed, 1)) == (504, pytest.approx(0.5, abs=0.7))
    failed_step(machinery, response, "timeout", attempts=1)


@pytest.mark.parametrize(
    ("fault", "params"),
    [
        ("deep", {"depth": 30000}),  # 60 kB: under the size limit
        ("raw", {"body": '{"message": "x", "count": 123456789012345678901234567890}'}),
        ("raw", {"body": '{"message": "x", "count": -9223372036854775809}'}),
        ("raw", {"body": '{"message": "x", "ratio": 1e400}'}),  # beyond a double: inf
        ("raw", {"body": '{"message": "x\\ud800"}'}),  # a lone surrogate: no UTF-8 for it
    ],
    ids=["nested-30000-deep", "int-over-64-bits", "int-under-64-bits", "1e400", "lone-surrogate"],
)
def test_an_answer_machinery_cannot_keep_fails_the_step_as_invalid(
    machinery, fake, tag, fault, params
):
    flow = machinery.register(f"{fault}-{tag}", fake.address(fault, tag, **params))
    response = machinery.send(flow)
    assert response.status_code == 502, response.text
    failed_step(machinery, response, "invalid_response", attempts=1)
