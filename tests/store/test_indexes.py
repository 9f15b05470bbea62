"""The indexes: the listings' compound indexes, the obsolete ones dropped, the events' retention."""

import mongomock
import pytest
from pymongo import ASCENDING, DESCENDING

from machinery.store.indexes import INDEXES, ensure_indexes


@pytest.fixture
def db():
    return mongomock.MongoClient(tz_aware=True).get_database("machinery")


def keys(db, collection="events"):
    return {name: info["key"] for name, info in db[collection].index_information().items()}


def ttl(db):
    """The events' TTL indexes: {key: expireAfterSeconds}."""
    return {
        tuple(info["key"]): info["expireAfterSeconds"]
        for info in db.events.index_information().values()
        if "expireAfterSeconds" in info
    }


def test_the_listings_have_their_compound_indexes(db):
    ensure_indexes(db)
    made = list(keys(db).values())
    for index in (
        [("acked_at", DESCENDING), ("_id", DESCENDING)],
        [("status", ASCENDING), ("acked_at", DESCENDING), ("_id", DESCENDING)],
        [("workflow_id", ASCENDING), ("acked_at", DESCENDING), ("_id", DESCENDING)],
        [
            ("workflow_id", ASCENDING),
            ("status", ASCENDING),
            ("acked_at", DESCENDING),
            ("_id", DESCENDING),
        ],
        [("workflow", ASCENDING), ("acked_at", DESCENDING), ("_id", DESCENDING)],
    ):
        assert index in made
    assert [("name", ASCENDING)] in keys(db, "services").values()


def test_the_listing_indexes_without_id_are_dropped_once_superseded(db):
    for obsolete in ([("acked_at", DESCENDING)], [("workflow", ASCENDING), ("acked_at", -1)]):
        db.events.create_index(obsolete)
    ensure_indexes(db)
    made = list(keys(db).values())
    assert [("acked_at", DESCENDING)] not in made
    assert [("workflow", ASCENDING), ("acked_at", DESCENDING)] not in made
    assert len(made) == len(INDEXES["events"]) + 1  # and _id


def test_a_store_that_cannot_index_id_with_other_fields_gets_the_indexes_without_it(
    db, monkeypatch
):
    monkeypatch.setattr(mongomock.MongoClient, "server_info", lambda client: {"ok": 1})
    db.events.create_index([("acked_at", DESCENDING)])  # as earlier versions made it
    ensure_indexes(db)
    made = list(keys(db).values())
    assert not any(len(key) > 1 and "_id" in dict(key) for key in made)
    assert [("acked_at", DESCENDING)] in made
    assert [("workflow_id", ASCENDING), ("status", ASCENDING), ("acked_at", DESCENDING)] in made


def test_no_retention_keeps_events_forever(db):
    names = ensure_indexes(db)
    assert ttl(db) == {}
    assert not any("finished_at" in name for name in names)


def test_a_retention_is_a_ttl_index_on_finished_at(db):
    names = ensure_indexes(db, event_retention_days=30)
    assert ttl(db) == {(("finished_at", ASCENDING),): 30 * 86400}
    assert "events.finished_at_1" in names
    assert ensure_indexes(db, event_retention_days=30) == names  # again: nothing changes


def test_unsetting_the_retention_removes_the_ttl_index(db):
    ensure_indexes(db, event_retention_days=30)
    ensure_indexes(db)
    assert ttl(db) == {}
