"""Durable execution with real processes: the API under gunicorn, worker processes, nx-27017 and
a fake service that counts its calls. Asynchronous events, workers killed mid-event, the API
killed during synchronous events, cancel, redrive and long polling."""

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from fault_processes import LEASE_S, MESSAGE, Machinery, wait_for
from pymongo import MongoClient

ASYNC = {"Prefer": "respond-async"}


def seen(fake, fault: str, tag: str, what: str = "messages") -> list:
    """What the fake service noted of the calls to one of its paths (none: nothing)."""
    return fake.seen(fault, tag).get(what, [])


def register_flow(api: Machinery, name: str, addresses: list[str], idempotent=True) -> str:
    """Services at the addresses, called in order by one workflow; return the workflow's name."""
    steps = []
    for number, address in enumerate(addresses):
        service = {
            "name": f"{name}-{number}",
            "address": address,
            "inputs": MESSAGE,
            "outputs": MESSAGE,
            "idempotent": idempotent,
        }
        response = requests.post(f"{api.url}/s", json=service, timeout=10)
        assert response.status_code == 201, response.text
        steps.append(service["name"])
    return api.workflow(name, steps)


def send_async(session: requests.Session, api: Machinery, workflow: str, message: str) -> str:
    response = session.post(
        f"{api.url}/e/{workflow}", json={"message": message}, headers=ASYNC, timeout=30
    )
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "queued"
    assert response.headers["Location"] == f"/e/{response.json()['event_id']}"
    return response.json()["event_id"]


def statuses(api: Machinery, workflow: str) -> dict[str, int]:
    counts = {}
    for status in ("queued", "running", "succeeded", "failed", "cancelled"):
        page = requests.get(
            f"{api.url}/e",
            params={"workflow": workflow, "status": status, "count": "true"},
            timeout=30,
        ).json()
        counts[status] = page["total"]
    return counts


def test_1000_async_events_through_2_workers_each_finish_exactly_once(
    machinery, fake, tag, workers
):
    flow = register_flow(
        machinery, f"many-{tag}", [fake.address("ok", f"{tag}-a"), fake.address("ok", f"{tag}-b")]
    )
    workers(4)
    workers(4)
    local = threading.local()

    def send(number: int) -> str:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        return send_async(local.session, machinery, flow, f"m{number}")

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(send, range(1000)))
    assert len(set(ids)) == 1000

    def all_succeeded():
        """all 1000 events succeeded"""
        return statuses(machinery, flow)["succeeded"] == 1000

    wait_for(all_succeeded, timeout=240, pause=1)
    assert statuses(machinery, flow) == {
        "queued": 0,
        "running": 0,
        "succeeded": 1000,
        "failed": 0,
        "cancelled": 0,
    }
    for step in ("a", "b"):
        seen = fake.seen("ok", f"{tag}-{step}")
        assert len(seen["messages"]) == 1000  # each step of each event called exactly once
        assert len(set(seen["idempotency_keys"])) == 1000
    for event_id in ids[::97]:
        event = machinery.event(event_id)
        number = event["data"]["message"]
        assert event["outputs"] == {"message": number}
        assert [step["index"] for step in event["steps"]] == [0, 1]


def test_a_worker_killed_mid_event_loses_nothing_and_calls_no_completed_step_again(
    machinery, fake, tag, workers
):
    slow = [fake.address("ok", f"{tag}-{step}", delay=0.3) for step in "abc"]
    flow = register_flow(machinery, f"killed-{tag}", slow)
    session = requests.Session()
    ids = [send_async(session, machinery, flow, f"m{n}") for n in range(12)]
    doomed = workers(4)

    def some_calls():
        """the first worker has made some calls"""
        return len(seen(fake, "ok", f"{tag}-b", "messages")) >= 2

    wait_for(some_calls, timeout=30)
    doomed.kill()
    workers(4)

    def all_succeeded():
        """every event succeeded after the kill"""
        return statuses(machinery, flow)["succeeded"] == len(ids)

    wait_for(all_succeeded, timeout=90, pause=0.5)
    total_calls = 0
    for step in "abc":
        keys = seen(fake, "ok", f"{tag}-{step}", "idempotency_keys")
        assert set(keys) == {f"{event_id}-{'abc'.index(step)}" for event_id in ids}
        total_calls += len(keys)
    # Only the calls in flight when the worker died (at most one per thread) are made again.
    assert total_calls - 3 * len(ids) <= 4
    for event_id in ids:
        steps = machinery.event(event_id)["steps"]
        assert [step["index"] for step in steps] == [0, 1, 2]  # each step recorded once


