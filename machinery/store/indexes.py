"""The indexes Machinery relies on; creating them is idempotent."""

from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database

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
    "events": [
        ([("acked_at", DESCENDING)], {}),
        ([("workflow_id", ASCENDING), ("acked_at", DESCENDING)], {}),
        ([("workflow", ASCENDING), ("acked_at", DESCENDING)], {}),
        ([("status", ASCENDING), ("acked_at", DESCENDING)], {}),
        # Claiming: the oldest queued event, or a running one whose lease has expired.
        ([("status", ASCENDING), ("lease_until", ASCENDING)], {}),
        # Claiming a webhook delivery: a pending one due longest.
        ([("webhook.status", ASCENDING), ("webhook.next_at", ASCENDING)], {}),
        # "<workflow id>:<Idempotency-Key>", only on events sent with one.
        ([("idempotency_key", ASCENDING)], {"unique": True, "sparse": True}),
    ],
    # A step is recorded once per run of its event (a redrive is a new run).
    "steps": [
        ([("event_id", ASCENDING), ("run", ASCENDING), ("index", ASCENDING)], {"unique": True})
    ],
}

# Indexes earlier versions made that now stand in the way: versions were unique by name (they
# are now kept after their definition is deleted, and a new one may take the name), steps by
# event and index (a redrive records the step again).
OBSOLETE = {
    "service_versions": [[("name", ASCENDING), ("version", ASCENDING)]],
    "workflow_versions": [[("name", ASCENDING), ("version", ASCENDING)]],
    "steps": [[("event_id", ASCENDING), ("index", ASCENDING)]],
}


def ensure_indexes(db: Database) -> list[str]:
    """Create every index that is missing; return the names of all of them."""
    for collection, obsolete in OBSOLETE.items():
        for name, info in db[collection].index_information().items():
            if [tuple(key) for key in info["key"]] in [list(keys) for keys in obsolete]:
                db[collection].drop_index(name)
    names = []
    for collection, indexes in INDEXES.items():
        for keys, options in indexes:
            names.append(f"{collection}.{db[collection].create_index(keys, **options)}")
    return names
