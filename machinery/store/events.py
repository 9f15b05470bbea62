"""The events and steps collections: each event with its run state, and its steps.

An event document holds what it was accepted with (the data, the workflow and service versions
pinned then), its run state (the running data and the cursor, saved after every step), how it
ended, and who runs it: a lease (owner, expiry) and a fencing token. A process claims an event
by taking its lease and raising the token; every write it makes afterwards names the token it
holds, so a process whose lease was taken over writes nothing more.

References between documents (an event's workflow, a step's event) are kept as id strings.
Times that are compared in queries (lease expiries) are seconds since the epoch.

Steps are recorded in the event document itself, under `steps.r<run>s<index>` (a redrive is a
new run): a step's record is written by the same write that saves the run state after it, so an
event is found with its steps by its _id alone, and a step is never recorded without the state
that follows it. A recorded answer larger than the event's bound is noted by its size, not kept
(the running data keeps the declared outputs; see `bounded`).

Every write is made again when the connection to MongoDB breaks during it (a restart, a
failover), a few times with backoff. Writing again is safe: documents carry their _id from the
first try, and run-state writes are idempotent.
"""

import json
import re
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import tenacity
from bson import ObjectId
from pymongo import DESCENDING, ReturnDocument
from pymongo.collection import Collection
from pymongo.errors import AutoReconnect, DuplicateKeyError

from machinery import states
from machinery.errors import Conflict, NotFound
from machinery.store.documents import now, object_id, to_plain
from machinery.store.listing import Order, Page, PageRequest, encode_cursor, read_page
from machinery.store.webhooks import armed_delivery

# What listings and event answers leave out: the data and the run state are for GET /e/<id>.
# Built afresh for each query: a driver may add to a projection it is given (mongomock adds
# "_id": 1), which would turn a shared exclusion into an inclusion of _id alone.
_LEFT_OUT = ("data", "fingerprint", "running", "steps")


def _summary() -> dict:
    return dict.fromkeys(_LEFT_OUT, 0)


