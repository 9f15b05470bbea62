"""The indexes Machinery relies on; creating them is idempotent."""

from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database

INDEXES = {
    "services": [([("name", ASCENDING)], {"unique": True})],
    "service_versions": [([("name", ASCENDING), ("version", ASCENDING)], {"unique": True})],
    "workflow_versions": [([("name", ASCENDING), ("version", ASCENDING)], {"unique": True})],
    # Which workflows use a service is asked only when changing or deleting one: no (multikey)
    # index on `service_names`.
    "workflows": [([("name", ASCENDING)], {"unique": True})],
    "events": [
        ([("acked_at", DESCENDING)], {}),
        ([("workflow_id", ASCENDING), ("acked_at", DESCENDING)], {}),
        ([("workflow", ASCENDING), ("acked_at", DESCENDING)], {}),
        ([("status", ASCENDING), ("acked_at", DESCENDING)], {}),
        # "<workflow id>:<Idempotency-Key>", only on events sent with one.
        ([("idempotency_key", ASCENDING)], {"unique": True, "sparse": True}),
    ],
    "steps": [([("event_id", ASCENDING), ("index", ASCENDING)], {"unique": True})],
}


def ensure_indexes(db: Database) -> list[str]:
    """Create every index that is missing; return the names of all of them."""
    names = []
    for collection, indexes in INDEXES.items():
        for keys, options in indexes:
            names.append(f"{collection}.{db[collection].create_index(keys, **options)}")
    return names
