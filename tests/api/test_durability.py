"""Durability, the user's choice: "step" saves the run state with every step, "event" once at
the end; what each does when the process running an event dies."""

import pytest
from factories import SEED_MESSAGE, SEED_OUTPUTS, register_example, service, workflow

from machinery.worker import Worker


@pytest.fixture
def example(client, services):
    return register_example(client, services)


@pytest.fixture
def worker(app):
    return Worker(app.extensions["machinery.runtime"], concurrency=1)


def test_a_workflow_is_durable_step_by_step_unless_it_says_otherwise(client, example):
    assert client.get("/w/process-text").json["durability"] == "step"
    express = workflow("express", ["upper"], durability="event")
    client.post("/s", json=service())
    response = client.post("/w", json=express)
    assert response.status_code == 201
    assert response.json["durability"] == "event"


@pytest.mark.parametrize("durability", ["step", "event"])
def test_either_durability_records_every_step(client, example, durability):
    response = client.post(f"/e/process-text?durability={durability}", json={"message": "a b"})
    assert response.status_code == 201
    event = client.get(f"/e/{response.json['event_id']}").json
    assert event["durability"] == durability
    assert [step["index"] for step in event["steps"]] == [0, 1, 2]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/e/process-text?durability=eventually", {"message": "hi"}),
        ("/e/process-text", {"data": {"message": "hi"}, "durability": "always"}),
        ("/e", {"workflow": "process-text", "data": {"message": "hi"}, "durability": 1}),
    ],
)
def test_an_unknown_durability_is_a_422(client, example, path, body):
    response = client.post(path, json=body)
    assert response.status_code == 422
    assert "durability" in response.json["errors"]


def cut_off(app, durability: str) -> str:
    """An event accepted by a process that died at once: its lease has expired."""
    store = app.extensions["machinery.store"]
    document = store.workflows.get("process-text")
    services = store.services.by_names(["upper", "reverse", "space-counter"])
    pins = [{"service": n, "id": d["id"], "version": d["version"]} for n, d in services.items()]
    event, _ = store.events.accept(
        document, pins, {"message": SEED_MESSAGE}, owner="dead", lease_s=-1, durability=durability
    )
    return event["id"]


def test_an_event_durable_at_its_end_runs_again_where_every_service_is_idempotent(
    client, app, example, services, worker
):
    for name in ("upper", "reverse", "space-counter"):
        definition = client.get(f"/s/{name}").json
        definition = {k: definition[k] for k in ("address", "inputs", "outputs")}
        assert client.put(f"/s/{name}", json={**definition, "idempotent": True}).status_code == 200
    event_id = cut_off(app, "event")
    assert worker.run_once()
    event = client.get(f"/e/{event_id}").json
    assert event["status"] == "succeeded"
    assert event["outputs"] == SEED_OUTPUTS


def test_an_event_durable_at_its_end_fails_interrupted_where_a_service_is_not_idempotent(
    client, app, example, services, worker
):
    event_id = cut_off(app, "event")
    assert worker.run_once()
    event = client.get(f"/e/{event_id}").json
    assert event["status"] == "failed"
    assert event["error"]["kind"] == "interrupted"
    assert event["error"]["step"] == 0
    assert services.calls == []  # nothing is called again
    assert client.post(f"/e/{event_id}/redrive").status_code == 202
    assert worker.run_once()
    assert client.get(f"/e/{event_id}").json["outputs"] == SEED_OUTPUTS