class EventRepository:
    def __init__(
        self, collection: Collection, legacy_steps: Collection | None = None, max_recorded=65536
    ):
        """legacy_steps: where versions before steps were kept in events recorded them (read
        only); max_recorded: the largest answer, in bytes of JSON, a step's record keeps."""
        self.collection = collection
        self.legacy_steps = legacy_steps
        self.max_recorded = max_recorded

    def accept(
        self,
        workflow: dict,
        pins: list[dict],
        data: dict,
        *,
        key: str | None = None,
        fingerprint: str | None = None,
        owner: str | None = None,
        lease_s: float = 30.0,
        callback_url: str | None = None,
        durability: str = "step",
        trace: dict | None = None,
    ) -> tuple[dict, bool]:
        """Store a new event for the workflow and its data: (event, True).

        With an `owner`, the event is stored running and leased to it (a synchronous event, run
        by the process accepting it); without, it is queued for a worker.

        With an idempotency key already used for the workflow, nothing is stored and the event
        that first used it is returned instead: (that event, False). A unique index decides, so
        concurrent duplicates cannot both be stored.
        """
        document = {
            "_id": ObjectId(),
            "workflow_id": workflow["id"],
            "workflow": workflow["name"],
            "workflow_version": workflow.get("version"),
            "services": pins,
            "status": states.RUNNING if owner else states.QUEUED,
            "durability": durability,
            "data": data,
            "acked_at": now(),
            "finished_at": None,
            "outputs": None,
            "error": None,
            "cursor": 0,
            "current_step": 0,
            "running": data,
            "steps": {},
            "run": 0,
            "redrives": [],
            "cancel_requested": False,
            "fence": 1 if owner else 0,
            "lease_owner": owner,
            "lease_until": time.time() + lease_s if owner else 0.0,
        }
        if trace:  # the trace id it continues, the request id that sent it
            document.update(trace)
        if callback_url is not None:
            document["callback_url"] = callback_url
            document["webhook"] = armed_delivery()  # due once the end is stored
        if key is not None:
            document["idempotency_key"] = f"{workflow['id']}:{key}"
            document["fingerprint"] = fingerprint
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

    def claim(self, owner: str, lease_s: float) -> tuple[dict, str] | None:
        """Lease to `owner` the oldest queued event, a running one whose lease expired, or a
        waiting one whose callback is overdue: (the event as claimed, the status it had), or
        None."""
        moment = time.time()
        claimable = {
            "$or": [
                {"status": states.QUEUED},
                {"status": states.RUNNING, "lease_until": {"$lt": moment}},
                {"status": states.WAITING, "waiting.deadline": {"$lt": moment}},
            ]
        }
        before = _durably(
            lambda: self.collection.find_one_and_update(
                claimable,
                {
                    "$set": {
                        "status": states.RUNNING,
                        "lease_owner": owner,
                        "lease_until": moment + lease_s,
                    },
                    "$inc": {"fence": 1},
                },
                sort=[("acked_at", 1)],
                return_document=ReturnDocument.BEFORE,
            )
        )
        if before is None:
            return None
        event = to_plain(before)
        previous = event["status"]
        event.update(
            status=states.RUNNING,
            lease_owner=owner,
            lease_until=moment + lease_s,
            fence=event.get("fence", 0) + 1,
        )
        return event, previous

    def renew(self, owner: str, event_ids: list[str], lease_s: float) -> int:
        """Extend the leases `owner` still holds on these events; return how many it holds."""
        if not event_ids:
            return 0
        result = self.collection.update_many(
            {"_id": {"$in": [ObjectId(i) for i in event_ids]}, "lease_owner": owner},
            {"$set": {"lease_until": time.time() + lease_s}},
        )
        return result.matched_count

    def checkpoint(
        self,
        event_id: str,
        fence: int,
        cursor: int | tuple,
        running: dict,
        lease_s: float,
        current_step: int | None = None,
        records: Sequence[dict] = (),
    ) -> dict | None:
        """Save the run state after a step with the step's record (renewing the lease), and the
        step that runs next: the event's `cancel_requested` then, or None when the lease was
        lost (another process holds the event now)."""
        fields = {
            "cursor": cursor,
            "running": running,
            "current_step": current_step,
            "lease_until": time.time() + lease_s,
            **self._recorded(records),
        }
        return _durably(
            lambda: self.collection.find_one_and_update(
                {"_id": ObjectId(event_id), "fence": fence},
                {"$set": fields},
                projection={"cancel_requested": 1},
            )
        )

    def wait(self, event_id: str, fence: int, run: int, record: dict, nonce: str, wait_s: float):
        """Leave the event waiting `wait_s` seconds for a callback service to post the step's
        result (nothing holds it meanwhile); None when the lease was lost."""
        waiting = {
            "kind": states.WAITING_FOR_CALLBACK,
            "run": run,
            "step": record["index"],
            "nonce": nonce,
            "wait_s": wait_s,
            "deadline": time.time() + wait_s,
            "record": record,
            "result": None,
            "rejections": 0,
        }
        document = _durably(
            lambda: self.collection.find_one_and_update(
                {"_id": ObjectId(event_id), "fence": fence},
                {
                    "$set": {
                        "status": states.WAITING,
                        "waiting": waiting,
                        "current_step": record["index"],
                        "lease_owner": None,
                        "lease_until": 0.0,
                    }
                },
                projection=_summary(),
                return_document=ReturnDocument.AFTER,
            )
        )
        return to_plain(document)

    def record(self, event_id: str, fence: int, records: Sequence[dict]) -> bool:
        """Keep these steps' records in the event (a parallel's or a map's calls, as each ends),
        if the lease `fence` names is still held; whether it was."""
        result = _durably(
            lambda: self.collection.update_one(
                {"_id": ObjectId(event_id), "fence": fence}, {"$set": self._recorded(records)}
            )
        )
        return result.matched_count == 1

    def sleep(
        self,
        event_id: str,
        fence: int,
        cursor,
        running: dict,
        wake_at: float,
        records: Sequence[dict] = (),
    ) -> dict | None:
        """Leave the event waiting until `wake_at` (a wait step), its state saved past the wait
        and nothing holding it: a worker claims it then. None when the lease was lost."""
        document = _durably(
            lambda: self.collection.find_one_and_update(
                {"_id": ObjectId(event_id), "fence": fence},
                {
                    "$set": {
                        "status": states.WAITING,
                        "waiting": {
                            "kind": states.WAITING_FOR_TIME,
                            "deadline": wake_at,
                            "record": _waits(records),
                        },
                        "cursor": cursor,
                        "running": running,
                        "current_step": None,
                        "lease_owner": None,
                        "lease_until": 0.0,
                        **self._recorded(records),
                    }
                },
                projection=_summary(),
                return_document=ReturnDocument.AFTER,
            )
        )
        return to_plain(document)

    def waiting_for(self, event_id: str, nonce: str) -> dict | None:
        """The event while it waits for the callback with this nonce, or None."""
        oid = object_id(event_id)
        if oid is None:
            return None
        query = {"_id": oid, "status": states.WAITING, "waiting.nonce": nonce}
        return to_plain(self.collection.find_one(query))

    def complete_callback(self, event_id: str, nonce: str, record: dict) -> bool:
        """Keep the result a callback brought and queue the event to go on, once per nonce."""
        done = self.collection.find_one_and_update(
            {"_id": ObjectId(event_id), "status": states.WAITING, "waiting.nonce": nonce},
            {"$set": {"status": states.QUEUED, "waiting.result": record, "waiting.nonce": None}},
            projection={"_id": 1},
        )
        return done is not None

    def extend_deadline(self, event_id: str, nonce: str, deadline: float) -> bool:
        """Move the deadline of the step waiting for this nonce (a heartbeat)."""
        result = self.collection.update_one(
            {"_id": ObjectId(event_id), "status": states.WAITING, "waiting.nonce": nonce},
            {"$set": {"waiting.deadline": deadline}},
        )
        return result.matched_count == 1

    def reject_callback(self, event_id: str, nonce: str, rejection: dict) -> None:
        """Note a callback refused for its result: the step goes on waiting."""
        self.collection.update_one(
            {"_id": ObjectId(event_id), "waiting.nonce": nonce},
            {"$set": {"waiting.last_rejection": rejection}, "$inc": {"waiting.rejections": 1}},
        )

    def _recorded(self, records: Sequence[dict]) -> dict:
        """The fields that record these steps in their event."""
        return {_record_key(record): bounded(record, self.max_recorded) for record in records}

    def finish(
        self,
        event_id: str,
        fence: int | None,
        status: str,
        outputs: dict | None,
        error: dict | None,
        cursor: int | tuple | None = None,
        running: dict | None = None,
        records: Sequence[dict] = (),
    ) -> dict | None:
        """Store how the event ended, with the records of the steps not yet kept, and return it
        (without its data), in one round trip; None when the lease `fence` names was lost
        (None: whoever holds it)."""
        fields = {
            "status": status,
            "outputs": outputs,
            "error": error,
            "lease_owner": None,
            "lease_until": 0.0,
            "current_step": None,
        }
        if cursor is not None:
            fields.update(cursor=cursor, running=running)
        fields.update(self._recorded(records))
        query: dict = {"_id": ObjectId(event_id)}
        if fence is not None:
            query["fence"] = fence
        document = _durably(
            lambda: self.collection.find_one_and_update(
                query,
                {"$set": fields, "$currentDate": {"finished_at": True}},
                projection=_summary(),
                return_document=ReturnDocument.AFTER,
            )
        )
        return to_plain(document)

    def release(self, event_id: str, fence: int) -> bool:
        """Give the event back to the queue between two steps (a worker stopping)."""
        result = _durably(
            lambda: self.collection.update_one(
                {"_id": ObjectId(event_id), "fence": fence, "status": states.RUNNING},
                {"$set": {"status": states.QUEUED, "lease_owner": None, "lease_until": 0.0}},
            )
        )
        return result.matched_count == 1

    def cancel(self, event_id: str) -> dict:
        """Cancel a queued or waiting event at once, or ask a running one to stop before its
        next step; Conflict when it has already ended."""
        oid = self._require_id(event_id)
        cancelled = self.collection.find_one_and_update(
            {"_id": oid, "status": {"$in": [states.QUEUED, states.WAITING]}},
            {
                "$set": {"status": states.CANCELLED, "cancel_requested": True},
                "$currentDate": {"finished_at": True},
            },
            projection=_summary(),
            return_document=ReturnDocument.AFTER,
        )
        if cancelled is not None:
            waited = (cancelled.get("waiting") or {}).get("record")
            if waited:  # the wait's record says it never ended
                self.collection.update_one(
                    {"_id": oid}, {"$set": {f"{waited}.outcome": states.CANCELLED}}
                )
            return to_plain(cancelled)
        cancelling = self.collection.find_one_and_update(
            {"_id": oid, "status": states.RUNNING},
            {"$set": {"cancel_requested": True}},
            projection=_summary(),
            return_document=ReturnDocument.AFTER,
        )
        if cancelling is not None:
            return to_plain(cancelling)
        event = self.get(event_id, with_steps=False)
        raise Conflict(
            f"Event {event_id} has already ended ({event['status']}); there is nothing to cancel.",
            event_id=event_id,
            event_status=event["status"],
        )

    def redrive(self, event_id: str) -> dict:
        """Queue a failed or cancelled event again, from the step that did not complete, as a
        new run; Conflict for an event in any other state."""
        event = self.get(event_id, with_steps=False)
        if event["status"] not in states.REDRIVABLE_STATES:
            raise Conflict(
                f"Event {event_id} is {event['status']}: only failed or cancelled events can "
                "be redriven.",
                event_id=event_id,
                event_status=event["status"],
            )
        error = event.get("error") or {}
        redrive = {"at": now(), "run": event.get("run", 0) + 1, "status": event["status"]}
        if error:
            redrive.update(step=error.get("step"), kind=error.get("kind"))
        document = self.collection.find_one_and_update(
            {"_id": ObjectId(event_id), "status": event["status"], "run": event.get("run", 0)},
            {
                "$set": {
                    "status": states.QUEUED,
                    "error": None,
                    "outputs": None,
                    "finished_at": None,
                    "cancel_requested": False,
                    "current_step": error.get("step"),
                    "redrives": [*event.get("redrives", []), redrive],
                    # Its next end is sent too (a delivery still pending is for that end now).
                    **({"webhook": armed_delivery()} if event.get("callback_url") else {}),
                },
                "$inc": {"run": 1},
            },
            projection=_summary(),
            return_document=ReturnDocument.AFTER,
        )
        if document is None:
            raise Conflict(f"Event {event_id} changed meanwhile; read it and retry.")
        return to_plain(document)

    def interrupt_stale(self, older_than_s: float) -> int:
        """Mark failed the events still running this long after they were accepted, whatever
        their lease says. Return how many there were."""
        cutoff = now() - timedelta(seconds=older_than_s)
        error = {
            "kind": states.INTERRUPTED,
            "message": f"still running {older_than_s:g} s after it was accepted: cut off "
            "before its end could be recorded",
        }
        update = {
            "$set": {"status": states.FAILED, "error": error, "lease_owner": None},
            "$currentDate": {"finished_at": True},
        }
        stale = {"status": states.RUNNING, "acked_at": {"$lt": cutoff}}
        result = self.collection.update_many(stale, update)
        return result.modified_count

    def get(self, event_id: str, with_steps: bool = True) -> dict:
        """The event, with its steps in order unless asked otherwise."""
        projection = None if with_steps else {"steps": 0}
        document = self.collection.find_one({"_id": self._require_id(event_id)}, projection)
        if document is None:
            raise NotFound(f"No event identified by {event_id!r}.")
        event = to_plain(document)
        if not with_steps:
            event.pop("steps", None)
        elif "steps" in event:
            event["steps"] = sorted(event["steps"].values(), key=_record_order)
        elif self.legacy_steps is not None:  # recorded before steps were kept in their event
            cursor = self.legacy_steps.find({"event_id": event["id"]}, {"_id": 0, "event_id": 0})
            event["steps"] = [{"run": 0, **step} for step in cursor.sort("index", 1)]
        return event

    def recent_steps(self, service: str, limit: int = 200) -> list[dict]:
        """The records of the steps calling `service` in the `limit` most recent events that
        pinned it, newest event first."""
        query = {"services.service": service}
        cursor = self.collection.find(query, {"steps": 1}).sort("_id", -1).limit(limit)
        return [
            step
            for document in cursor
            for step in (document.get("steps") or {}).values()
            if step.get("service") == service
        ]

    def list(
        self,
        request: PageRequest,
        workflow_id: str | None = None,
        workflow: str | None = None,
        status: str | None = None,
    ) -> Page:
        """One page of events, newest first, and how many match in all when that is asked for.

        `workflow_id`: the id of the workflow the events are of. `workflow`, given instead, is how
        a client named a workflow that is no longer registered (events stay listed after their
        workflow is deleted): its id when spelled as one, its name otherwise. Each is one
        equality on a field the events keep, served by an index with the status and the order.
        """
        query: dict = {}
        if workflow_id is not None:
            query["workflow_id"] = workflow_id
        elif workflow is not None:
            query["workflow_id" if object_id(workflow) else "workflow"] = workflow
        if status is not None:
            query["status"] = status
        return read_page(self.collection, query, request, NEWEST_FIRST, _summary())

    def queue(self) -> tuple[int, datetime | None]:
        """How many events are queued, and when the oldest of them was accepted (None: none is);
        the (status, acked_at, _id) index serves both."""
        queued = {"status": states.QUEUED}
        depth = self.collection.count_documents(queued)
        oldest = self.collection.find_one(queued, {"acked_at": 1}, sort=[("acked_at", 1)])
        return depth, (oldest or {}).get("acked_at")

    @staticmethod
    def cursor_up_to(moment: datetime) -> str:
        """A cursor of the listing (newest first) at the events accepted at or before `moment`."""
        key = {"t": _milliseconds(moment) + 1, "id": "0" * 24}
        return encode_cursor(NEWEST_FIRST.listing, key)

    @staticmethod
    def _require_id(event_id: str) -> ObjectId:
        oid = object_id(event_id)
        if oid is None:
            raise NotFound(f"No event identified by {event_id!r}.")
        return oid


