"""The HTTP API: one blueprint per resource, and the rules every request follows."""

from flask import Flask, request
from flask_smorest import Api
from werkzeug.exceptions import UnsupportedMediaType

from machinery.api import events, health, services, workflows
from machinery.schemas import ErrorOut

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class MachineryApi(Api):
    """flask-smorest's Api, documenting the errors as errors.py answers them."""

    ERROR_SCHEMA = ErrorOut


def register_api(app: Flask) -> Api:
    api = MachineryApi(app, spec_kwargs={"info": {"description": "Workflows of HTTP services."}})
    for module in (health, services, workflows, events):
        api.register_blueprint(module.blp)
    app.before_request(require_json_body)
    return api


def require_json_body() -> None:
    """Refuse a body that is not JSON before any view reads it."""
    if request.routing_exception is not None or request.method not in _BODY_METHODS:
        return
    if not request.is_json:
        raise UnsupportedMediaType("Send a JSON body with 'Content-Type: application/json'.")
