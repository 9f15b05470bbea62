"""Liveness (the process answers) and readiness (its database answers too)."""

from marshmallow import Schema, fields

from machinery.api.blueprint import Blueprint
from machinery.api.context import store
from machinery.schemas import ErrorOut


class Readiness(Schema):
    status = fields.String()


blp = Blueprint("health", __name__, description="Whether Machinery is up.")


@blp.route("/healthcheck", methods=["GET"])
@blp.response(204)
def healthcheck():
    """Tell that Machinery is alive."""
    return None


@blp.route("/readyz", methods=["GET"])
@blp.response(200, Readiness)
@blp.alt_response(503, schema=ErrorOut, description="The database cannot be reached")
def readyz():
    """Tell whether Machinery can serve requests: its database answers."""
    store().ping()
    return {"status": "ready"}
