"""/e: send events through workflows, follow them, cancel and redrive them."""

import json

from flask import current_app, request, url_for
from marshmallow import ValidationError

from machinery import states
from machinery.api.blueprint import Blueprint
from machinery.api.context import runtime, store
from machinery.api.graphs import GRAPH_CONTENT, answer_graph
from machinery.api.paging import page, page_request
from machinery.api.request_ids import (
    current_parent_span_id,
    current_request_id,
    current_trace_id,
)
from machinery.engine.addresses import RefusedAddress
from machinery.errors import InvalidData, PayloadTooLarge
from machinery.graph.sources import event_graph
from machinery.orchestrator import (
    Submission,
    cancel_event,
    describe,
    redrive_event,
    submit_event,
    wait_for_event,
)
from machinery.schemas import (
    ErrorOut,
    EventData,
    EventDetailOut,
    EventListArgs,
    EventOut,
    EventSubmission,
    GraphArgs,
    GraphOut,
    IdempotencyArgs,
    RunArgs,
    RunOptions,
    WaitArgs,
    page_of,
)

blp = Blueprint("events", __name__, url_prefix="/e", description="Data sent through workflows.")

# The body keys that, beside `data`, say how to run an event rather than what it carries.
RUN_OPTIONS = ("async", "callback_url", "durability")


def answers_events(view):
    """Declare what a view sending an event answers: the event, failed or not, or an error."""
    for status, schema, description in (
        (202, EventOut, "Accepted to run asynchronously (Location: the event)"),
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
@blp.arguments(RunArgs, location="query")
@answers_events
def send_event(body, headers, args, ref):
    """Send an event through a workflow, given by name or id, and answer its outputs."""
    return run(ref, body, headers, args)


@blp.route("", methods=["POST"], strict_slashes=False)
@blp.arguments(EventSubmission)
@blp.arguments(IdempotencyArgs, location="headers")
@blp.arguments(RunArgs, location="query")
@answers_events
def submit(submission, headers, args):
    """Send an event given as {"workflow", "data"}."""
    body = {"data": submission["data"]}
    body.update({name: submission[name] for name in RUN_OPTIONS if name in submission})
    return run(submission["workflow"], body, headers, args)


@blp.route("", methods=["GET"], strict_slashes=False)
@blp.arguments(EventListArgs, location="query")
@blp.response(200, page_of(EventOut))
def list_events(args):
    """List events, newest first, optionally of one workflow or in one status."""
    workflow = args.get("workflow")
    found = store().events.list(
        page_request(args),
        workflow_id=store().workflows.id_of(workflow) if workflow is not None else None,
        workflow=workflow,
        status=args.get("status"),
    )
    return page(found, args)


@blp.route("/<ref>", methods=["GET"])
@blp.arguments(WaitArgs, location="query")
@blp.response(200, EventDetailOut)
def get_event(args, ref):
    """Show an event, by its id, with its data and every step; ?wait=N waits for its end."""
    if args.get("wait"):
        return wait_for_event(runtime(), ref, args["wait"])
    return describe(store().events.get(ref))


@blp.route("/<ref>/graph", methods=["GET"])
@blp.arguments(GraphArgs, location="query")
@blp.response(200, GraphOut)
@blp.doc(**GRAPH_CONTENT)
def get_event_graph(args, ref):
    """Draw an event's workflow, each step coloured by its outcome, with durations and attempts."""
    graph = event_graph(runtime(), describe(store().events.get(ref)))
    return answer_graph(graph, args["format"])


@blp.route("/<ref>/cancel", methods=["POST"])
@blp.response(200, EventOut)
@blp.alt_response(409, schema=ErrorOut, description="The event has already ended")
def cancel(ref):
    """Cancel an event: a queued one never runs, a running one stops before its next step."""
    return cancel_event(runtime(), ref)


@blp.route("/<ref>/redrive", methods=["POST"])
@blp.response(202, EventOut)
@blp.alt_response(409, schema=ErrorOut, description="The event is not failed or cancelled")
def redrive(ref):
    """Run a failed or cancelled event again from the step that did not complete."""
    event = redrive_event(runtime(), ref)
    return event, 202, {"Location": url_for("events.get_event", ref=event["id"])}


def run(ref: str, body: dict, headers: dict, args: dict):
    options, body = split_options(body)
    limit = current_app.config["MAX_EVENT_BYTES"]
    if len(json.dumps(body, separators=(",", ":"))) > limit:
        raise PayloadTooLarge(f"The event data is larger than the limit of {limit} bytes.")
    asynchronous = bool(args.get("async") or options.get("async") or prefers_async(request.headers))
    callback_url = options.get("callback_url")
    if callback_url is not None:
        check_callback_url(callback_url)
    submission = Submission(
        workflow=ref,
        body=body,
        key=headers.get("key"),
        asynchronous=asynchronous,
        callback_url=callback_url,
        durability=args.get("durability") or options.get("durability"),
        trace_id=current_trace_id(),
        parent_span_id=current_parent_span_id(),
        request_id=current_request_id(),
    )
    event = submit_event(runtime(), submission)
    return event, *event_status(event)


def split_options(body: dict) -> tuple[dict, dict]:
    """(run options, event body) of a wrapped body {"data": {...}, "async": ..., ...}; a body
    that wraps nothing is all data."""
    if "data" not in body or not set(body) - {"data"} <= set(RUN_OPTIONS):
        return {}, body
    try:
        options = RunOptions().load({name: body[name] for name in RUN_OPTIONS if name in body})
    except ValidationError as error:
        raise InvalidData(
            "Invalid run options: " + ", ".join(sorted(error.messages)) + ".",
            errors=error.messages,
        ) from None
    return options, {"data": body["data"]}


def prefers_async(headers) -> bool:
    """Whether the request says `Prefer: respond-async` (RFC 7240)."""
    preferences = ",".join(headers.getlist("Prefer"))
    return any(p.split(";")[0].strip().lower() == "respond-async" for p in preferences.split(","))


def check_callback_url(url: str) -> None:
    """Refuse a webhook address the address policy would never let Machinery call, and any
    webhook where there is no secret to sign it with."""
    if not url.startswith(("http://", "https://")) or len(url) > 2048:
        raise InvalidData(
            "callback_url is an http(s) URL.", errors={"callback_url": ["Not an http(s) URL."]}
        )
    if not runtime().webhooks.secrets:
        raise InvalidData(
            "This deployment has no webhook secret, so it sends no webhooks: it would have no "
            "way to sign them. Send the event without callback_url, or set "
            "MACHINERY_WEBHOOK_SECRETS on Machinery's API and workers.",
            errors={"callback_url": ["No webhook secret is configured."]},
        )
    try:
        current_app.extensions["machinery.addresses"].check_registration(url)
    except RefusedAddress as refused:
        raise InvalidData(str(refused), errors={"callback_url": [str(refused)]}) from None


def event_status(event: dict) -> tuple[int, dict]:
    """The HTTP status and headers that answer an event, decided in this one place."""
    headers = {"Idempotent-Replayed": "true"} if event.get("replayed") else {}
    status = event["status"]
    if status == states.SUCCEEDED:
        return 201, headers
    if status == states.FAILED:
        return (504 if event["error"]["kind"] == states.TIMEOUT else 502), headers
    if status == states.CANCELLED:
        return 409, headers
    headers["Location"] = url_for("events.get_event", ref=event["id"])
    return 202, headers
