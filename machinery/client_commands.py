"""machinery-cli's client commands: read, send, export and import through a running Machinery's
HTTP API (machinery/client.py). They open no store.

Exit status: 0 done; 1 the event sent failed or was cancelled; 2 a bad command line; 3 Machinery
refused the request (4xx); 4 Machinery could not be reached or failed (5xx).
"""

import json
import sys
from pathlib import Path

import click

from machinery.client import DEFAULT_URL, Client, ClientError

EXIT_EVENT_FAILED = 1
EXIT_REFUSED = 3
EXIT_UNAVAILABLE = 4

# The columns of `get`, by kind.
COLUMNS = {
    "services": ("name", "version", "address", "mode", "idempotent"),
    "workflows": ("name", "version", "services", "durability"),
    "events": ("event_id", "workflow", "status", "acked_at", "finished_at"),
}


def connection_options(command):
    """--url, --api-key and --output, with their environment variables."""
    command = click.option(
        "--output",
        "-o",
        type=click.Choice(["table", "json"]),
        default="table",
        show_default=True,
        help="How to print what is read.",
    )(command)
    command = click.option(
        "--api-key",
        envvar="MACHINERY_API_KEY",
        help="An API key, sent as 'Authorization: Bearer <key>' (better: MACHINERY_API_KEY).",
    )(command)
    return click.option(
        "--url",
        envvar="MACHINERY_URL",
        default=DEFAULT_URL,
        show_default=True,
        help="The Machinery API (or set MACHINERY_URL).",
    )(command)


class Failed(click.ClickException):
    """An error printed on the standard error, exiting with its own status."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


def calling(action):
    """Run `action()`, turning what the API answers into an exit status."""
    try:
        return action()
    except ClientError as error:
        refused = error.status is not None and 400 <= error.status < 500
        status = f"HTTP {error.status}: " if error.status else ""
        raise Failed(
            f"{status}{error.message}", EXIT_REFUSED if refused else EXIT_UNAVAILABLE
        ) from None


def show(value, output: str, columns=None) -> None:
    if output == "json":
        click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))
        return
    if columns is None:  # one object: one "key: value" line per field
        for key, item in value.items():
            shown = (
                item if isinstance(item, str | int | float) or item is None else json.dumps(item)
            )
            click.echo(f"{key}: {shown}")
        return
    rows = [tuple(_cell(item.get(column)) for column in columns) for item in value]
    widths = [max(len(row[i]) for row in (columns, *rows)) for i in range(len(columns))]
    for row in (tuple(c.upper() for c in columns), *rows):
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ",".join(v if isinstance(v, str) else v.get("service", "?") for v in value)
    return str(value)


@click.command("get")
@click.argument("kind", type=click.Choice(["services", "workflows", "events"]))
@click.option("--workflow", help="Events of this workflow only.")
@click.option("--status", help="Events in this status only.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@connection_options
def get(kind, workflow, status, limit, url, api_key, output):
    """List services, workflows or events (newest first)."""
    if kind != "events" and (workflow or status):
        raise click.UsageError("--workflow and --status filter events only.")
    client = Client(url, api_key)
    items = calling(lambda: list(client.listing(kind, limit, workflow=workflow, status=status)))
    show(items, output, COLUMNS[kind])


@click.command("describe")
@click.argument("kind", type=click.Choice(["service", "workflow", "event"]))
@click.argument("ref")
@connection_options
def describe(kind, ref, url, api_key, output):
    """Show one service or workflow (by name or id), or one event with its steps."""
    client = Client(url, api_key)
    show(calling(lambda: client.get(kind + "s", ref)), output)


@click.command("send")
@click.argument("workflow")
@click.option(
    "--data",
    "-d",
    required=True,
    help="The event data: JSON, or @FILE to read it from a file (@- the standard input).",
)
@click.option("--async", "asynchronous", is_flag=True, help="Queue it for a worker.")
@click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=None,
    help="With --async: seconds to wait for its end.",
)
@click.option("--idempotency-key", help="Sent as Idempotency-Key: a retry answers the original.")
@connection_options
def send(workflow, data, asynchronous, wait, idempotency_key, url, api_key, output):
    """Send an event to a workflow and print it; exit 1 when it failed."""
    if wait is not None and not asynchronous:
        raise click.UsageError("--wait goes with --async (a synchronous event is its own wait).")
    body = read_data(data)
    client = Client(url, api_key)
    event = calling(
        lambda: client.send(
            workflow, body, asynchronous=asynchronous, wait=wait, idempotency_key=idempotency_key
        )
    )
    show(event, output)
    if event.get("status") in ("failed", "cancelled"):
        sys.exit(EXIT_EVENT_FAILED)


@click.command("export")
@click.option("--file", "-f", "path", type=click.Path(dir_okay=False, writable=True))
@connection_options
def export(path, url, api_key, output):
    """Print every service and workflow definition as one JSON document (to --file)."""
    client = Client(url, api_key)
    exported = calling(client.export)
    text = json.dumps(exported, indent=2, ensure_ascii=False) + "\n"
    if path:
        Path(path).write_text(text)
        count = len(exported["services"]) + len(exported["workflows"])
        click.echo(f"exported {count} definitions to {path}", err=True)
    else:
        click.echo(text, nl=False)


@click.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@connection_options
def import_(path, url, api_key, output):
    """Register the definitions of an export (services, then workflows), replacing those of the
    same names."""
    exported = read_data("@" + path)
    if not isinstance(exported.get("services", []), list) or not isinstance(
        exported.get("workflows", []), list
    ):
        raise click.UsageError(f"{path}: not an export (services and workflows lists).")
    client = Client(url, api_key)
    done = calling(lambda: client.import_(exported))
    if output == "json":
        show([{"kind": k, "name": n, "done": d} for k, n, d in done], output)
    else:
        for kind, name, action in done:
            click.echo(f"{action} {kind[:-1]} {name}")


def read_data(text: str) -> dict:
    """JSON given inline, or read from @FILE (@- the standard input): one object."""
    source = "--data"
    if text.startswith("@"):
        source = text[1:]
        try:
            text = sys.stdin.read() if source == "-" else Path(source).read_text()
        except OSError as error:
            raise click.UsageError(f"Cannot read {source}: {error.strerror}.") from None
    try:
        value = json.loads(text)
    except ValueError as error:
        raise click.UsageError(f"{source}: not JSON: {error}.") from None
    if not isinstance(value, dict):
        raise click.UsageError(f"{source}: a JSON object is expected.")
    return value


COMMANDS = (get, describe, send, export, import_)
