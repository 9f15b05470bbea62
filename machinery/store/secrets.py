"""Secrets Machinery makes for itself, kept in the database so that every process shares them."""

import secrets

from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError


class SharedSecrets:
    """Random secrets by name, each made once, by whichever process asks for it first."""

    def __init__(self, collection: Collection):
        self.collection = collection

    def get(self, name: str) -> str:
        """The secret with this name, made at random when no process has asked for it yet."""
        # Read, else insert: one insert wins, the others take the winner's (the embedded store
        # answers an upsert's $setOnInsert without the inserted fields).
        document = self.collection.find_one({"_id": name})
        if document is None:
            try:
                self.collection.insert_one({"_id": name, "value": secrets.token_hex(32)})
            except DuplicateKeyError:
                pass
            document = self.collection.find_one({"_id": name})
        return document["value"]
