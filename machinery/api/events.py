"""/e: send events through workflows and read what happened to them."""

import json

from flask import current_app

from machinery.api.blueprint import Blueprint
from machinery.api.paging import page, page_size
from machinery.engine import states
from machinery.errors import PayloadTooLarge
from machinery.orchestrator import submit_event
from machinery.schemas import (
    ErrorOut,
    EventData,
    EventDetailOut,
    EventListArgs,
    EventOut,
    EventSubmission,
    IdempotencyArgs,
    page_of,
)
from machinery.store import store

blp = Blueprint("events", __name__, url_prefix="/e", description="Data sent through workflows.")


def answers_events(view):
    """Declare what a view sending an event answers: the event, failed or not, or an error."""
    for status, schema, description in (
        (409, ErrorOut, "A repeated key's event has not finished"),
        (413, ErrorOut, "The event data is larger than the limit"),
        (504, EventOut, "A step timed out"),
        (502, EventOut, "A step failed"),
    ):
        view = blp.alt_response(status, schema=schema, description=description)(view)
    return blp.response(201, EventOut)(view)


@blp.route("/<ref>", methods=["POST"])
@blp.arguments(EventData)
@blp.arguments(IdempotencyArgs, location="headers")
@answers_events
def send_event(data, headers, ref):
    """Send an event through a workflow, given by name or id, and answer its outputs."""
    return run(ref, data, headers.get("key"))


@blp.route("", methods=["POST"], strict_slashes=False)
@blp.arguments(EventSubmission)
@blp.arguments(IdempotencyArgs, location="headers")
@answers_events
def submit(submission, headers):
    """Send an event given as {"workflow", "data"}."""
    return run(submission["workflow"], submission["data"], headers.get("key"))


@blp.route("", methods=["GET"], strict_slashes=False)
@blp.arguments(EventListArgs, location="query")
@blp.response(200, page_of(EventOut))
def list_events(args):
    """List events, newest first, optionally of one workflow or in one status."""
    items, total = store().events.list(
        args["page"], page_size(args), workflow=args.get("workflow"), status=args.get("status")
    )
    return page(items, total, args)


@blp.route("/<ref>", methods=["GET"])
@blp.response(200, EventDetailOut)
def get_event(ref):
    """Show an event, by its id, with its data and every step."""
    return store().events.get(ref)


def run(ref: str, data: dict, key: str | None):
    limit = current_app.config["MAX_EVENT_BYTES"]
    if len(json.dumps(data, separators=(",", ":"))) > limit:
        raise PayloadTooLarge(f"The event data is larger than the limit of {limit} bytes.")
    caller = current_app.extensions["machinery.caller"]
    wait_s = current_app.config["IDEMPOTENCY_WAIT_S"]
    event = submit_event(store(), caller, ref, data, key=key, wait_s=wait_s)
    status = 201
    if event["status"] == states.FAILED:
        status = 504 if event["error"]["kind"] == states.TIMEOUT else 502
    headers = {"Idempotent-Replayed": "true"} if event.get("replayed") else {}
    return event, status, headers