def _record_key(record: dict) -> str:
    """Where a step's record is kept in its event: by run, call and (in a map) item; a
    construct's by run, place and item."""
    if "construct" in record:
        key = f"steps.r{record['run']}x{_NOT_IN_KEYS.sub('_', record['place'])}"
    else:
        key = f"steps.r{record['run']}s{record['index']}"
    return key + (f"i{record['instance']}" if record.get("instance") else "")


_NOT_IN_KEYS = re.compile(r"[^A-Za-z0-9]+")


def _waits(records: Sequence[dict]) -> str | None:
    """Where the record of the wait an event starts waiting at is kept (None: none of these)."""
    for record in records:
        if record.get("construct") == "wait" and record.get("outcome") == states.WAITING:
            return _record_key(record)
    return None


def _record_order(record: dict) -> tuple:
    """Records in the order their steps are written: by run, then the calls written before
    (a construct first, the outer before the inner), then a map's items in order."""
    instance = record.get("instance") or ""
    items = tuple(int(part) for part in instance.split("_") if part.isdigit())
    if "construct" in record:
        return record["run"], record.get("first", 0), items, 0, len(record.get("place", ""))
    return record["run"], record["index"], items, 1, 0


def _cursor_after(event: dict) -> dict:
    """The cursor after an event: its acked_at (milliseconds since the epoch) and its id."""
    return {"t": _milliseconds(event["acked_at"]), "id": str(event["_id"])}


