"""/e: send events through workflows and read what happened to them."""

from flask import current_app

from machinery.api.blueprint import Blueprint
from machinery.api.paging import page, page_size
from machinery.engine import states
from machinery.orchestrator import submit_event
from machinery.schemas import (
    EventData,
    EventDetailOut,
    EventListArgs,
    EventOut,
    EventSubmission,
    page_of,
)
from machinery.store import store

blp = Blueprint("events", __name__, url_prefix="/e", description="Data sent through workflows.")


@blp.route("/<ref>", methods=["POST"])
@blp.arguments(EventData)
@blp.response(201, EventOut)
@blp.alt_response(502, schema=EventOut, description="A step failed")
@blp.alt_response(504, schema=EventOut, description="A step timed out")
def send_event(data, ref):
    """Send an event through a workflow, given by name or id, and answer its outputs."""
    return answer(submit_event(store(), current_app.extensions["machinery.caller"], ref, data))


@blp.route("", methods=["POST"], strict_slashes=False)
@blp.arguments(EventSubmission)
@blp.response(201, EventOut)
@blp.alt_response(502, schema=EventOut, description="A step failed")
@blp.alt_response(504, schema=EventOut, description="A step timed out")
def submit(submission):
    """Send an event given as {"workflow", "data"}."""
    caller = current_app.extensions["machinery.caller"]
    return answer(submit_event(store(), caller, submission["workflow"], submission["data"]))


@blp.route("", methods=["GET"], strict_slashes=False)
@blp.arguments(EventListArgs, location="query")
@blp.response(200, page_of(EventOut))
def list_events(args):
    """List events, newest first, optionally of one workflow or in one status."""
    items, total = store().events.list(
        args["page"], page_size(args), workflow=args.get("workflow"), status=args.get("status")
    )
    return page(items, total, args)


@blp.route("/<event_id>", methods=["GET"])
@blp.response(200, EventDetailOut)
def get_event(event_id):
    """Show an event with its data and every step."""
    return store().events.get(event_id)


def answer(event: dict):
    if event["status"] != states.FAILED:
        return event
    return event, 504 if event["error"]["kind"] == states.TIMEOUT else 502
