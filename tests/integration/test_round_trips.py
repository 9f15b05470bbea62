"""The store round trips an event costs, counted with pymongo's command monitoring against a
real server: pinned per durability, so that a regression fails."""

import uuid
from collections import Counter

import pytest
from factories import (
    SEED_MESSAGE,
    SEED_OUTPUTS,
    ScriptedServices,
    build_app,
    field,
    register_example,
    workflow,
)
from pymongo import MongoClient, monitoring


class Commands(monitoring.CommandListener):
    def __init__(self):
        self.seen = Counter()

    def started(self, event):
        self.seen[event.command_name] += 1

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass


@pytest.fixture(scope="module")
def counted(mongo_uri):
    """An app on the real server, its scripted services, and the commands it sends."""
    commands = Commands()

    def client(uri, **options):
        return MongoClient(uri, event_listeners=[commands], **options)

    services = ScriptedServices()
    app = build_app(
        services,
        MONGO_URI=mongo_uri,
        MONGO_DB=f"round_trips_{uuid.uuid4().hex[:8]}",
        MONGO_CLIENT_FACTORY=client,
    )
    register_example(app.test_client(), services)
    yield app.test_client(), commands
    app.extensions["machinery.store"].connection.close()


def one_event(client, commands, path: str) -> Counter:
    client.post(path, json={"message": SEED_MESSAGE})  # a first event warms up the connection
    commands.seen.clear()
    response = client.post(path, json={"message": SEED_MESSAGE})
    assert response.status_code == 201, response.json
    assert response.json["outputs"] == SEED_OUTPUTS
    return Counter({name: n for name, n in commands.seen.items() if name not in ("endSessions",)})


def test_durability_step_saves_the_state_with_each_step_record(counted):
    client, commands = counted
    seen = one_event(client, commands, "/e/process-text?durability=step")
    # 2 definition reads (the embedded store has no change streams: store/current.py), the
    # acceptance, a checkpoint after each of the first two steps, and
    # the end with the last step's record: 2 + 1 per step.
    assert seen == Counter({"find": 2, "insert": 1, "findAndModify": 3})


def test_durability_event_writes_twice(counted):
    client, commands = counted
    seen = one_event(client, commands, "/e/process-text?durability=event")
    # 2 definition reads (as above), the acceptance, and the end with every step's record.
    assert seen == Counter({"find": 2, "insert": 1, "findAndModify": 1})


def test_a_definition_changed_through_another_app_is_seen_by_the_next_event(counted, mongo_uri):
    """Two apps on one store, as two processes: the embedded store has no change streams, so
    each event reads the definitions, and runs the version just saved through the other."""
    client, _ = counted
    app = client.application
    writer = build_app(
        ScriptedServices(),
        MONGO_URI=mongo_uri,
        MONGO_DB=app.config["MONGO_DB"],
        MONGO_CLIENT_FACTORY=MongoClient,
    )
    try:
        before = client.post("/e/process-text", json={"message": SEED_MESSAGE}).json
        shorter = workflow(services=["upper"], outputs=[field("message")])
        assert writer.test_client().put("/w/process-text", json=shorter).status_code == 200
        after = client.post("/e/process-text", json={"message": SEED_MESSAGE})
        assert after.status_code == 201, after.json
        assert after.json["workflow_version"] == before["workflow_version"] + 1
        assert after.json["outputs"] == {"message": SEED_MESSAGE.upper()}
        assert not app.extensions["machinery.store"].current.watching
    finally:
        writer.extensions["machinery.store"].connection.close()
