"""machinery-cli: run and administer Machinery, and apply definition files to a running API."""

import json
import os
import re
from pathlib import Path

import click
import requests
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

DEFAULT_URL = "http://127.0.0.1:5000"
_VARIABLE = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}")


@click.command("init-db")
@with_appcontext
def init_db():
    """Create the database indexes (safe to run again)."""
    for name in current_app.extensions["machinery.store"].ensure_indexes():
        click.echo(f"index {name}")


@click.command("interrupt-stale")
@click.option(
    "--older-than",
    type=click.FloatRange(min=1),
    default=3600,
    show_default=True,
    help="Seconds since an event was accepted.",
)
@with_appcontext
def interrupt_stale(older_than):
    """Mark failed the events still running long after they were accepted.

    An event is left running when the database went away before its end could be recorded.
    Choose a time longer than any event can take (its steps' timeouts and retries).
    """
    count = current_app.extensions["machinery.store"].events.interrupt_stale(older_than)
    click.echo(f"{count} event{'s' if count != 1 else ''} marked interrupted")


@click.command("apply")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--url",
    envvar="MACHINERY_URL",
    default=DEFAULT_URL,
    show_default=True,
    help="The Machinery API (or set MACHINERY_URL).",
)
@click.option(
    "--api-key",
    envvar="MACHINERY_API_KEY",
    help="A management key, sent as 'Authorization: Bearer <key>' (better: set MACHINERY_API_KEY).",
)
def apply(files, url, api_key):
    """Register service and workflow definition files with a running Machinery.

    Services are applied before workflows. A definition already registered differently is
    replaced. ${NAME} and ${NAME:-default} in the files are taken from the environment.
    """
    definitions = [(path, load_definition(path)) for path in files]
    services = [(path, d) for path, d in definitions if "address" in d]
    workflows = [(path, d) for path, d in definitions if "services" in d]
    for path, definition in definitions:
        if "address" not in definition and "services" not in definition:
            raise click.ClickException(f"{path}: neither a service nor a workflow definition.")
    session = requests.Session()
    if api_key:
        session.headers["Authorization"] = f"Bearer {api_key}"
    failed = False
    for route, batch in (("s", services), ("w", workflows)):
        for path, definition in batch:
            failed |= not apply_one(session, url.rstrip("/"), route, path, definition)
    if failed:
        raise click.exceptions.Exit(1)


def load_definition(path: str) -> dict:
    """Read a JSON definition file, expanding ${NAME} and ${NAME:-default} from the environment."""
    text = _VARIABLE.sub(
        lambda match: os.environ.get(match[1]) or (match[2] or ""), Path(path).read_text()
    )
    try:
        definition = json.loads(text)
    except ValueError as error:
        raise click.ClickException(f"{path}: not valid JSON: {error}") from None
    if not isinstance(definition, dict):
        raise click.ClickException(f"{path}: a definition is a JSON object.")
    return definition


def apply_one(session: requests.Session, url: str, route: str, path: str, definition: dict) -> bool:
    kind = "service" if route == "s" else "workflow"
    name = definition.get("name")
    try:
        response = session.post(f"{url}/{route}", json=definition, timeout=30)
        action = "registered"
        if response.status_code == 409 and "PUT" in response.json().get("message", ""):
            response = session.put(f"{url}/{route}/{name}", json=definition, timeout=30)
            action = "updated"
    except requests.RequestException as error:
        raise click.ClickException(f"Cannot reach Machinery at {url}: {error}") from None
    if response.ok:
        click.echo(f"{action} {kind} {name} ({path})")
        return True
    click.echo(f"{path}: HTTP {response.status_code}: {response.text.strip()}", err=True)
    return False


def register_commands(app: Flask) -> None:
    app.cli.add_command(init_db)
    app.cli.add_command(interrupt_stale)


def main() -> None:
    from machinery.app import create_app

    cli = FlaskGroup(
        create_app=create_app,
        add_version_option=False,
        help="Run and administer Machinery.",
    )
    cli.add_command(apply)
    cli.add_command(init_db)
    cli.add_command(interrupt_stale)
    cli(prog_name="machinery-cli")
