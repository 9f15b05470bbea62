"""Listings and retention on a real wire-protocol store (nx-27017): the commands sent, counted
with pymongo's command monitoring, and pages that stay exact where the store is coarse."""

import functools
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from bson import ObjectId
from pymongo import MongoClient, monitoring

from machinery import create_app
from machinery.store.indexes import ensure_indexes

START = datetime(2026, 3, 1, 12, 0, 0, 400000, tzinfo=UTC)


class Commands(monitoring.CommandListener):
    """The commands a client sends: (name, the command)."""

    def __init__(self):
        self.sent = []

    def started(self, event):
        self.sent.append((event.command_name, dict(event.command)))

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass

    def take(self):
        taken, self.sent = self.sent, []
        return taken


@pytest.fixture
def commands():
    return Commands()


@pytest.fixture
def app(mongo_uri, commands):
    app = create_app(
        {
            "TESTING": True,
            "MONGO_URI": mongo_uri,
            "MONGO_DB": f"history_{uuid.uuid4().hex[:8]}",
            "MONGO_CLIENT_FACTORY": functools.partial(MongoClient, event_listeners=[commands]),
            "MANAGEMENT_KEYS": [],
            "CONSUMER_KEYS": [],
        }
    )
    yield app
    app.extensions["machinery.store"].connection.close()


def store_events(app, moments, status="succeeded"):
    db = app.extensions["machinery.store"].connection.db
    documents = [
        {
            "_id": ObjectId(),
            "workflow_id": "6b09f0bde692bd4fe2a2bd1e",
            "workflow": "process-text",
            "status": status,
            "data": {},
            "acked_at": moment,
            "finished_at": moment,
        }
        for moment in moments
    ]
    db.events.insert_many(documents)
    order = sorted(documents, key=lambda d: (d["acked_at"], d["_id"]), reverse=True)
    return [str(document["_id"]) for document in order]


def test_cursor_pages_are_exact_within_a_second_and_a_millisecond(app):
    # The store compares dates to the second: a range on acked_at alone would lose these.
    moments = [START + timedelta(milliseconds=n // 3) for n in range(20)]
    moments += [START + timedelta(milliseconds=300 + 37 * n) for n in range(8)]
    expected = store_events(app, moments)
    client = app.test_client()
    listed, path = [], "/e?workflow=process-text&status=succeeded&page_size=4"
    answer = client.get(path).json
    while True:
        listed += [item["event_id"] for item in answer["items"]]
        if answer["next"] is None:
            break
        answer = client.get(f"{path}&cursor={answer['next']}").json
    assert listed == expected


def test_a_listing_sends_no_count_unless_asked_and_no_or(app, commands):
    store_events(app, [START + timedelta(milliseconds=n) for n in range(5)])
    client = app.test_client()
    commands.take()
    first = client.get("/e?workflow=process-text&status=succeeded&page_size=2").json
    client.get(f"/e?workflow=process-text&status=succeeded&page_size=2&cursor={first['next']}")
    client.get("/s?page_size=2")
    client.get("/w")
    sent = commands.take()
    # A workflow look-up per /e, and a find per page: this store compares dates to the second,
    # so a cursor's range holds the rest of its second too, and may be read again with a larger
    # limit. Nothing else: no count.
    assert {name for name, _ in sent} == {"find"} and len(sent) >= 6
    for _, command in sent:
        assert "$or" not in str(command.get("filter")) and "skip" not in command
    client.get("/e?status=succeeded&count=true")
    assert [name for name, _ in commands.take()] == ["find", "aggregate"]


def test_retention_is_set_changed_and_removed(app):
    db = app.extensions["machinery.store"].connection.db

    def expiry():
        found = [
            info.get("expireAfterSeconds")
            for info in db.events.index_information().values()
            if [tuple(key) for key in info["key"]] == [("finished_at", 1)]
        ]
        return found[0] if found else None

    ensure_indexes(db, event_retention_days=30)
    assert expiry() == 30 * 86400
    ensure_indexes(db, event_retention_days=90)
    assert expiry() == 90 * 86400
    ensure_indexes(db)
    assert expiry() is None
    store_events(app, [START])  # the events' indexes still take documents
