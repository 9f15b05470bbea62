"""One event however many times, and however simultaneously, a client sends it with one key."""

import threading

import requests

SENDERS = 8


def test_the_same_key_sent_at_once_from_8_threads_runs_one_event(machinery, fake, tag):
    for name in ("one", "two"):
        address = fake.address("ok", f"{tag}-{name}", delay=0.5)  # all 8 arrive while it runs
        machinery.register(f"{name}-{tag}", address)
    flow = machinery.workflow(f"dup-{tag}", [f"one-{tag}", f"two-{tag}"])
    start = threading.Barrier(SENDERS)
    responses = [None] * SENDERS

    def send(number):
        start.wait(10)
        responses[number] = machinery.send(flow, "once", key=f"order-{tag}", timeout=20)

    threads = [threading.Thread(target=send, args=(number,)) for number in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert all(response is not None for response in responses)

    assert [response.status_code for response in responses] == [201] * SENDERS
    events = [response.json() for response in responses]
    assert len({event["event_id"] for event in events}) == 1
    assert all(event["status"] == "succeeded" for event in events)
    assert all(event["outputs"] == {"message": "once", "served": 1} for event in events)
    replayed = [response.headers.get("Idempotent-Replayed") for response in responses]
    assert sorted(replayed, key=str) == [None] + ["true"] * (SENDERS - 1)

    event_id = events[0]["event_id"]
    for index, name in enumerate(("one", "two")):
        seen = fake.seen("ok", f"{tag}-{name}")
        assert seen["requests"] == 1
        assert seen["idempotency_keys"] == [f"{event_id}-{index}"]
    listed = requests.get(
        f"{machinery.url}/e", params={"workflow": flow, "count": "true"}, timeout=10
    ).json()
    assert listed["total"] == 1

    # Later, the same key with the same data is still that event; with other data, a 422.
    again = machinery.send(flow, "once", key=f"order-{tag}")
    assert (again.status_code, again.json()["event_id"]) == (201, event_id)
    other = machinery.send(flow, "twice", key=f"order-{tag}")
    assert other.status_code == 422
    assert "Idempotency-Key" in other.json()["errors"]
    assert fake.seen("ok", f"{tag}-one")["requests"] == 1
