"""The services collection."""

from machinery.store.definitions import DefinitionRepository
from machinery.store.documents import to_plain


class ServiceRepository(DefinitionRepository):
    kind = "service"
    route = "/s"

    def by_names(self, names: list[str]) -> dict[str, dict]:
        """The registered services among these names, by name."""
        cursor = self.collection.find({"name": {"$in": sorted(set(names))}})
        return {doc["name"]: to_plain(doc) for doc in cursor}
