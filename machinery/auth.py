"""API keys: which scope each key grants, and the check every request passes before its view."""

import hashlib
import hmac
import logging
from collections.abc import Iterable
from typing import NoReturn

from flask import Flask, current_app, request
from flask_smorest import abort

from machinery.config import key_digests

log = logging.getLogger(__name__)

MANAGEMENT = "management"
CONSUMER = "consumer"

# Routes anyone may call, by blueprint: liveness and the API's own description.
# Callback services authenticate with the signed token in their URL, not with an API key.
# The console (web) checks the key its session holds itself (machinery/web/access.py).
OPEN_RESOURCES = frozenset({"health", "api-docs", "static", "callbacks", "web"})
# A consumer key sends and reads events, and reads services and workflows (to learn the inputs a
# workflow takes); every other route needs a management key.
CONSUMER_RESOURCES = frozenset({"events"})
CONSUMER_READABLE_RESOURCES = frozenset({"services", "workflows"})
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Query parameters clients commonly put keys in. Keys are only read from headers: a URL ends up
# in access logs, proxies and browser histories, so a request carrying one of these is refused.
KEY_QUERY_PARAMETERS = frozenset({"access_token", "api_key", "apikey"})

_PRESENT_A_KEY = "Send an API key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'."


class ApiKeys:
    """The configured keys, held only as sha256 digests, each with the scope it grants."""

    def __init__(self, management: Iterable[str] | str, consumer: Iterable[str] | str):
        self._digests = [
            (digest, scope)
            for scope, entries, setting in (
                (MANAGEMENT, management, "MACHINERY_MANAGEMENT_KEYS"),
                (CONSUMER, consumer, "MACHINERY_CONSUMER_KEYS"),
            )
            for digest in key_digests(entries, setting)
        ]
        self.counts = {
            scope: sum(1 for _, granted in self._digests if granted == scope)
            for scope in (MANAGEMENT, CONSUMER)
        }

    @property
    def open(self) -> bool:
        """Whether no key is configured at all, so that every route is open."""
        return not self._digests

    def scope_of(self, key: str) -> str | None:
        """The scope the key grants (management when it is configured in both), or None.

        The presented key is hashed and its digest compared with every configured digest in
        constant time, without stopping at the first match, so that the time taken tells
        nothing about which key, if any, matched.
        """
        return self.scope_of_digest(digest_of(key))

    def scope_of_digest(self, presented: bytes) -> str | None:
        """The scope the key with this sha256 digest grants, or None (see scope_of)."""
        matched = {MANAGEMENT: False, CONSUMER: False}
        for digest, scope in self._digests:
            matched[scope] |= hmac.compare_digest(digest, presented)
        if matched[MANAGEMENT]:
            return MANAGEMENT
        return CONSUMER if matched[CONSUMER] else None


def digest_of(key: str) -> bytes:
    """The sha256 digest of a key as presented."""
    # WSGI headers arrive decoded as latin-1: encoding back gives the bytes the client sent.
    return hashlib.sha256(key.encode("latin-1", "replace")).digest()


def required_scope(endpoint: str, method: str) -> str | None:
    """The scope a request to the endpoint needs; None when the route is open to anyone."""
    resource = endpoint.partition(".")[0]
    if resource in OPEN_RESOURCES:
        return None
    if resource in CONSUMER_RESOURCES:
        return CONSUMER
    if resource in CONSUMER_READABLE_RESOURCES and method in READ_METHODS:
        return CONSUMER
    return MANAGEMENT


def presented_key() -> str | None:
    """The key the request presents in its headers, or None. Keys in the URL are refused."""
    if any(name.lower() in KEY_QUERY_PARAMETERS for name in request.args):
        refuse(401, "API keys are not accepted in the URL. " + _PRESENT_A_KEY)
    scheme, _, credentials = request.headers.get("Authorization", "").strip().partition(" ")
    bearer = credentials.strip() if scheme.lower() == "bearer" else ""
    header = request.headers.get("X-API-Key", "").strip()
    if bearer and header and bearer != header:
        refuse(401, "Two different API keys were sent: send one. " + _PRESENT_A_KEY)
    return bearer or header or None


def authenticate() -> None:
    """Refuse a request to a guarded route without a key of the scope it needs.

    A request that matches no route, or not with its method, is left to be answered 404 or 405:
    the routes are public in /openapi.json, and a key would not make the request succeed.
    """
    if request.routing_exception is not None or request.endpoint is None:
        return
    keys: ApiKeys = current_app.extensions["machinery.keys"]
    needed = required_scope(request.endpoint, request.method)
    if keys.open or needed is None:
        return
    key = presented_key()
    if key is None:
        refuse(401, "An API key is required. " + _PRESENT_A_KEY)
    scope = keys.scope_of(key)
    if scope is None:
        refuse(401, "The API key is not valid.")
    if needed == MANAGEMENT and scope != MANAGEMENT:
        refuse(403, "This API key may only send and read events, and read services and workflows.")


def refuse(status: int, message: str) -> NoReturn:
    """Answer 401 or 403 through the JSON error handler; a 401 says how to authenticate."""
    log.info("Refused %s %s: %s %s", request.method, request.path, status, message)
    headers = {"WWW-Authenticate": 'Bearer realm="machinery"'} if status == 401 else {}
    abort(status, message=message, headers=headers)


def security_spec() -> dict:
    """OpenAPI options: the two ways to present a key, required everywhere but /healthcheck."""
    return {
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            }
        },
        "security": [{"bearer": []}, {"apiKey": []}],
        # apispec merges these options into the paths it generates.
        "paths": {"/healthcheck": {"get": {"security": []}}},
    }


def init_app(app: Flask) -> None:
    """Check API keys before every request; with none configured, say loudly that the API is open.

    Call it before the API is registered: its check then runs before any other, so that a
    request without a key is answered 401 before its body is looked at, and the OpenAPI
    description documents the keys.
    """
    keys = ApiKeys(app.config.get("MANAGEMENT_KEYS", ()), app.config.get("CONSUMER_KEYS", ()))
    app.extensions["machinery.keys"] = keys
    if keys.open:
        log.warning(
            "No API keys are configured: anyone who can reach Machinery may change its services "
            "and workflows and send events. Set MACHINERY_MANAGEMENT_KEYS and "
            "MACHINERY_CONSUMER_KEYS to require keys."
        )
    else:
        log.info(
            "API keys: %d management, %d consumer.", keys.counts[MANAGEMENT], keys.counts[CONSUMER]
        )
        app.config["API_SPEC_OPTIONS"] = {
            **app.config.get("API_SPEC_OPTIONS", {}),
            **security_spec(),
        }
    app.before_request(authenticate)
