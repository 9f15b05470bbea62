"""Webhook deliveries, kept on their event documents as `webhook`.

A delivery is armed when an event with a `callback_url` is accepted (and again when it is
redriven): `{"status": "pending", "attempts": [], "next_at": 0}`. It becomes due by the very write
that stores the event's end, whichever stores it (a finished run, a cancel, interrupt-stale):
claims look for pending deliveries of events in a final state. So storing an end costs no second
write, and a process that dies right after it loses no webhook.

Workers claim a due delivery atomically with a short lease (its `next_at` moved past the attempt,
and a claim token), make the attempt, and record it under that token: a worker whose claim was
taken over (or whose event was redriven meanwhile) records nothing. `next_at` and `deadline` are
seconds since the epoch, as the events' lease expiries.
"""

import time
import uuid

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.collection import Collection

from machinery import states
from machinery.store.documents import to_plain

PENDING = "pending"  # to be sent once the event ends, or waiting for its next attempt
DELIVERED = "delivered"  # the callback URL answered 2xx
FAILED = "failed"  # not delivered before the deadline, or refused by the address policy
DELIVERY_STATES = (PENDING, DELIVERED, FAILED)

# What a claimed event is read without: its data, run state and step records (built afresh for
# each query, as a driver may add "_id" to a projection it is given).
_LEFT_OUT = ("data", "fingerprint", "running", "steps")


def armed_delivery() -> dict:
    """A delivery due as soon as its event ends."""
    return {"status": PENDING, "attempts": [], "next_at": 0.0}


class WebhookDeliveries:
    """The deliveries of the events collection's documents."""

    def __init__(self, collection: Collection):
        self.collection = collection

    def claim(self, lease_s: float, now: float | None = None) -> tuple[dict, str] | None:
        """Lease the delivery due longest, of an event that has ended, for `lease_s` seconds:
        (the event, the claim token to record its attempt with), or None."""
        moment = time.time() if now is None else now
        token = uuid.uuid4().hex
        event = self.collection.find_one_and_update(
            {
                "webhook.status": PENDING,
                "webhook.next_at": {"$lte": moment},
                "status": {"$in": sorted(states.FINAL_STATES)},
            },
            {"$set": {"webhook.next_at": moment + lease_s, "webhook.claim": token}},
            sort=[("webhook.next_at", 1)],
            projection=dict.fromkeys(_LEFT_OUT, 0),
            return_document=ReturnDocument.AFTER,
        )
        return None if event is None else (to_plain(event), token)

    def record(self, event_id: str, token: str, attempts: list[dict], outcome: dict) -> bool:
        """Store the attempts made (the claimed ones and the new one) and set the delivery's
        `outcome` fields (status, next_at, deadline; a None value removes the field), if the
        claim is still held; whether it was. The claim makes this the only writer: the whole
        list is set, not $push-ed (which nx-27017 stores as a string)."""
        changes: dict = {"$set": {"webhook.attempts": attempts}, "$unset": {"webhook.claim": ""}}
        for name, value in outcome.items():
            if value is None:
                changes["$unset"][f"webhook.{name}"] = ""
            else:
                changes["$set"][f"webhook.{name}"] = value
        result = self.collection.update_one(
            {"_id": ObjectId(event_id), "webhook.claim": token}, changes
        )
        return result.matched_count == 1
