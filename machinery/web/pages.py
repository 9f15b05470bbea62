"""The console's pages: services, workflows and events, read and acted on through the use
cases the API calls."""

import difflib
import json
from datetime import UTC, datetime

from flask import current_app, flash, redirect, render_template, request, url_for
from markupsafe import Markup

from machinery import states
from machinery.contracts import analyse, service_names, workflow_loader
from machinery.errors import InvalidData, MachineryError, PayloadTooLarge
from machinery.graph import render
from machinery.graph.sources import event_graph, workflow_graph
from machinery.orchestrator import (
    Submission,
    cancel_event,
    describe,
    dry_run,
    redrive_event,
    submit_event,
)
from machinery.statistics import service_statistics
from machinery.store.listing import PageRequest
from machinery.web.access import require
from machinery.web.blueprint import blp, runtime, store, takes
from machinery.web.forms import read_inputs, widget

# How many services a search reads through, at most.
SEARCH_LIMIT = 1000
EVENT_STATUSES = (
    states.QUEUED,
    states.RUNNING,
    states.WAITING,
    states.SUCCEEDED,
    states.FAILED,
    states.CANCELLED,
)


def page_size() -> int:
    return current_app.config["PAGE_SIZE"]


def svg(graph) -> Markup:
    """A graph drawn as SVG, inline (ElementTree escaped every string in it)."""
    return Markup(render(graph, "svg"))


@blp.route("/ui", methods=["GET"], strict_slashes=False)
@takes()
def home():
    return redirect(url_for("web.workflows"))


@blp.route("/ui/services", methods=["GET"])
@takes("q", "cursor")
def services():
    """List services; ?q= finds those whose name holds the text."""
    require("services.list_services")
    query = request.args.get("q", "").strip()
    if not query:
        found = store().services.list(PageRequest(page_size(), request.args.get("cursor")))
        return render_template("services.html", items=found.items, next=found.next, q="")
    matches, cursor, read = [], None, 0
    while read < SEARCH_LIMIT:
        found = store().services.list(PageRequest(100, cursor))
        read += len(found.items)
        matches += [s for s in found.items if query.lower() in s["name"].lower()]
        cursor = found.next
        if cursor is None:
            break
    return render_template("services.html", items=matches, next=None, q=query)


@blp.route("/ui/services/<name>", methods=["GET"])
@takes()
def service(name):
    """A service: its contract, versions, the workflows calling it and its recent calls."""
    require("services.get_service")
    return render_template(
        "service.html",
        service=store().services.get(name),
        versions=store().services.history(name),
        workflows=store().workflows.using(name),
        statistics=service_statistics(runtime(), name),
    )


@blp.route("/ui/workflows", methods=["GET"])
@takes("cursor")
def workflows():
    """List workflows."""
    require("workflows.list_workflows")
    found = store().workflows.list(PageRequest(page_size(), request.args.get("cursor")))
    return render_template("workflows.html", items=found.items, next=found.next)


@blp.route("/ui/workflows/<name>", methods=["GET"])
@takes("version", "from", "to")
def workflow(name):
    """A workflow: its graph, contract, versions, lineage, and a form to send it an event."""
    return workflow_page(name)


def workflow_page(name, dry=None, form=None, status=200):
    require("workflows.get_workflow")
    version = _number(request.args.get("version"))
    definition = store().workflows.get(name, version)
    versions = store().workflows.history(definition["name"])
    graph = workflow_graph(runtime(), definition["name"], definition["version"])
    services = store().services.by_names(service_names(definition["services"]))
    lineage = analyse(definition, services, load=workflow_loader(store())).lineage
    return (
        render_template(
            "workflow.html",
            workflow=definition,
            graph=svg(graph),
            edges=graph.edges,
            versions=versions,
            diff=version_diff(definition["name"], versions),
            lineage=lineage,
            widget=widget,
            dry=dry,
            form=form or {},
        ),
        status,
    )