def _events_after(key: dict) -> dict:
    """The events accepted in or before the cursor's millisecond: one range on acked_at, an
    inclusive bound and no $or, so one interval of an index. Those of that millisecond already
    listed (the cursor's own, and any with a higher id) are left out by `_follows`, as are the
    rest of the cursor's second on a store that compares dates to the second (nx-27017)."""
    if not isinstance(key["t"], int) or isinstance(key["t"], bool):
        raise ValueError("t")
    if not isinstance(key["id"], str) or object_id(key["id"]) is None:
        raise ValueError("id")
    return {"acked_at": {"$lte": _EPOCH + timedelta(milliseconds=key["t"])}}


def _follows(key: dict, event: dict) -> bool:
    """Whether the event comes after the cursor, newest first: accepted earlier, or in the same
    millisecond with a lower id."""
    moment = _milliseconds(event["acked_at"])
    return moment < key["t"] or (moment == key["t"] and event["_id"] < ObjectId(key["id"]))


def _milliseconds(moment: datetime) -> int:
    if moment.tzinfo is None:  # a client made without tz_aware
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(milliseconds=1)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Newest first; the (..., acked_at, _id) indexes serve it after the equalities on the workflow
# and the status.
NEWEST_FIRST = Order(
    listing="events",
    sort=[("acked_at", DESCENDING), ("_id", DESCENDING)],
    key_of=_cursor_after,
    after=_events_after,
    follows=_follows,
)


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


def bounded(record: dict, limit: int) -> dict:
    """A step's record as its event keeps it: its answer, or, when the answer is larger than
    `limit` bytes of JSON, only that size (the running data keeps the declared outputs); the
    same for the body of the request the step sent."""
    request = record.get("request")
    if request is not None and request.get("body") is not None:
        sent = len(json.dumps(request["body"], separators=(",", ":"), default=str))
        if sent > limit:
            omitted = {"bytes": sent, "limit": limit}
            record = {**record, "request": {**request, "body": None, "body_omitted": omitted}}
    outputs = record.get("outputs")
    if outputs is None:
        return record
    size = len(json.dumps(outputs, separators=(",", ":"), default=str))
    if size <= limit:
        return record
    return {**record, "outputs": None, "outputs_omitted": {"bytes": size, "limit": limit}}
