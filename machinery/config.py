"""Machinery's settings: read from the environment in one place, with defaults."""

import os
from collections.abc import Mapping

MiB = 1024 * 1024


def from_environment(environ: Mapping[str, str] = os.environ) -> dict:
    """The app configuration the environment asks for."""
    return {
        "MONGO_URI": environ.get("MONGO_URI") or None,
        "MONGO_DB": environ.get("MONGO_DB", "machinery"),
        "MONGO_TIMEOUT_MS": int(environ.get("MONGO_TIMEOUT_MS", "5000")),
        "DATA_DIR": environ.get("MACHINERY_DATA_DIR", ".machinery"),
        "MAX_CONTENT_LENGTH": int(environ.get("MACHINERY_MAX_BODY_BYTES", str(MiB))),
        "CONNECT_TIMEOUT": float(environ.get("MACHINERY_CONNECT_TIMEOUT", "5")),
        "READ_TIMEOUT": float(environ.get("MACHINERY_READ_TIMEOUT", "30")),
        "MAX_RESPONSE_BYTES": int(environ.get("MACHINERY_MAX_RESPONSE_BYTES", str(MiB))),
        "PAGE_SIZE": int(environ.get("MACHINERY_PAGE_SIZE", "20")),
        # Which service addresses may be called (see machinery/engine/addresses.py): comma-separated
        # host names, *.suffix patterns and CIDRs; unset, all but the always-refused ranges.
        "ALLOWED_HOSTS": environ.get("MACHINERY_ALLOWED_HOSTS", ""),
        "DENIED_NETWORKS": environ.get("MACHINERY_DENIED_NETWORKS", ""),
        # Limits on definitions and events, each refused with a 4xx past it.
        "MAX_EVENT_BYTES": int(environ.get("MACHINERY_MAX_EVENT_BYTES", str(512 * 1024))),
        "MAX_STEPS": int(environ.get("MACHINERY_MAX_STEPS", "100")),
        "MAX_FIELDS": int(environ.get("MACHINERY_MAX_FIELDS", "100")),
        # How long a repeated request (same Idempotency-Key) waits for the original to finish.
        "IDEMPOTENCY_WAIT_S": float(environ.get("MACHINERY_IDEMPOTENCY_WAIT_S", "60")),
        # API keys (see machinery/auth.py): plain keys or "sha256:<hex digest>" entries.
        "MANAGEMENT_KEYS": comma_list(environ.get("MACHINERY_MANAGEMENT_KEYS", "")),
        "CONSUMER_KEYS": comma_list(environ.get("MACHINERY_CONSUMER_KEYS", "")),
    }


def comma_list(value: str) -> list[str]:
    """The non-empty entries of a comma-separated setting, stripped of spaces."""
    return [entry.strip() for entry in value.split(",") if entry.strip()]


# The limits on page_size and page in listings (so that offsets stay well within 64 bits).
MAX_PAGE_SIZE = 100
MAX_PAGE = 1_000_000

OPENAPI = {
    "API_TITLE": "Machinery",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/",
    "OPENAPI_JSON_PATH": "openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "/docs",
    "OPENAPI_SWAGGER_UI_URL": "https://cdn.jsdelivr.net/npm/swagger-ui-dist/",
}
