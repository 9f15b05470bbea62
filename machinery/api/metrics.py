"""The metrics, in Prometheus' text format (a management key reads them)."""

from flask import Response

from machinery.api.blueprint import Blueprint
from machinery.api.context import runtime
from machinery.metrics import exposition

blp = Blueprint("metrics", __name__, description="What Machinery has done, for Prometheus.")


@blp.route("/metrics", methods=["GET"])
@blp.doc(
    responses={"200": {"description": "Prometheus text format", "content": {"text/plain": {}}}}
)
def metrics():
    """Show the metrics of every process serving the API, and its workers sharing its directory."""
    body, content_type = exposition(runtime().queue)
    return Response(body, status=200, content_type=content_type)
