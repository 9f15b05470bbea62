"""/callbacks: where callback services post the results of their steps (the signed token in
the URL is their credential: no API key)."""

from machinery.api.blueprint import Blueprint
from machinery.api.context import runtime
from machinery.orchestrator import heartbeat_callback, post_callback
from machinery.schemas import CallbackResult, ErrorOut, EventOut

blp = Blueprint(
    "callbacks", __name__, url_prefix="/callbacks", description="Results of callback services."
)


def refusals(view):
    """Declare why a callback may be refused."""
    for status, description in (
        (403, "Not a callback URL Machinery issued"),
        (409, "The URL was used already, or the event was cancelled"),
        (410, "The step's deadline has passed"),
    ):
        view = blp.alt_response(status, schema=ErrorOut, description=description)(view)
    return view


@blp.route("/<token>", methods=["POST"])
@blp.arguments(CallbackResult)
@blp.response(202, EventOut)
@blp.alt_response(422, schema=ErrorOut, description="The result breaks the service's outputs")
@refusals
def post_result(result, token):
    """Post the result of a callback service's step; the workflow goes on."""
    return post_callback(runtime(), token, result)


@blp.route("/<token>/heartbeat", methods=["POST"])
@blp.response(200, EventOut)
@refusals
def heartbeat(token):
    """Tell that a callback service's step is still being worked on: its deadline moves."""
    return heartbeat_callback(runtime(), token)
