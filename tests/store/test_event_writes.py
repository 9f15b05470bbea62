"""Event and step writes survive a connection that breaks during them, without doubling."""

from datetime import timedelta

import mongomock
import pytest
from bson import ObjectId
from pymongo.errors import AutoReconnect

from machinery.store.events import EventRepository

WORKFLOW = {"id": "6b09f0bde692bd4fe2a2bd1e", "name": "process-text", "version": 1}


class Breaking:
    """A collection whose next writes break: before reaching the server, or after landing."""

    def __init__(self, collection):
        self.collection = collection
        self.plan = []  # "before" or "after", one per write to break

    def __getattr__(self, name):
        attribute = getattr(self.collection, name)
        if name not in ("insert_one", "update_one", "find_one_and_update"):
            return attribute

        def write(*args, **kwargs):
            breaking = self.plan.pop(0) if self.plan else None
            if breaking == "before":
                raise AutoReconnect("connection reset")
            result = attribute(*args, **kwargs)
            if breaking == "after":
                raise AutoReconnect("connection reset after the write")
            return result

        return write


PINS: list = []
OWNER = "this-process"


@pytest.fixture
def repository():
    db = mongomock.MongoClient().machinery
    db.events.create_index("idempotency_key", unique=True, sparse=True)
    return EventRepository(Breaking(db.events)), db


@pytest.mark.parametrize("breaking", [["before"], ["after"], ["before", "after"]])
def test_an_event_is_stored_once_when_its_writes_break(repository, breaking):
    events, db = repository
    events.collection.plan = list(breaking)
    event, created = events.accept(
        WORKFLOW, PINS, {"message": "x"}, key="k", fingerprint="f", owner=OWNER
    )
    assert created
    assert db.events.count_documents({}) == 1

    events.collection.plan = list(breaking)
    step = {"index": 0, "run": 0, "service": "upper", "outputs": {"message": "X"}}
    saved = events.checkpoint(event["id"], event["fence"], 1, {"message": "X"}, 30, 1, [step])
    assert saved is not None
    assert events.get(event["id"])["steps"] == [step]

    events.collection.plan = list(breaking)
    finished = events.finish(event["id"], event["fence"], "succeeded", {"message": "X"}, None)
    assert finished["status"] == "succeeded"


def test_a_duplicate_key_is_still_a_duplicate(repository):
    events, db = repository
    first, _ = events.accept(
        WORKFLOW, PINS, {"message": "x"}, key="k", fingerprint="f", owner=OWNER
    )
    again, created = events.accept(
        WORKFLOW, PINS, {"message": "x"}, key="k", fingerprint="f", owner=OWNER
    )
    assert not created
    assert again["id"] == first["id"]


def test_a_connection_that_stays_broken_gives_up(repository):
    events, _ = repository
    events.collection.plan = ["before"] * 4
    with pytest.raises(AutoReconnect):
        events.accept(WORKFLOW, PINS, {"message": "x"})


def test_events_running_too_long_are_marked_interrupted(repository):
    events, db = repository
    old, _ = events.accept(WORKFLOW, PINS, {"message": "old"}, owner=OWNER)
    fresh, _ = events.accept(WORKFLOW, PINS, {"message": "fresh"}, owner=OWNER)
    done, _ = events.accept(WORKFLOW, PINS, {"message": "done"}, owner=OWNER)
    events.finish(done["id"], done["fence"], "succeeded", {}, None)
    an_hour_ago = db.events.find_one({"_id": ObjectId(old["id"])})["acked_at"] - timedelta(hours=2)
    for event in (old, done):
        db.events.update_one({"_id": ObjectId(event["id"])}, {"$set": {"acked_at": an_hour_ago}})

    assert events.interrupt_stale(3600) == 1
    interrupted = events.get(old["id"])
    assert interrupted["status"] == "failed"
    assert interrupted["error"]["kind"] == "interrupted"
    assert interrupted["finished_at"] is not None
    assert events.get(fresh["id"])["status"] == "running"
    assert events.get(done["id"])["status"] == "succeeded"
    assert events.interrupt_stale(3600) == 0


def test_a_step_answer_past_the_bound_is_recorded_by_its_size(repository):
    events, _ = repository
    events.max_recorded = 100
    event, _ = events.accept(WORKFLOW, PINS, {"message": "x"}, owner=OWNER)
    small = {"index": 0, "run": 0, "outputs": {"message": "X"}}
    large = {"index": 1, "run": 0, "outputs": {"message": "X" * 200}}
    events.checkpoint(event["id"], event["fence"], 2, {"message": "X"}, 30, 2, [small, large])
    kept_small, kept_large = events.get(event["id"])["steps"]
    assert kept_small == small
    assert kept_large["outputs"] is None
    assert kept_large["outputs_omitted"] == {"bytes": 214, "limit": 100}


def test_steps_recorded_before_they_were_kept_in_events_are_still_read():
    db = mongomock.MongoClient().machinery
    events = EventRepository(db.events, db.steps)
    event, _ = events.accept(WORKFLOW, PINS, {"message": "x"}, owner=OWNER)
    db.events.update_one({"_id": ObjectId(event["id"])}, {"$unset": {"steps": ""}})
    db.steps.insert_many(
        [
            {"event_id": event["id"], "index": 1, "service": "reverse"},
            {"event_id": event["id"], "index": 0, "service": "upper"},
        ]
    )
    steps = events.get(event["id"])["steps"]
    assert [(step["run"], step["index"]) for step in steps] == [(0, 0), (0, 1)]
