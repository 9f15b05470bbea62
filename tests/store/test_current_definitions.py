"""Definitions on the event path: kept per process only while a change stream says when they
change; a change made through one app is seen by the next event of every other app."""

import queue
import time

import mongomock
import pytest
from factories import SEED_MESSAGE, ScriptedServices, build_app, field, register_example, workflow

from machinery.store.current import CurrentDefinitions, watch_definitions

WAIT_S = 10.0


class ChangeFeed:
    """Stands in for a replica set's change streams on the definitions: each stream opened
    sees every change announced after it was opened."""

    def __init__(self):
        self.streams: list[FakeStream] = []

    def open(self, db):
        stream = FakeStream()
        self.streams.append(stream)
        return stream

    def announce(self) -> None:
        """A definition changed: every open stream delivers it; return once each was taken."""
        for stream in self.streams:
            stream.changes.put({"operationType": "replace"})
        for stream in self.streams:
            stream.changes.join()

    def break_streams(self) -> None:
        for stream in self.streams:
            stream.changes.put(None)
            stream.changes.join()
        self.streams.clear()


class FakeStream:
    def __init__(self):
        self.changes: queue.Queue = queue.Queue()
        self.taken = False

    def __iter__(self):
        return self

    def __next__(self):
        if self.taken:
            self.changes.task_done()  # the previous change was handled
        change = self.changes.get(timeout=60)
        self.taken = True
        if change is None:
            self.changes.task_done()
            self.taken = False
            raise StopIteration
        return change

    def close(self):
        pass


def shared_database():
    """Two apps on one database, as two processes on one MongoDB."""
    client = mongomock.MongoClient()
    return lambda uri, **options: client


def two_apps(feed: ChangeFeed | None):
    factory = shared_database()
    services = ScriptedServices()
    apps = [build_app(services, MONGO_CLIENT_FACTORY=factory) for _ in range(2)]
    if feed is not None:
        for app in apps:
            store = app.extensions["machinery.store"]
            store.current = CurrentDefinitions(store.connection, open_stream=feed.open)
    register_example(apps[0].test_client(), services)
    return [app.test_client() for app in apps], apps


def send(client) -> dict:
    response = client.post("/e/process-text", json={"message": SEED_MESSAGE})
    assert response.status_code == 201, response.json
    return response.json


def shout(client) -> None:
    """A new version of process-text: upper alone."""
    changed = workflow(services=["upper"], outputs=[field("message")])
    assert client.put("/w/process-text", json=changed).status_code == 200


def test_without_change_streams_the_next_event_of_another_app_runs_the_new_version():
    (writer, other), apps = two_apps(feed=None)
    assert send(other)["workflow_version"] == 1
    shout(writer)
    event = send(other)
    assert event["workflow_version"] == 2
    assert event["outputs"] == {"message": SEED_MESSAGE.upper()}
    assert not apps[1].extensions["machinery.store"].current.watching


def test_the_app_that_changes_a_definition_runs_the_new_version_at_once():
    feed = ChangeFeed()
    (writer, _), _ = two_apps(feed)
    assert send(writer)["workflow_version"] == 1
    shout(writer)  # nothing delivered by the change stream yet
    assert send(writer)["workflow_version"] == 2


def test_another_app_runs_the_new_version_once_its_change_stream_delivers_the_change():
    feed = ChangeFeed()
    (writer, other), apps = two_apps(feed)
    assert send(other)["workflow_version"] == 1
    assert apps[1].extensions["machinery.store"].current.watching
    shout(writer)
    feed.announce()
    event = send(other)
    assert event["workflow_version"] == 2
    assert event["outputs"] == {"message": SEED_MESSAGE.upper()}


def test_a_deleted_workflow_is_seen_by_another_app_once_the_change_is_delivered():
    feed = ChangeFeed()
    (writer, other), _ = two_apps(feed)
    send(other)
    assert writer.delete("/w/process-text").status_code == 204
    feed.announce()
    response = other.post("/e/process-text", json={"message": SEED_MESSAGE})
    assert response.status_code == 404
    assert "process-text" in response.json["message"]


def test_definitions_are_read_again_once_the_change_stream_breaks(monkeypatch):
    monkeypatch.setattr("machinery.store.current.RETRY_MIN_S", 60.0)  # not reopened meanwhile
    feed = ChangeFeed()
    (writer, other), apps = two_apps(feed)
    current = apps[1].extensions["machinery.store"].current
    send(other)
    feed.break_streams()
    deadline = time.monotonic() + WAIT_S
    while current.watching and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not current.watching
    assert send(other)["workflow_version"] == 1
    # A change no stream delivers is read all the same.
    apps[0].extensions["machinery.store"].current.changed = lambda: None
    shout(writer)
    assert send(other)["workflow_version"] == 2


def test_a_value_loaded_while_a_definition_changed_is_not_kept():
    feed = ChangeFeed()
    current = CurrentDefinitions(connection=type("C", (), {"db": None})(), open_stream=feed.open)
    versions = iter([1, 2])

    def load_during_a_change():
        value = next(versions)
        current.changed()  # delivered while the old version was being read
        return value

    assert current.read("key", load_during_a_change) == 1
    assert current.read("key", lambda: next(versions)) == 2
    assert current.read("key", lambda: pytest.fail("kept: not read again")) == 2


class FakeServer:
    """What a server says of itself, and the stream it would open."""

    def __init__(self, hello: dict):
        self.hello = hello
        self.watched = None
        self.client = self
        self.admin = self

    def command(self, name):
        assert name == "hello"
        return self.hello

    def watch(self, pipeline):
        self.watched = pipeline
        return "a change stream"


@pytest.mark.parametrize(
    "hello, watched",
    [
        ({"isWritablePrimary": True, "setName": "rs0"}, True),  # a replica set
        ({"isWritablePrimary": True, "msg": "isdbgrid"}, True),  # a sharded cluster
        ({"isWritablePrimary": True}, False),  # a standalone server, the embedded store
    ],
)
def test_only_replica_sets_and_sharded_clusters_are_watched(hello, watched):
    server = FakeServer(hello)
    stream = watch_definitions(server)
    assert (stream is not None) is watched
    if watched:
        assert server.watched == [{"$match": {"ns.coll": {"$in": ["services", "workflows"]}}}]


def test_while_a_change_stream_watches_events_do_not_read_the_definitions(monkeypatch):
    feed = ChangeFeed()
    (_, other), _ = two_apps(feed)
    send(other)

    def no_read(*args, **kwargs):
        pytest.fail("the definitions were read again")

    monkeypatch.setattr("machinery.store.definitions.DefinitionRepository.get", no_read)
    monkeypatch.setattr("machinery.store.services.ServiceRepository.by_names", no_read)
    assert send(other)["status"] == "succeeded"
