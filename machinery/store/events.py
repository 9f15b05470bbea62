"""The events collection: each event with its input data, its steps and how it ended."""

from datetime import UTC, datetime

from bson import ObjectId
from pymongo.collection import Collection

from machinery.engine import states
from machinery.errors import NotFound
from machinery.store.definitions import object_id, to_plain


class EventRepository:
    def __init__(self, collection: Collection):
        self.collection = collection

    def accept(self, workflow: dict, data: dict) -> dict:
        """Store a new running event for the workflow and its data."""
        document = {
            "workflow_id": ObjectId(workflow["id"]),
            "workflow": workflow["name"],
            "status": states.RUNNING,
            "data": data,
            "acked_at": datetime.now(UTC),
            "finished_at": None,
            "outputs": None,
            "error": None,
            "steps": [],
        }
        self.collection.insert_one(document)
        return self._plain(document)

    def record_step(self, event_id: str, step: dict) -> None:
        self.collection.update_one({"_id": ObjectId(event_id)}, {"$push": {"steps": step}})

    def finish(self, event_id: str, status: str, outputs: dict, error: dict | None) -> dict:
        """Store how the event ended and return it."""
        update = {
            "status": status,
            "outputs": outputs,
            "error": error,
            "finished_at": datetime.now(UTC),
        }
        self.collection.update_one({"_id": ObjectId(event_id)}, {"$set": update})
        return self.get(event_id)

    def get(self, event_id: str) -> dict:
        oid = object_id(event_id)
        document = self.collection.find_one({"_id": oid}) if oid else None
        if document is None:
            raise NotFound(f"No event identified by {event_id!r}.")
        return self._plain(document)

    def list(
        self, page: int, page_size: int, workflow: str | None = None, status: str | None = None
    ) -> tuple[list[dict], int]:
        """One page of events, newest first, and how many match in all.

        `workflow` is a workflow's name or id; events stay listed after their workflow is deleted.
        """
        query: dict = {}
        if workflow is not None:
            oid = object_id(workflow)
            query.update({"$or": [{"workflow_id": oid}, {"workflow": workflow}]} if oid else {"workflow": workflow})
        if status is not None:
            query["status"] = status
        cursor = (
            self.collection.find(query, {"data": 0, "steps": 0})
            .sort([("acked_at", -1), ("_id", -1)])
            .skip((page - 1) * page_size)
            .limit(page_size)
        )
        return [self._plain(doc) for doc in cursor], self.collection.count_documents(query)

    @staticmethod
    def _plain(document: dict) -> dict:
        plain = to_plain(document)
        plain["workflow_id"] = str(plain["workflow_id"])
        return plain
