"""The indexes Machinery relies on; creating them is idempotent."""

from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database
from pymongo.errors import OperationFailure

from machinery.config import DAY_S

INDEXES = {
    "services": [([("name", ASCENDING)], {"unique": True})],
    "service_versions": [
        ([("definition_id", ASCENDING), ("version", ASCENDING)], {"unique": True})
    ],
    "workflow_versions": [
        ([("definition_id", ASCENDING), ("version", ASCENDING)], {"unique": True})
    ],
    # Which workflows use a service is asked only when changing or deleting one: no (multikey)
    # index on `service_names`.
    "workflows": [([("name", ASCENDING)], {"unique": True})],
    # The listings, newest first (see EventRepository.list and docs/performance.md): every
    # event, by status, by workflow (its id; its name once it is deleted), by workflow and
    # status. The equalities come first, then the order; `_id` orders a millisecond's events,
    # so that a cursor is a range on the index whatever the page.
    "events": [
        ([("acked_at", DESCENDING), ("_id", DESCENDING)], {}),
        ([("status", ASCENDING), ("acked_at", DESCENDING), ("_id", DESCENDING)], {}),
        ([("workflow_id", ASCENDING), ("acked_at", DESCENDING), ("_id", DESCENDING)], {}),
        (
            [
                ("workflow_id", ASCENDING),
                ("status", ASCENDING),
                ("acked_at", DESCENDING),
                ("_id", DESCENDING),
            ],
            {},
        ),
        ([("workflow", ASCENDING), ("acked_at", DESCENDING), ("_id", DESCENDING)], {}),
        # Claiming: the oldest queued event, or a running one whose lease has expired.
        ([("status", ASCENDING), ("lease_until", ASCENDING)], {}),
        # Claiming a webhook delivery: a pending one due longest.
        ([("webhook.status", ASCENDING), ("webhook.next_at", ASCENDING)], {}),
        # "<workflow id>:<Idempotency-Key>", only on events sent with one.
        ([("idempotency_key", ASCENDING)], {"unique": True, "sparse": True}),
    ],
    # Steps are kept in their events; the `steps` collection of earlier versions is only read,
    # for the events it holds steps of, by event_id (its index stays as it was made).
}

# Indexes earlier versions made that now stand in the way: versions were unique by name (they
# are now kept after their definition is deleted, and a new one may take the name), steps by
# event and index (a redrive records the step again); or that others now serve: the events'
# listings without `_id` (each a prefix of one above).
OBSOLETE = {
    "events": [
        [("acked_at", DESCENDING)],
        [("workflow_id", ASCENDING), ("acked_at", DESCENDING)],
        [("workflow", ASCENDING), ("acked_at", DESCENDING)],
        [("status", ASCENDING), ("acked_at", DESCENDING)],
    ],
    "service_versions": [[("name", ASCENDING), ("version", ASCENDING)]],
    "workflow_versions": [[("name", ASCENDING), ("version", ASCENDING)]],
    "steps": [[("event_id", ASCENDING), ("index", ASCENDING)]],
}


# The key of the TTL index that deletes finished events when a retention is set.
RETENTION_KEY = [("finished_at", ASCENDING)]
# MongoDB's error code for dropping an index that is not there.
INDEX_NOT_FOUND = 27


def ensure_indexes(db: Database, *, event_retention_days: int | None = None) -> list[str]:
    """Create every index that is missing, drop the obsolete ones, and make the events' retention
    what is asked (a TTL index on finished_at; None: no such index, events are kept); return
    the names of all of them."""
    with_id = indexes_id_in_compound_keys(db)
    names, made = [], {}
    for collection, indexes in INDEXES.items():
        for keys, options in indexes:
            if not with_id and len(keys) > 1:
                keys = [key for key in keys if key[0] != "_id"]
            names.append(f"{collection}.{db[collection].create_index(keys, **options)}")
            made.setdefault(collection, []).append(keys)
    for collection, obsolete in OBSOLETE.items():
        for name, info in db[collection].index_information().items():
            key = _key_of(info)
            if key in obsolete and key not in made.get(collection, []):
                db[collection].drop_index(name)
    retention = ensure_retention(db, event_retention_days)
    return names + ([f"events.{retention}"] if retention else [])


def indexes_id_in_compound_keys(db: Database) -> bool:
    """Whether the server can put `_id` in a compound index: MongoDB can; the embedded store
    (nx-27017, which says no MongoDB version) cannot, and would refuse every insert once such an
    index is made. Without `_id`, an index there still serves the equalities and the first sort
    field, and the store sorts the events of one millisecond itself."""
    return "version" in db.client.server_info()


def ensure_retention(db: Database, days: int | None) -> str | None:
    """Make the TTL index on events.finished_at delete events `days` after they finished, or
    remove it (None: keep events forever); the index's name, if there is one.

    Events that have not finished (finished_at null) are never deleted. Changing the retention
    changes the index in place (collMod); a store whose collMod leaves it as it was has it made
    again.
    """
    events = db["events"]
    current = _retention_index(db)
    if days is None:
        if current is not None:
            _drop_quietly(events, current[0])
        return None
    seconds = days * DAY_S
    if current is None:
        return events.create_index(RETENTION_KEY, expireAfterSeconds=seconds)
    name, expiry = current
    if expiry != seconds:
        change = {"keyPattern": dict(RETENTION_KEY), "expireAfterSeconds": seconds}
        db.command("collMod", "events", index=change)
        if _retention_index(db) != (name, seconds):
            _drop_quietly(events, name)
            return events.create_index(RETENTION_KEY, expireAfterSeconds=seconds)
    return name


def _retention_index(db: Database) -> tuple[str, int | None] | None:
    """The TTL index on events.finished_at as (name, expireAfterSeconds), if there is one."""
    for name, info in db["events"].index_information().items():
        if _key_of(info) == RETENTION_KEY and "expireAfterSeconds" in info:
            return name, int(info["expireAfterSeconds"])
    return None


def _drop_quietly(collection, name: str) -> None:
    """Drop an index another process may have dropped first."""
    try:
        collection.drop_index(name)
    except OperationFailure as error:
        if error.code != INDEX_NOT_FOUND:
            raise


def _key_of(info: dict) -> list[tuple[str, int | str]]:
    """An index's key as it is declared here (some stores answer 1.0 for 1)."""
    return [
        (field, int(direction) if isinstance(direction, float) else direction)
        for field, direction in info["key"]
    ]
