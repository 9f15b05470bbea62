"""The one error handler: every error, expected or not, answered as JSON with a message."""

import logging

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from machinery.errors import MachineryError, error_body

log = logging.getLogger(__name__)


def flatten_errors(messages: dict) -> dict:
    """Merge webargs' per-location messages ({"json": {...}, "query": {...}}) into one mapping."""
    merged: dict = {}
    for location_messages in messages.values():
        if isinstance(location_messages, dict):
            merged.update(location_messages)
        else:
            merged.setdefault("_schema", []).extend(location_messages)
    return merged


def handle_machinery_error(error: MachineryError):
    return jsonify(error_body(error.status, error.message, **error.details)), error.status


def handle_http_exception(error: HTTPException):
    data = getattr(error, "data", None) or {}
    details = {}
    if "messages" in data:
        details["errors"] = flatten_errors(data["messages"])
    message = data.get("message") or _describe(error, details)
    response = jsonify(error_body(error.code or 500, message, **details))
    response.status_code = error.code or 500
    for name, value in (data.get("headers") or {}).items():
        response.headers[name] = value
    if error.code == 405 and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


def handle_unexpected(error: Exception):
    log.exception("Unhandled error")
    return jsonify(error_body(500, "Internal server error.")), 500


def _describe(error: HTTPException, details: dict) -> str:
    if error.code == 422 and details.get("errors"):
        return "Invalid fields: " + ", ".join(sorted(map(str, details["errors"]))) + "."
    if error.code == 400 and details.get("errors"):
        return "The body is not valid JSON."
    return error.description or error.name


def register_error_handlers(app: Flask) -> None:
    """Answer every error, expected or not, as JSON with a message."""
    app.register_error_handler(MachineryError, handle_machinery_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
