"""The events and steps collections: each event with its data and how it ended, and its steps.

References between documents (an event's workflow, a step's event) are kept as id strings.

Steps are documents of their own, inserted as they finish: appending never rewrites the event,
and an event's size does not grow with the answers of its services.

Every write of an event or a step is made again when the connection to MongoDB breaks during it
(a restart, a failover), a few times with backoff: an event whose services were called should
not be left half recorded. Writing again is safe: documents carry their _id from the first try,
and steps are unique by event and index, so a write that had landed is found, not doubled.
"""

from datetime import timedelta

import tenacity
from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.collection import Collection
from pymongo.errors import AutoReconnect, DuplicateKeyError

from machinery.engine import states
from machinery.errors import NotFound
from machinery.store.documents import now, object_id, to_plain


class EventRepository:
    def __init__(self, collection: Collection, steps: Collection):
        self.collection = collection
        self.steps = steps

    def accept(
        self, workflow: dict, data: dict, key: str | None = None, fingerprint: str | None = None
    ) -> tuple[dict, bool]:
        """Store a new running event for the workflow and its data: (event, True).

        With an idempotency key already used for the workflow, nothing is stored and the event
        that first used it is returned instead: (that event, False). A unique index decides, so
        concurrent duplicates cannot both be stored.
        """
        document = {
            "workflow_id": workflow["id"],
            "workflow": workflow["name"],
            "workflow_version": workflow.get("version"),
            "status": states.RUNNING,
            "data": data,
            "acked_at": now(),
            "finished_at": None,
            "outputs": None,
            "error": None,
        }
        if key is not None:
            document["idempotency_key"] = f"{workflow['id']}:{key}"
            document["fingerprint"] = fingerprint
        document["_id"] = ObjectId()
        try:
            _durably(lambda: self.collection.insert_one(document))
        except DuplicateKeyError:
            if self.collection.find_one({"_id": document["_id"]}) is not None:
                return to_plain(document), True  # an earlier try landed
            original = self.collection.find_one({"idempotency_key": document["idempotency_key"]})
            if original is None:  # the original was deleted in between
                raise
            return to_plain(original), False
        return to_plain(document), True

    def record_step(self, event_id: str, step: dict) -> None:
        document = {**step, "event_id": event_id}
        try:
            _durably(lambda: self.steps.insert_one(document))
        except DuplicateKeyError:
            pass  # an earlier try landed: steps are unique by event and index

    def finish(self, event_id: str, status: str, outputs: dict, error: dict | None) -> dict:
        """Store how the event ended and return it (without its data), in one round trip."""
        update = {
            "$set": {"status": status, "outputs": outputs, "error": error},
            "$currentDate": {"finished_at": True},
        }
        document = _durably(
            lambda: self.collection.find_one_and_update(
                {"_id": ObjectId(event_id)},
                update,
                projection={"data": 0, "fingerprint": 0},
                return_document=ReturnDocument.AFTER,
            )
        )
        if document is None:
            raise NotFound(f"No event identified by {event_id!r}.")
        return to_plain(document)

    def interrupt_stale(self, older_than_s: float) -> int:
        """Mark failed the events still running this long after they were accepted: they were
        cut off before their end could be kept. Return how many there were."""
        cutoff = now() - timedelta(seconds=older_than_s)
        error = {
            "kind": states.INTERRUPTED,
            "message": f"still running {older_than_s:g} s after it was accepted: cut off "
            "before its end could be recorded",
        }
        update = {
            "$set": {"status": states.FAILED, "error": error},
            "$currentDate": {"finished_at": True},
        }
        stale = {"status": states.RUNNING, "acked_at": {"$lt": cutoff}}
        result = self.collection.update_many(stale, update)
        return result.modified_count

    def get(self, event_id: str, with_steps: bool = True) -> dict:
        """The event, with its steps in order unless asked otherwise."""
        oid = object_id(event_id)
        document = self.collection.find_one({"_id": oid}) if oid else None
        if document is None:
            raise NotFound(f"No event identified by {event_id!r}.")
        event = to_plain(document)
        if with_steps:
            query = {"event_id": event["id"]}
            cursor = self.steps.find(query, {"_id": 0, "event_id": 0}).sort("index", 1)
            event["steps"] = list(cursor)
        return event

    def list(
        self, page: int, page_size: int, workflow: str | None = None, status: str | None = None
    ) -> tuple[list[dict], int]:
        """One page of events, newest first, and how many match in all.

        `workflow` is a workflow's name or id; events stay listed after their workflow is deleted.
        """
        query: dict = {}
        if workflow is not None:
            query["$or"] = [{"workflow_id": workflow}, {"workflow": workflow}]
        if status is not None:
            query["status"] = status
        cursor = (
            self.collection.find(query, {"data": 0, "fingerprint": 0})
            .sort([("acked_at", -1), ("_id", -1)])
            .skip((page - 1) * page_size)
            .limit(page_size)
        )
        return [to_plain(doc) for doc in cursor], self.collection.count_documents(query)


# Its state is per thread, so one serves every write.
_WRITES = tenacity.Retrying(
    retry=tenacity.retry_if_exception_type(AutoReconnect),
    stop=tenacity.stop_after_attempt(4),
    wait=tenacity.wait_exponential(multiplier=0.2, max=2),
    reraise=True,
)


def _durably(write):
    """Make a write, again when the connection broke during it: 4 tries, with backoff."""
    return _WRITES(write)
