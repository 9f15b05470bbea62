"""The HTTP API: one blueprint per resource, and the rules every request follows."""

from flask import Flask, current_app, request
from flask_smorest import Api
from werkzeug.exceptions import UnsupportedMediaType

from machinery.api import callbacks, events, health, metrics, services, workflows
from machinery.api.connections import discard_unread_body
from machinery.errors import InvalidData
from machinery.schemas import ErrorOut

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# Files are served as they are, whatever the query says (a version to defeat caches, say).
_FILE_ENDPOINTS = frozenset({"static", "web.static"})


class MachineryApi(Api):
    """flask-smorest's Api, documenting the errors as errors.py answers them."""

    ERROR_SCHEMA = ErrorOut


def register_api(app: Flask) -> Api:
    api = MachineryApi(app, spec_kwargs={"info": {"description": "Workflows of HTTP services."}})
    for module in (health, services, workflows, events, callbacks, metrics):
        api.register_blueprint(module.blp)
    app.before_request(refuse_unknown_query_parameters)
    app.before_request(require_json_body)
    app.after_request(discard_unread_body)
    return api


def refuse_unknown_query_parameters() -> None:
    """Refuse query parameters the view does not take: a misspelt filter must not be ignored."""
    if request.routing_exception is not None or request.endpoint in _FILE_ENDPOINTS:
        return
    view = current_app.view_functions[request.endpoint]
    taken = getattr(view, "query_parameters", frozenset())
    unknown = sorted(set(request.args) - taken)
    if unknown:
        plural = "s" if len(unknown) > 1 else ""
        takes = ", ".join(sorted(taken)) or "none"
        raise InvalidData(
            f"Unknown query parameter{plural}: {', '.join(unknown)}; this route takes {takes}.",
            errors={name: ["Unknown query parameter."] for name in unknown},
        )


def require_json_body() -> None:
    """Refuse a body that is not JSON before any view reads it."""
    if request.routing_exception is not None or request.method not in _BODY_METHODS:
        return
    view = current_app.view_functions[request.endpoint]
    if not getattr(view, "takes_json_body", False):
        return  # an action (cancel, redrive) takes no body
    if not request.is_json:
        raise UnsupportedMediaType("Send a JSON body with 'Content-Type: application/json'.")
