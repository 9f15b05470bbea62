"""Idempotency-Key on events, /readyz, and the configured limits."""

import threading

import pytest
from factories import SEED_MESSAGE, SEED_OUTPUTS, field, register_example, service, workflow

from machinery.orchestrator import fingerprint


@pytest.fixture
def example(client, services):
    return register_example(client, services)


def send(client, data, key=None, path="/e/process-text"):
    headers = {"Idempotency-Key": key} if key else {}
    return client.post(path, json=data, headers=headers)


def test_the_same_key_answers_the_original_event_without_running_again(client, example, services):
    first = send(client, {"message": SEED_MESSAGE}, "order-1")
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    again = send(client, {"message": SEED_MESSAGE}, "order-1")
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json["event_id"] == first.json["event_id"]
    assert again.json["outputs"] == SEED_OUTPUTS
    assert len(services.calls) == 3
    assert client.get("/e?count=true").json["total"] == 1


def test_keys_are_per_workflow_and_absent_keys_never_collide(client, example, services):
    services.answer("http://other.example:5000/event", lambda p: {"message": "x"})
    client.post("/s", json=service("other"))
    client.post("/w", json=workflow("other-flow", ["other"]))
    assert send(client, {"message": "a"}, "k").status_code == 201
    assert send(client, {"message": "a"}, "k", path="/e/other-flow").status_code == 201
    assert send(client, {"message": "a"}).status_code == 201
    assert send(client, {"message": "a"}).status_code == 201
    assert client.get("/e?count=true").json["total"] == 4


def test_a_reused_key_with_other_data_is_422(client, example):
    send(client, {"message": "a"}, "k")
    response = send(client, {"message": "b"}, "k")
    assert response.status_code == 422
    assert "Idempotency-Key" in response.json["errors"]


def test_the_key_works_with_the_submission_form_too(client, example):
    body = {"workflow": "process-text", "data": {"message": "a b"}}
    first = client.post("/e", json=body, headers={"Idempotency-Key": "s-1"})
    again = client.post("/e", json=body, headers={"Idempotency-Key": "s-1"})
    assert again.json["event_id"] == first.json["event_id"]


def test_a_replayed_failure_answers_the_same_failure(client, example, services):
    services.handlers.pop("http://reverse.example:5000/event")
    first = send(client, {"message": "a"}, "f-1")
    again = send(client, {"message": "a"}, "f-1")
    assert first.status_code == again.status_code == 502
    assert again.json["message"] == first.json["message"]
    assert len(services.calls) == 2


@pytest.mark.parametrize("key", ["", "x" * 256, "with space", "tab\there"])
def test_a_malformed_key_is_422(client, example, key):
    response = send(client, {"message": "a"}, key or " ")
    assert response.status_code == 422
    assert "Idempotency-Key" in response.json["errors"]


def test_concurrent_duplicates_run_once(app, example, services):
    gate = threading.Event()
    original = services.handlers["http://upper.example:5000/event"]

    def slow_upper(payload):
        gate.wait(5)
        return original(payload)

    services.answer("http://upper.example:5000/event", slow_upper)
    results = []

    def post():
        with app.test_client() as own:
            results.append(send(own, {"message": SEED_MESSAGE}, "race"))

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    gate.set()
    for thread in threads:
        thread.join(10)
    assert [r.status_code for r in results] == [201] * 4
    assert len({r.json["event_id"] for r in results}) == 1
    assert all(r.json["outputs"] == SEED_OUTPUTS for r in results)
    assert len(services.calls) == 3


def test_event_data_over_the_limit_is_413(client, app, example):
    app.config["MAX_EVENT_BYTES"] = 100
    response = send(client, {"message": "x" * 200})
    assert response.status_code == 413
    assert "100 bytes" in response.json["message"]
    assert client.get("/e?count=true").json["total"] == 0


def test_more_steps_than_the_limit_is_422(client, app):
    app.config["MAX_STEPS"] = 2
    client.post("/s", json=service())
    response = client.post("/w", json=workflow(services=["upper"] * 3))
    assert response.status_code == 422
    assert response.json["errors"]["services"] == ["At most 2 steps."]


def test_more_fields_than_the_limit_is_422(client, app):
    app.config["MAX_FIELDS"] = 2
    inputs = [field(f"f{i}") for i in range(3)]
    response = client.post("/s", json=service(inputs=inputs))
    assert response.status_code == 422
    assert response.json["errors"]["inputs"] == ["At most 2 fields."]


def test_readiness_when_the_database_answers(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json == {"status": "ready"}


@pytest.mark.parametrize(
    "data", [{"message": {"$gt": ""}}, {"message": "$where"}, {"message": "a.b"}]
)
def test_operator_like_data_is_only_data(client, example, data):
    response = send(client, data)
    if isinstance(data["message"], dict):
        assert response.status_code == 422
    else:
        assert response.status_code == 201
        stored = client.get(f"/e/{response.json['event_id']}").json
        assert stored["data"] == data


def test_a_repeat_of_an_event_that_never_finishes_is_a_409(client, app, example):
    app.extensions["machinery.runtime"].idempotency_wait_s = 0.1
    events = app.extensions["machinery.store"].events
    workflow = {"id": example["workflow_id"], "name": "process-text"}
    # An event accepted and held by another process that has not finished it.
    original, _ = events.accept(
        workflow,
        [],
        {"message": "a"},
        key="cut",
        fingerprint=fingerprint({"message": "a"}),
        owner="another-process",
    )
    response = send(client, {"message": "a"}, "cut")
    assert response.status_code == 409
    assert response.json["event_id"] == original["id"]
    assert "not finished" in response.json["message"]
