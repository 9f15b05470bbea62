"""Callback services with real processes: the API under gunicorn, a worker, and the fake service
acknowledging at once and posting its result (with heartbeats) to the callback URL later."""

import requests
from fault_processes import MESSAGE


def register_review(machinery, fake, tag, delay: float, timeout: float | None = None) -> str:
    """A workflow of one callback service (the fake's `callback` fault); return its name."""
    approve = {
        "name": f"review-{tag}",
        "address": fake.address("callback", tag, delay=delay),
        "inputs": MESSAGE,
        "outputs": MESSAGE,
        "mode": "callback",
        **({"timeout": {"read": timeout}} if timeout else {}),
    }
    response = requests.post(f"{machinery.url}/s", json=approve, timeout=10)
    assert response.status_code == 201, response.text
    return machinery.workflow(f"flow-review-{tag}", [approve["name"]])


def test_a_callback_service_posts_its_result_and_a_worker_carries_the_event_on(
    machinery, fake, tag, workers
):
    flow = register_review(machinery, fake, tag, delay=2.5, timeout=2)
    workers(1)
    sent = machinery.send(flow, "approve me")
    assert sent.status_code == 202
    assert sent.json()["status"] == "waiting"
    event_id = sent.json()["event_id"]
    final = requests.get(f"{machinery.url}/e/{event_id}", params={"wait": 20}, timeout=30).json()
    assert final["status"] == "succeeded", final
    assert final["outputs"] == {"message": "APPROVE ME"}
    callbacks = requests.get(f"{fake.url}/count/callbacks", timeout=5).json()
    # The heartbeats kept the 2 s deadline moving while the service worked for 2.5 s.
    assert callbacks["heartbeats"] and set(callbacks["heartbeats"]) == {200}
    assert callbacks["results"][-1] == 202
    assert len(fake.seen("callback", tag)["messages"]) == 1  # called once, however long it took
