"""Asynchronous events through the API: 202 and Location, long polling, cancel and redrive,
with a worker driven in the test's own process."""

import pytest
from factories import SEED_MESSAGE, SEED_OUTPUTS, failing, register_example

from machinery.worker import Worker


@pytest.fixture
def example(client, services):
    return register_example(client, services)


@pytest.fixture
def worker(app):
    return Worker(app.extensions["machinery.runtime"], concurrency=1)


@pytest.mark.parametrize(
    ("path", "body", "headers"),
    [
        ("/e/process-text", {"message": SEED_MESSAGE}, {"Prefer": "respond-async"}),
        ("/e/process-text", {"message": SEED_MESSAGE}, {"Prefer": "wait=5, respond-async"}),
        ("/e/process-text?async=true", {"message": SEED_MESSAGE}, {}),
        ("/e/process-text", {"data": {"message": SEED_MESSAGE}, "async": True}, {}),
        ("/e", {"workflow": "process-text", "data": {"message": SEED_MESSAGE}, "async": True}, {}),
    ],
)
def test_an_asynchronous_event_is_stored_and_answered_before_any_call(
    client, services, example, worker, path, body, headers
):
    response = client.post(path, json=body, headers=headers)
    assert response.status_code == 202, response.json
    event = response.json
    assert event["status"] == "queued"
    assert event["current_step"] == 0
    assert response.headers["Location"] == f"/e/{event['event_id']}"
    assert services.calls == []
    assert worker.run_once()
    finished = client.get(f"/e/{event['event_id']}").json
    assert finished["status"] == "succeeded"
    assert finished["outputs"] == SEED_OUTPUTS
    assert finished["current_step"] is None
    assert not worker.run_once()  # nothing left to claim


def test_wait_answers_the_event_once_it_has_ended(client, example):
    sent = client.post("/e/process-text", json={"message": SEED_MESSAGE}).json
    response = client.get(f"/e/{sent['event_id']}?wait=5")
    assert response.status_code == 200
    assert response.json["status"] == "succeeded"
    assert len(response.json["steps"]) == 3


def test_wait_on_a_queued_event_answers_it_as_it_is_when_the_time_is_up(client, example):
    sent = client.post("/e/process-text?async=true", json={"message": SEED_MESSAGE}).json
    response = client.get(f"/e/{sent['event_id']}?wait=0.2")
    assert response.status_code == 200
    assert response.json["status"] == "queued"


@pytest.mark.parametrize("wait", ["61", "-1", "soon"])
def test_a_wait_out_of_bounds_is_a_422(client, example, wait):
    sent = client.post("/e/process-text", json={"message": SEED_MESSAGE}).json
    response = client.get(f"/e/{sent['event_id']}?wait={wait}")
    assert response.status_code == 422
    assert "wait" in response.json["errors"]


def test_a_cancelled_queued_event_never_runs(client, services, example, worker):
    sent = client.post("/e/process-text?async=true", json={"message": SEED_MESSAGE}).json
    cancelled = client.post(f"/e/{sent['event_id']}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json["status"] == "cancelled"
    assert cancelled.json["cancel_requested"] is True
    assert not worker.run_once()
    assert services.calls == []
    again = client.post(f"/e/{sent['event_id']}/cancel")
    assert again.status_code == 409
    assert again.json["message"].endswith(
        "has already ended (cancelled); there is nothing to cancel."
    )


def test_a_cancelled_event_can_be_redriven_and_then_runs(client, services, example, worker):
    sent = client.post("/e/process-text?async=true", json={"message": SEED_MESSAGE}).json
    client.post(f"/e/{sent['event_id']}/cancel")
    redriven = client.post(f"/e/{sent['event_id']}/redrive")
    assert redriven.status_code == 202
    assert redriven.json["run"] == 1
    assert worker.run_once()
    assert client.get(f"/e/{sent['event_id']}").json["outputs"] == SEED_OUTPUTS


def test_a_redrive_runs_from_the_step_that_failed_keeping_the_others(
    client, services, example, worker
):
    counter = "http://space-counter.example:5000/event"
    count_spaces = services.handlers[counter]
    services.answer(counter, failing("http_status", "answered HTTP 503", 503))
    failed = client.post("/e/process-text", json={"message": SEED_MESSAGE})
    assert failed.status_code == 502
    event_id = failed.json["event_id"]
    services.answer(counter, count_spaces)
    calls_before = len(services.calls)
    redriven = client.post(f"/e/{event_id}/redrive")
    assert redriven.status_code == 202
    assert redriven.headers["Location"] == f"/e/{event_id}"
    assert redriven.json["redrives"][0]["step"] == 2
    assert redriven.json["current_step"] == 2
    assert worker.run_once()
    event = client.get(f"/e/{event_id}").json
    assert event["status"] == "succeeded"
    assert event["outputs"] == SEED_OUTPUTS
    assert [address for address, _ in services.calls[calls_before:]] == [counter]
    assert [(step["run"], step["index"]) for step in event["steps"]] == [
        (0, 0),
        (0, 1),
        (0, 2),
        (1, 2),
    ]


@pytest.mark.parametrize("action", ["cancel", "redrive"])
def test_acting_on_an_unknown_event_is_a_404(client, action):
    response = client.post(f"/e/000000000000000000000000/{action}")
    assert response.status_code == 404


def test_a_succeeded_event_cannot_be_redriven(client, example):
    sent = client.post("/e/process-text", json={"message": SEED_MESSAGE}).json
    response = client.post(f"/e/{sent['event_id']}/redrive")
    assert response.status_code == 409
    assert "only failed or cancelled events" in response.json["message"]


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"async": "yes"}, "async"),
        ({"callback_url": 7}, "callback_url"),
        ({"callback_url": "ftp://example.com/hook"}, "callback_url"),
        ({"callback_url": "http://169.254.169.254/latest"}, "callback_url"),
    ],
)
def test_run_options_that_are_wrong_are_a_422_naming_them(client, example, options, field):
    body = {"data": {"message": SEED_MESSAGE}, **options}
    response = client.post("/e/process-text", json=body)
    assert response.status_code == 422, response.json
    assert field in response.json["errors"]


def test_a_running_event_shows_the_step_it_is_at(client, services, example):
    seen = {}

    def reverse_and_look(payload):
        event_id = services.options[-1].headers["X-Machinery-Event-Id"]
        seen["while_reversing"] = client.get(f"/e/{event_id}").json
        return {"message": payload["message"][::-1]}

    services.answer("http://reverse.example:5000/event", reverse_and_look)
    client.post("/e/process-text", json={"message": SEED_MESSAGE})
    assert seen["while_reversing"]["status"] == "running"
    assert seen["while_reversing"]["current_step"] == 1
    assert [step["index"] for step in seen["while_reversing"]["steps"]] == [0]
