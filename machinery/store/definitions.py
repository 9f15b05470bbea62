"""Storage of named definitions (services and workflows): register, read, list, replace, delete."""

from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from machinery.errors import Conflict, NotFound
from machinery.store.documents import now, object_id, to_plain


def by_name_or_id(ref: str) -> dict:
    """A query matching a definition by its name, or by its id when the reference is one."""
    oid = object_id(ref)
    if oid is None:
        return {"name": ref}
    return {"$or": [{"_id": oid}, {"name": ref}]}


class DefinitionRepository:
    """A collection of definitions with unique names."""

    kind = "definition"
    route = "/"

    def __init__(self, collection: Collection):
        self.collection = collection

    def register(self, definition: dict) -> dict:
        """Store a new definition, or return the stored one when it is identical."""
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
            document = {**definition, "created_at": created, "updated_at": created}
            try:
                self.collection.insert_one(document)
            except DuplicateKeyError:
                continue  # registered concurrently: compare with the winner
            return to_plain(document)
        raise Conflict(f"The {self.kind} {definition['name']!r} is being registered concurrently.")

    def get(self, ref: str) -> dict:
        """The definition with this name or id; NotFound otherwise."""
        document = self.collection.find_one(by_name_or_id(ref))
        if document is None:
            raise NotFound(f"No {self.kind} named or identified by {ref!r}.")
        return to_plain(document)

    def list(self, page: int, page_size: int) -> tuple[list[dict], int]:
        """One page of definitions by name, and how many there are in all."""
        cursor = self.collection.find().sort("name", 1).skip((page - 1) * page_size)
        items = [to_plain(doc) for doc in cursor.limit(page_size)]
        return items, self.collection.count_documents({})

    def require(self, name: str) -> dict:
        """The stored document with this name; NotFound otherwise."""
        existing = self.collection.find_one({"name": name})
        if existing is None:
            raise NotFound(f"No {self.kind} named {name!r}; register it with POST {self.route}.")
        return existing

    def replace(self, name: str, definition: dict) -> dict:
        """Replace the named definition, keeping its id and creation date."""
        existing = self.require(name)
        document = {
            **definition,
            "_id": existing["_id"],
            "created_at": existing["created_at"],
            "updated_at": now(),
        }
        self.collection.replace_one({"_id": existing["_id"]}, document)
        return to_plain(document)

    def delete(self, name: str) -> None:
        if self.collection.delete_one({"name": name}).deleted_count == 0:
            raise NotFound(f"No {self.kind} named {name!r}.")
