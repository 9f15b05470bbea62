"""Definitions as the executor needs them: parsed once per process, at the versions an event
pinned. A version never changes once stored, so the cache is right in every process at once."""

import threading
from collections import OrderedDict
from collections.abc import Mapping

from machinery.errors import Conflict, NotFound
from machinery.language.model import Service, Workflow
from machinery.language.parse import DefinitionError, parse_service, parse_workflow
from machinery.language.subworkflows import attach_callees
from machinery.store import Store


class Catalog:
    """Parsed workflows and services by (definition id, version), the most recent kept."""

    def __init__(self, store: Store, size: int = 1024):
        self.store = store
        self._size = size
        self._parsed: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def workflow(self, document: dict) -> Workflow:
        """The model of a stored workflow document (the current one, or a version), with the
        workflows it calls (at the versions pinned when it was saved)."""
        key = ("w", document["id"], document.get("version"))
        return self._remember(key, document, self._with_callees)

    def parse_unsaved(self, document: dict) -> Workflow:
        """The model of a definition that is not stored (a dry run's): not cached."""
        return self._with_callees(document)

    def _with_callees(self, document: Mapping) -> Workflow:
        model = parse_workflow(document)
        try:
            return attach_callees(model, self._load)
        except DefinitionError as error:
            raise Conflict(f"{error.place}: {error}") from None

    def _load(self, name: str, version: int | None):
        try:
            return self.store.workflows.get(name, version)
        except NotFound:
            return None

    def service(self, document: dict) -> Service:
        key = ("s", document["id"], document.get("version"))
        return self._remember(key, document, parse_service)

    def for_event(self, event: dict) -> tuple[Workflow, dict[str, Service]]:
        """The workflow and services an event runs: the versions pinned when it was accepted."""
        workflow = self._cached(("w", event["workflow_id"], event["workflow_version"]))
        if workflow is None:
            pin = [(event["workflow_id"], event["workflow_version"])]
            found = self.store.workflows.pinned(pin)
            if not found:
                raise Conflict(f"Workflow {event['workflow']!r} at the event's version is gone.")
            workflow = self.workflow(found[0])
        services = {}
        missing = []
        for pin in event["services"]:
            service = self._cached(("s", pin["id"], pin["version"]))
            if service is None:
                missing.append(pin)
            else:
                services[pin["service"]] = service
        if missing:
            for document in self.store.services.pinned([(p["id"], p["version"]) for p in missing]):
                services[document["name"]] = self.service(document)
        return workflow, services

    def _cached(self, key):
        with self._lock:
            value = self._parsed.get(key)
            if value is not None:
                self._parsed.move_to_end(key)
            return value

    def _remember(self, key, document: Mapping, parse):
        value = self._cached(key)
        if value is None:
            value = parse(document)
            with self._lock:
                self._parsed[key] = value
                while len(self._parsed) > self._size:
                    self._parsed.popitem(last=False)
        return value


def pins(services: Mapping[str, dict]) -> list[dict]:
    """What an event pins of the services it calls: each one's id and version."""
    return [
        {"service": name, "id": document["id"], "version": document.get("version")}
        for name, document in sorted(services.items())
    ]
