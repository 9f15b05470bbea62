"""Callback services: Machinery calls them with a signed, single-use callback URL, the step waits
holding nothing, and the result they post is checked against their outputs."""

import time

import pytest
from factories import build_app, field, service, workflow

from machinery.worker import Worker

PUBLIC = "http://machinery.example"
APPROVE = "http://approve.example:5000/event"


@pytest.fixture
def app(services):
    app = build_app(services, PUBLIC_URL=PUBLIC, CALLBACK_SECRETS=["a-callback-secret-for-tests"])
    yield app
    app.extensions["machinery.store"].connection.close()


@pytest.fixture
def worker(app):
    return Worker(app.extensions["machinery.runtime"], concurrency=1)


def register(client, services, timeout=None):
    """upper, then approve (a callback service answering whether a message is approved)."""
    client.post("/s", json=service("upper"))
    services.answer("http://upper.example:5000/event", lambda p: {"message": p["message"].upper()})
    approve = {
        **service("approve", outputs=[field("approved", "bool")]),
        "mode": "callback",
        **({"timeout": timeout} if timeout else {}),
    }
    assert client.post("/s", json=approve).status_code == 201
    services.answer(APPROVE, lambda p: {})  # an acknowledgement: the result comes later
    outputs = [field("message"), field("approved", "bool")]
    definition = workflow("review", ["upper", "approve"], outputs=outputs)
    assert client.post("/w", json=definition).status_code == 201


def callback_path(services) -> str:
    """The path of the callback URL Machinery gave the callback service, on its public URL."""
    url = services.options[-1].headers["X-Machinery-Callback-Url"]
    assert url.startswith(f"{PUBLIC}/callbacks/")
    return url.removeprefix(PUBLIC)


def test_a_callback_step_waits_and_the_posted_result_carries_the_workflow_on(
    client, services, worker
):
    register(client, services)
    response = client.post("/e/review", json={"message": "hi"})
    assert response.status_code == 202
    event = response.json
    assert event["status"] == "waiting"
    assert event["current_step"] == 1
    assert services.calls[-1] == (APPROVE, {"message": "HI"})
    assert not worker.run_once()  # nothing holds or runs a waiting event

    posted = client.post(callback_path(services), json={"approved": True})
    assert posted.status_code == 202
    assert posted.json["status"] == "queued"
    assert worker.run_once()
    done = client.get(f"/e/{event['event_id']}").json
    assert done["status"] == "succeeded"
    assert done["outputs"] == {"message": "HI", "approved": True}
    assert done["steps"][1]["outputs"] == {"approved": True}
    assert len([address for address, _ in services.calls if address == APPROVE]) == 1


def test_a_callback_url_is_used_once(client, services, worker):
    register(client, services)
    client.post("/e/review", json={"message": "hi"})
    path = callback_path(services)
    assert client.post(path, json={"approved": True}).status_code == 202
    again = client.post(path, json={"approved": False})
    assert again.status_code == 409
    assert again.json["message"] == "This callback URL was used already."
    worker.run_once()
    assert client.post(path, json={"approved": False}).status_code == 409


def test_a_forged_callback_url_is_refused(client, services):
    register(client, services)
    client.post("/e/review", json={"message": "hi"})
    path = callback_path(services)
    forged = path[:-2] + ("AA" if not path.endswith("AA") else "BB")
    response = client.post(forged, json={"approved": True})
    assert response.status_code == 403
    assert response.json["message"].startswith("This is not a callback URL Machinery issued")
    other = build_app(services, PUBLIC_URL=PUBLIC, CALLBACK_SECRETS=["another-deployment-secret"])
    token = other.extensions["machinery.runtime"].callbacks.issue("0" * 24, 0, 1)[0]
    assert client.post(token.removeprefix(PUBLIC), json={}).status_code == 403


def test_a_wrongly_typed_result_is_refused_recorded_and_the_step_goes_on_waiting(
    client, services, worker, app
):
    register(client, services)
    event_id = client.post("/e/review", json={"message": "hi"}).json["event_id"]
    path = callback_path(services)
    refused = client.post(path, json={"approved": "yes"})
    assert refused.status_code == 422
    assert refused.json["violations"] == ["output 'approved' is string, expected bool"]
    stored = app.extensions["machinery.store"].events.get(event_id, with_steps=False)
    assert stored["status"] == "waiting"
    assert stored["waiting"]["rejections"] == 1
    assert stored["waiting"]["last_rejection"]["kind"] == "contract_violation"
    assert client.post(path, json={"approved": True}).status_code == 202
    worker.run_once()
    assert client.get(f"/e/{event_id}").json["status"] == "succeeded"


def test_a_callback_that_never_comes_fails_the_step_at_its_deadline(client, services, worker):
    register(client, services, timeout={"read": 0.05})
    event_id = client.post("/e/review", json={"message": "hi"}).json["event_id"]
    path = callback_path(services)
    time.sleep(0.1)
    assert worker.run_once()  # the overdue event is claimed and failed
    failed = client.get(f"/e/{event_id}").json
    assert failed["status"] == "failed"
    assert failed["error"]["kind"] == "timeout"
    assert failed["error"]["step"] == 1
    assert "no result before the step's deadline" in failed["error"]["message"]
    late = client.post(path, json={"approved": True})
    assert late.status_code == 410


def test_a_heartbeat_moves_the_deadline(client, services, worker, app):
    register(client, services, timeout={"read": 0.3})
    event_id = client.post("/e/review", json={"message": "hi"}).json["event_id"]
    path = callback_path(services)
    events = app.extensions["machinery.store"].events
    before = events.get(event_id, with_steps=False)["waiting"]["deadline"]
    time.sleep(0.2)
    beat = client.post(f"{path}/heartbeat")
    assert beat.status_code == 200
    assert events.get(event_id, with_steps=False)["waiting"]["deadline"] > before + 0.15
    time.sleep(0.15)  # past the first deadline, within the moved one
    assert not worker.run_once()
    assert client.post(path, json={"approved": True}).status_code == 202


def test_a_waiting_event_can_be_cancelled_and_its_callback_is_then_refused(client, services):
    register(client, services)
    event_id = client.post("/e/review", json={"message": "hi"}).json["event_id"]
    path = callback_path(services)
    cancelled = client.post(f"/e/{event_id}/cancel")
    assert cancelled.json["status"] == "cancelled"
    refused = client.post(path, json={"approved": True})
    assert refused.status_code == 409
    assert refused.json["message"] == "The event was cancelled."


def test_a_dry_run_takes_samples_as_a_callback_services_results(client, services):
    register(client, services)
    response = client.post("/w/review/dry-run", json={"samples": {"approve": {"approved": False}}})
    assert response.status_code == 200
    assert response.json["status"] == "succeeded"
    assert response.json["outputs"]["approved"] is False


def test_a_callback_service_needs_a_public_url_and_secrets(services):
    app = build_app(services)
    client = app.test_client()
    definition = {**service("approve", outputs=[field("approved", "bool")]), "mode": "callback"}
    response = client.post("/s", json=definition)
    assert response.status_code == 422
    assert "MACHINERY_PUBLIC_URL" in response.json["errors"]["mode"][0]


def test_the_callback_route_takes_no_api_key(services):
    app = build_app(services, PUBLIC_URL=PUBLIC, CALLBACK_SECRETS=["k" * 20], MANAGEMENT_KEYS=["m"])
    response = app.test_client().post("/callbacks/not-a-token", json={})
    assert response.status_code == 403  # refused for its token, not for a missing key
