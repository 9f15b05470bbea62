"""The console's blueprint, its headers, and how its pages answer errors."""

import logging

from flask import Blueprint, current_app, render_template, request
from werkzeug.exceptions import HTTPException

from machinery.errors import MachineryError
from machinery.runtime import Runtime
from machinery.store import Store

log = logging.getLogger(__name__)

blp = Blueprint(
    "web",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/ui/static",
)

# No inline script anywhere, no asset from another site. Swagger UI styles its elements inline.
CONSOLE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
DOCS_POLICY = CONSOLE_POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")


def takes(*names: str):
    """Note the query parameters a page reads (any other is refused, as by the API)."""

    def decorator(view):
        view.query_parameters = frozenset(names)
        return view

    return decorator


def store() -> Store:
    return current_app.extensions["machinery.store"]


def runtime() -> Runtime:
    return current_app.extensions["machinery.runtime"]


@blp.after_request
def security_headers(response):
    docs = request.endpoint == "web.docs"
    response.headers["Content-Security-Policy"] = DOCS_POLICY if docs else CONSOLE_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    if request.endpoint != "web.static":
        response.headers["Cache-Control"] = "no-store"
    return response


@blp.errorhandler(MachineryError)
def machinery_error(error: MachineryError):
    return error_page(error.status, error.message, error.details.get("errors")), error.status


@blp.errorhandler(HTTPException)
def http_error(error: HTTPException):
    status = error.code or 500
    return error_page(status, error.description or error.name), status


@blp.errorhandler(Exception)
def unexpected_error(error: Exception):
    log.exception("Unhandled error")
    return error_page(500, "Internal server error."), 500


def error_page(status: int, message: str, errors: dict | None = None) -> str:
    return render_template("error.html", status=status, message=message, errors=errors or {})
