"""The workflows collection."""

from machinery.language.parse import service_names
from machinery.store.definitions import DefinitionRepository
from machinery.store.documents import to_plain


class WorkflowRepository(DefinitionRepository):
    kind = "workflow"
    route = "/w"

    def stored(self, definition: dict) -> dict:
        # The names of the services called, nested calls included: for queries.
        return {**definition, "service_names": sorted(set(service_names(definition["services"])))}

    def using(self, service: str) -> list[dict]:
        """The workflows that call this service, by name."""
        cursor = self.collection.find({"service_names": service}).sort("name", 1)
        return [to_plain(doc) for doc in cursor]

    def names_using(self, service: str) -> list[str]:
        """The names of the workflows that call this service."""
        return [workflow["name"] for workflow in self.using(service)]