def version_diff(name: str, versions: list[dict]) -> dict | None:
    """The unified diff between the versions ?from= and ?to= (by default the last two)."""
    if len(versions) < 2:
        return None
    numbers = [v["version"] for v in versions]
    older = _number(request.args.get("from")) or numbers[-2]
    newer = _number(request.args.get("to")) or numbers[-1]
    by_number = {v["version"]: v for v in versions}
    if older not in by_number or newer not in by_number:
        raise InvalidData(f"Workflow {name!r} has versions {', '.join(map(str, numbers))}.")
    shown = ("services", "inputs", "outputs", "operations", "durability")

    def text(document):
        kept = {key: document[key] for key in shown if key in document}
        return json.dumps(kept, indent=2, sort_keys=True, default=str).splitlines()

    lines = list(
        difflib.unified_diff(
            text(by_number[older]),
            text(by_number[newer]),
            f"version {older}",
            f"version {newer}",
            lineterm="",
        )
    )
    return {"from": older, "to": newer, "lines": lines, "numbers": numbers}


def _number(text: str | None) -> int | None:
    if text is None or text == "":
        return None
    if not text.isdigit() or not 1 <= int(text) <= 2**31 - 1:
        raise InvalidData("A version is a whole number from 1.")
    return int(text)


@blp.route("/ui/workflows/<name>/events", methods=["POST"])
@takes()
def send_event(name):
    """Send an event from the form, and show it."""
    require("events.send_event", "POST")
    definition = store().workflows.get(name)
    data = read_inputs(definition.get("inputs", []), request.form)
    limit = current_app.config["MAX_EVENT_BYTES"]
    if len(json.dumps(data, separators=(",", ":"))) > limit:
        raise PayloadTooLarge(f"The event data is larger than the limit of {limit} bytes.")
    submission = Submission(
        workflow=definition["name"],
        body=data,
        asynchronous=request.form.get("async") == "true",
    )
    event = submit_event(runtime(), submission)
    return redirect(url_for("web.event", event_id=event["id"]))


@blp.route("/ui/workflows/<name>/dry-run", methods=["POST"])
@takes()
def dry_run_workflow(name):
    """Walk the workflow with the form's data, calling no service, and show what it would do."""
    require("workflows.dry_run_workflow", "POST")
    definition = store().workflows.get(name)
    data = read_inputs(definition.get("inputs", []), request.form)
    result = dry_run(runtime(), definition, data, {})
    return workflow_page(name, dry=result, form=request.form)


@blp.route("/ui/events", methods=["GET"])
@takes("workflow", "status", "before", "cursor")
def events():
    """List events, newest first, by workflow and status, from a time back."""
    require("events.list_events")
    workflow = request.args.get("workflow", "").strip() or None
    status = request.args.get("status", "").strip() or None
    if status is not None and status not in EVENT_STATUSES:
        raise InvalidData(f"Unknown status {status!r}.", errors={"status": ["Unknown status."]})
    before = request.args.get("before", "").strip()
    cursor = request.args.get("cursor")
    if before and not cursor:
        cursor = store().events.cursor_up_to(moment(before))
    found = store().events.list(
        PageRequest(page_size(), cursor),
        workflow_id=store().workflows.id_of(workflow) if workflow is not None else None,
        workflow=workflow,
        status=status,
    )
    return render_template(
        "events.html",
        items=found.items,
        next=found.next,
        workflow=workflow or "",
        status=status or "",
        before=before,
        statuses=EVENT_STATUSES,
    )


def moment(text: str) -> datetime:
    """A time the events form gives (ISO 8601; UTC unless it says otherwise)."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidData(
            "A time is written 2026-12-01T10:30 (UTC).", errors={"before": ["Not a time."]}
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@blp.route("/ui/events/<event_id>", methods=["GET"])
@takes()
def event(event_id):
    """An event: its steps in order, its graph coloured by outcome (live while it runs)."""
    require("events.get_event")
    shown = describe(store().events.get(event_id))
    try:
        graph = svg(event_graph(runtime(), shown))
    except MachineryError:
        graph = None  # its workflow's version is gone: the steps still tell the story
    live = shown["status"] not in states.FINAL_STATES
    return render_template("event.html", event=shown, graph=graph, live=live)


@blp.route("/ui/events/<event_id>/cancel", methods=["POST"])
@takes()
def cancel(event_id):
    """Cancel the event."""
    require("events.cancel", "POST")
    cancel_event(runtime(), event_id)
    flash("Cancellation requested.")
    return redirect(url_for("web.event", event_id=event_id))


@blp.route("/ui/events/<event_id>/redrive", methods=["POST"])
@takes()
def redrive(event_id):
    """Run the event again from the step that did not complete."""
    require("events.redrive", "POST")
    redrive_event(runtime(), event_id)
    flash("Redriven: the event is queued to run again from the step that did not complete.")
    return redirect(url_for("web.event", event_id=event_id))
