"""A Python client for Machinery's HTTP API, over requests: read services, workflows and events,
send events, and export and import definitions. It opens no store and imports no web stack.

    client = Client("http://127.0.0.1:5000", api_key="...")
    event = client.send("process-text", {"message": "hi"})
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import requests

DEFAULT_URL = "http://127.0.0.1:5000"
Kind = Literal["services", "workflows", "events"]
# What the API adds to a definition it stores: left out of an export, so it imports anywhere.
SERVER_FIELDS = frozenset(
    {"service_id", "workflow_id", "version", "created_at", "updated_at", "warnings"}
)
_ROUTES = {"services": "s", "workflows": "w", "events": "e"}


class ClientError(Exception):
    """The API answered an error (`status`, its `message` and whole `body`), or could not be
    reached (`status` None)."""

    def __init__(self, message: str, status: int | None = None, body: Any = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.body = body


@dataclass
class Client:
    url: str = DEFAULT_URL
    api_key: str | None = None
    timeout: float = 30.0
    session: requests.Session | None = None

    def __post_init__(self):
        self.url = self.url.rstrip("/")
        if self.session is None:
            self.session = requests.Session()
        if self.api_key:
            self.session.headers["Authorization"] = f"Bearer {self.api_key}"

    # Reading

    def listing(self, kind: Kind, limit: int | None = None, **filters) -> Iterator[dict]:
        """Every item of a listing (services, workflows or events), following its pages."""
        params = {name: value for name, value in filters.items() if value is not None}
        params["page_size"] = min(limit or 100, 100)
        seen = 0
        while True:
            page = self._request("GET", f"/{_ROUTES[kind]}", params=params)
            for item in page["items"]:
                yield item
                seen += 1
                if limit is not None and seen >= limit:
                    return
            if not page.get("next"):
                return
            params = {**params, "cursor": page["next"]}

    def get(self, kind: Kind, ref: str) -> dict:
        """One service or workflow (by name or id), or one event (by id, with its steps)."""
        return self._request("GET", f"/{_ROUTES[kind]}/{ref}")

    # Events

    def send(
        self,
        workflow: str,
        data: dict,
        *,
        asynchronous: bool = False,
        wait: float | None = None,
        idempotency_key: str | None = None,
    ) -> dict:
        """Send an event. Asynchronous: the queued event, or with `wait`, the event once it has
        ended (or when the wait is over)."""
        headers = {"Prefer": "respond-async"} if asynchronous else {}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        event = self._request(
            "POST", f"/e/{workflow}", json=data, headers=headers, accept=(502, 504)
        )
        if asynchronous and wait:
            return self.wait(event["event_id"], wait)
        return event

    def wait(self, event_id: str, seconds: float) -> dict:
        """The event once it has ended, waiting up to `seconds` (at most 60 per request)."""
        remaining = seconds
        while True:
            step = min(remaining, 60.0)
            event = self._request(
                "GET", f"/e/{event_id}", params={"wait": step}, timeout=self.timeout + step
            )
            remaining -= step
            if event["status"] in ("succeeded", "failed", "cancelled") or remaining <= 0:
                return event

    # Definitions

    def export(self) -> dict:
        """Every service and workflow definition, as registering them again takes them."""
        return {
            kind: [_definition(item) for item in self.listing(kind)]
            for kind in ("services", "workflows")
        }

    def apply(self, kind: Literal["services", "workflows"], definition: dict) -> str:
        """Register a definition (again, identically, changes nothing), or replace the one
        registered under its name: what was done ("registered" or "updated")."""
        route = _ROUTES[kind]
        try:
            self._request("POST", f"/{route}", json=definition)
            return "registered"
        except ClientError as error:
            if error.status != 409:
                raise
        self._request("PUT", f"/{route}/{definition['name']}", json=definition)
        return "updated"

    def import_(self, exported: dict) -> list[tuple[str, str, str]]:
        """Apply an export: services first, then workflows; (kind, name, what was done) each."""
        done = []
        for kind in ("services", "workflows"):
            for definition in exported.get(kind, []):
                done.append((kind, definition["name"], self.apply(kind, definition)))
        return done

    def _request(self, method: str, path: str, accept=(), timeout=None, **kwargs) -> Any:
        try:
            response = self.session.request(
                method, self.url + path, timeout=timeout or self.timeout, **kwargs
            )
        except requests.RequestException as error:
            raise ClientError(f"Cannot reach Machinery at {self.url}: {error}") from None
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = response.text
        if response.ok or response.status_code in accept:
            return body
        message = body.get("message") if isinstance(body, dict) else None
        raise ClientError(
            message or f"HTTP {response.status_code} from {method} {path}",
            response.status_code,
            body,
        )


def _definition(item: dict) -> dict:
    return {key: value for key, value in item.items() if key not in SERVER_FIELDS}
