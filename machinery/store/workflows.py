"""The workflows collection."""

from machinery.store.definitions import DefinitionRepository


class WorkflowRepository(DefinitionRepository):
    kind = "workflow"
    route = "/w"

    def names_using(self, service: str) -> list[str]:
        """The names of the workflows that call this service."""
        cursor = self.collection.find({"services": service}, {"name": 1}).sort("name", 1)
        return [doc["name"] for doc in cursor]