def test_a_non_idempotent_step_cut_off_fails_interrupted_and_a_redrive_finishes_it(
    machinery, fake, tag, workers
):
    flow = register_flow(
        machinery, f"cut-{tag}", [fake.address("ok", tag, delay=1.5)], idempotent=False
    )
    event_id = send_async(requests.Session(), machinery, flow, "once")
    doomed = workers(1)
    wait_for(lambda: seen(fake, "ok", tag, "messages"), timeout=30)
    doomed.kill()
    workers(1)

    def ended():
        """the event ended"""
        event = machinery.event(event_id)
        return event if event["status"] not in ("queued", "running") else None

    event = wait_for(ended, timeout=30, pause=0.3)
    assert event["status"] == "failed"
    assert event["error"]["kind"] == "interrupted"
    assert len(seen(fake, "ok", tag, "messages")) == 1  # not called again on its own

    redriven = requests.post(f"{machinery.url}/e/{event_id}/redrive", timeout=10)
    assert redriven.status_code == 202, redriven.text
    assert redriven.headers["Location"] == f"/e/{event_id}"
    final = requests.get(f"{machinery.url}/e/{event_id}", params={"wait": 20}, timeout=30).json()
    assert final["status"] == "succeeded"
    assert final["run"] == 1
    assert [r["run"] for r in final["redrives"]] == [1]
    assert [(s["run"], s["error"] and s["error"]["kind"]) for s in final["steps"]] == [
        (0, "interrupted"),
        (1, None),
    ]
    assert len(seen(fake, "ok", tag, "messages")) == 2


def test_the_api_killed_during_synchronous_events_a_worker_resumes_them(
    fault_logs, nx, fake, tag, workers
):
    api = Machinery(fault_logs, nx.uri, name=f"api-{tag}", MACHINERY_LEASE_S=LEASE_S)
    try:
        steps = [fake.address("ok", f"{tag}-{step}", delay=0.5) for step in "ab"]
        flow = register_flow(api, f"sync-{tag}", steps)

        def send(number: int):
            try:
                requests.post(f"{api.url}/e/{flow}", json={"message": f"m{number}"}, timeout=20)
            except requests.RequestException:
                pass  # the API dies under it

        pool = ThreadPoolExecutor(4)
        for number in range(4):
            pool.submit(send, number)
        wait_for(lambda: len(seen(fake, "ok", f"{tag}-a", "messages")) >= 4, timeout=30)
        for pid in [*api.worker_pids(), api.pid]:
            os.kill(pid, signal.SIGKILL)
        pool.shutdown(wait=True)
    finally:
        api.process.stop()
    client = MongoClient(nx.uri)
    events = client[api.db_name].events
    assert events.count_documents({}) == 4
    assert events.count_documents({"status": "running"}) == 4
    workers(2, api)

    def all_succeeded():
        """every synchronous event was resumed and succeeded"""
        return events.count_documents({"status": "succeeded"}) == 4

    wait_for(all_succeeded, timeout=60, pause=0.5)
    for event in events.find():
        assert event["outputs"] == {"message": event["data"]["message"]}
    client.close()


def test_cancel_a_queued_event_and_it_never_runs(machinery, fake, tag, workers):
    flow = register_flow(machinery, f"cancel-q-{tag}", [fake.address("ok", tag)])
    event_id = send_async(requests.Session(), machinery, flow, "never")
    cancelled = requests.post(f"{machinery.url}/e/{event_id}/cancel", timeout=10)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    workers(1)
    time.sleep(1)
    assert machinery.event(event_id)["status"] == "cancelled"
    assert seen(fake, "ok", tag, "messages") == []
    again = requests.post(f"{machinery.url}/e/{event_id}/cancel", timeout=10)
    assert again.status_code == 409
    assert "already ended (cancelled)" in again.json()["message"]


