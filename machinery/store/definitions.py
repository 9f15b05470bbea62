"""Storage of named, versioned definitions (services and workflows).

The current version of each definition is in one collection (`services`, `workflows`); every
version, the current one included, is also in `<kind>_versions`, unique by definition id and
version. Replacing a definition adds a version: the old ones stay readable. Versions are never
changed, and stay stored when their definition is deleted: events accepted under a version run
it even if the definition is deleted or replaced meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable

from bson import ObjectId
from pymongo import ASCENDING
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from machinery.errors import Conflict, NotFound
from machinery.store.documents import now, object_id, to_plain
from machinery.store.listing import Order, Page, PageRequest, read_page


def by_name_or_id(ref: str) -> dict:
    """A query matching a definition by its name, or by its id when the reference is one."""
    oid = object_id(ref)
    if oid is None:
        return {"name": ref}
    return {"$or": [{"_id": oid}, {"name": ref}]}


def by_name(listing: str) -> Order:
    """A listing of definitions by name: unique, so a cursor is the last name, and the next page
    the names after it (a range on the unique index on name)."""

    def names_after(key: dict) -> dict:
        if not isinstance(key["name"], str):
            raise ValueError("name")
        return {"name": {"$gt": key["name"]}}

    return Order(
        listing=listing,
        sort=[("name", ASCENDING)],
        key_of=lambda definition: {"name": definition["name"]},
        after=names_after,
        follows=lambda key, definition: True,
    )


class DefinitionRepository:
    """A collection of versioned definitions with unique names."""

    kind = "definition"
    route = "/"

    def __init__(
        self,
        collection: Collection,
        versions: Collection,
        changed: Callable[[], None] | None = None,
    ):
        self.collection = collection
        self.versions = versions
        # Told after each change of a current definition (registered, replaced, deleted).
        self.changed = changed or (lambda: None)

    def register(self, definition: dict) -> dict:
        """Store a new definition as version 1, or return the stored one when it is identical."""
        for _ in range(2):
            existing = self.collection.find_one({"name": definition["name"]})
            if existing is not None:
                if any(existing.get(key) != value for key, value in definition.items()):
                    raise Conflict(
                        f"A {self.kind} named {definition['name']!r} is already registered with "
                        f"a different definition; use PUT {self.route}/{definition['name']} "
                        "to replace it."
                    )
                return to_plain(existing)
            created = now()
            document = {
                **self.stored(definition),
                "_id": ObjectId(),
                "version": 1,
                "created_at": created,
                "updated_at": created,
            }
            try:
                self.collection.insert_one(document)
            except DuplicateKeyError:
                continue  # registered concurrently: compare with the winner
            self.changed()
            self._keep_version(document)
            return to_plain(document)
        raise Conflict(f"The {self.kind} {definition['name']!r} is being registered concurrently.")

    def get(self, ref: str, version: int | None = None) -> dict:
        """The definition with this name or id (at a given version); NotFound otherwise."""
        document = self.collection.find_one(by_name_or_id(ref))
        if document is None:
            raise NotFound(f"No {self.kind} named or identified by {ref!r}.")
        if version is None or version == document.get("version"):
            return to_plain(document)
        old = self.versions.find_one({"definition_id": str(document["_id"]), "version": version})
        if old is None:
            raise NotFound(
                f"The {self.kind} {document['name']!r} has no version {version} "
                f"(its current version is {document['version']})."
            )
        return self._plain_version(old)

    def history(self, name: str) -> list[dict]:
        """Every version of the named definition, oldest first."""
        current = self.require(name)
        cursor = self.versions.find({"definition_id": str(current["_id"])}).sort("version", 1)
        return [self._plain_version(document) for document in cursor]

    def list(self, request: PageRequest) -> Page:
        """One page of definitions by name, and how many there are when that is asked for."""
        return read_page(self.collection, {}, request, by_name(f"{self.kind}s"))

    def id_of(self, ref: str) -> str | None:
        """The id of the definition with this id or, failing that, this name; None when there
        is none. One keyed look-up (two when an id-like name is not an id)."""
        oid = object_id(ref)
        for query in ([{"_id": oid}] if oid else []) + [{"name": ref}]:
            found = self.collection.find_one(query, {"_id": 1})
            if found is not None:
                return str(found["_id"])
        return None

    def require(self, name: str) -> dict:
        """The stored document with this name; NotFound otherwise."""
        existing = self.collection.find_one({"name": name})
        if existing is None:
            raise NotFound(f"No {self.kind} named {name!r}; register it with POST {self.route}.")
        return existing

    def replace(self, name: str, definition: dict, expected: dict | None = None) -> dict:
        """Make the definition the named one's next version, keeping its id and creation date.

        `expected` is the stored document the change was decided on, if any: when another change
        landed first, the replacement is refused rather than silently undoing it.
        """
        existing = expected or self.require(name)
        document = {
            **self.stored(definition),
            "_id": existing["_id"],
            "version": existing.get("version", 1) + 1,
            "created_at": existing["created_at"],
            "updated_at": now(),
        }
        try:
            self._keep_version(document)
        except DuplicateKeyError:
            raise self._changed_concurrently(name) from None
        result = self.collection.replace_one(
            {"_id": existing["_id"], "version": existing.get("version", 1)}, document
        )
        self.changed()
        if result.matched_count == 0:
            raise self._changed_concurrently(name)
        return to_plain(document)

    def delete(self, name: str) -> None:
        """Remove the definition; its versions stay for the events that pinned them."""
        deleted = self.collection.delete_one({"name": name}).deleted_count
        self.changed()
        if deleted == 0:
            raise NotFound(f"No {self.kind} named {name!r}.")

    def pinned(self, pins: list[tuple[str, int]]) -> list[dict]:
        """The versions given as (definition id, version) pairs, whatever became of them since."""
        if not pins:
            return []
        query = {"$or": [{"definition_id": id_, "version": version} for id_, version in pins]}
        return [self._plain_version(document) for document in self.versions.find(query)]

    def stored(self, definition: dict) -> dict:
        """What is stored for a definition (a subclass may add derived fields)."""
        return dict(definition)

    def _keep_version(self, document: dict) -> None:
        copy = {key: value for key, value in document.items() if key != "_id"}
        self.versions.insert_one({**copy, "definition_id": str(document["_id"])})

    @staticmethod
    def _plain_version(document: dict) -> dict:
        plain = to_plain(document)
        plain["id"] = plain.pop("definition_id")
        return plain

    def _changed_concurrently(self, name: str) -> Conflict:
        return Conflict(f"The {self.kind} {name!r} was changed concurrently; read it and retry.")
