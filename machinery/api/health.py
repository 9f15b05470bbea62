"""Liveness: whether the Machinery process answers."""

from machinery.api.blueprint import Blueprint

blp = Blueprint("health", __name__, description="Whether Machinery is up.")


@blp.route("/healthcheck", methods=["GET"])
@blp.response(204)
def healthcheck():
    """Tell that Machinery is alive."""
    return None