def test_cancel_a_running_event_stops_it_before_its_next_step(machinery, fake, tag, workers):
    steps = [fake.address("ok", f"{tag}-{step}", delay=1) for step in "abc"]
    flow = register_flow(machinery, f"cancel-r-{tag}", steps)
    event_id = send_async(requests.Session(), machinery, flow, "stop me")
    workers(1)
    wait_for(lambda: seen(fake, "ok", f"{tag}-a", "messages"), timeout=30)
    cancelling = requests.post(f"{machinery.url}/e/{event_id}/cancel", timeout=10)
    assert cancelling.status_code == 200
    assert cancelling.json()["cancel_requested"] is True
    final = requests.get(f"{machinery.url}/e/{event_id}", params={"wait": 20}, timeout=30).json()
    assert final["status"] == "cancelled"
    assert [step["index"] for step in final["steps"]] == [0]  # the step in flight finished
    assert seen(fake, "ok", f"{tag}-b", "messages") == []
    assert seen(fake, "ok", f"{tag}-c", "messages") == []


def test_redrive_runs_a_failed_event_from_the_step_that_failed(machinery, fake, tag, workers):
    steps = [fake.address("ok", f"{tag}-a"), fake.address("status", tag, code=500, times=1)]
    flow = register_flow(machinery, f"redrive-{tag}", steps)
    failed = machinery.send(flow, "again")
    assert failed.status_code == 502
    event_id = failed.json()["event_id"]
    workers(1)
    redriven = requests.post(f"{machinery.url}/e/{event_id}/redrive", timeout=10)
    assert redriven.status_code == 202
    final = requests.get(f"{machinery.url}/e/{event_id}", params={"wait": 20}, timeout=30).json()
    assert final["status"] == "succeeded"
    assert final["outputs"] == {"message": "again"}
    assert [(s["run"], s["index"], s["status_code"]) for s in final["steps"]] == [
        (0, 0, 200),
        (0, 1, 500),
        (1, 1, 200),
    ]
    assert len(seen(fake, "ok", f"{tag}-a", "messages")) == 1  # the completed step is kept
    assert final["redrives"][0]["step"] == 1
    not_again = requests.post(f"{machinery.url}/e/{event_id}/redrive", timeout=10)
    assert not_again.status_code == 409


def test_two_api_processes_and_three_workers_share_one_database(
    fault_logs, nx, machinery, fake, tag, workers
):
    """The production topology on one machine: stateless API processes and workers."""
    second = Machinery(fault_logs, nx.uri, name=f"api2-{tag}", db_name=machinery.db_name)
    try:
        steps = [fake.address("ok", f"{tag}-a"), fake.address("ok", f"{tag}-b")]
        flow = register_flow(machinery, f"scale-{tag}", steps)
        for _ in range(3):
            workers(2)
        apis = [machinery, second]
        local = threading.local()

        def send(number: int) -> tuple[str, int]:
            if not hasattr(local, "session"):
                local.session = requests.Session()
            api = apis[number % 2]
            body = {"message": f"m{number}"}
            if number % 5 == 0:  # some synchronous, through either API
                response = local.session.post(f"{api.url}/e/{flow}", json=body, timeout=30)
                assert response.status_code == 201, response.text
                return response.json()["event_id"], 201
            return send_async(local.session, api, flow, body["message"]), 202

        with ThreadPoolExecutor(8) as pool:
            sent = list(pool.map(send, range(200)))

        def all_succeeded():
            """all 200 events succeeded"""
            return statuses(second, flow)["succeeded"] == 200

        wait_for(all_succeeded, timeout=120, pause=0.5)
        for step in "ab":
            keys = seen(fake, "ok", f"{tag}-{step}", "idempotency_keys")
            assert sorted(keys) == sorted(f"{event_id}-{'ab'.index(step)}" for event_id, _ in sent)
    finally:
        second.stop()
