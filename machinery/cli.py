"""machinery-cli: administer Machinery's database, and apply definition files to a running API.

No command needs the web app. The database commands open the store the settings name and say
which one on the standard error; the others open none.
"""

import contextlib
import json
import logging.config
import os
import re
from pathlib import Path

import click
import requests
from pymongo.errors import PyMongoError

from machinery import client_commands
from machinery.config import Settings, SettingsError, mask_uri
from machinery.store import Store, open_store
from machinery.store.embedded import EmbeddedStoreError, NoEmbeddedData

DEFAULT_URL = "http://127.0.0.1:5000"
_VARIABLE = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}")


class Sections(click.Group):
    """A group whose help lists the client commands apart from the administration ones."""

    def format_commands(self, ctx, formatter):
        client = {command.name for command in client_commands.COMMANDS} | {"apply"}
        rows = {True: [], False: []}
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            rows[name in client].append((name, command.get_short_help_str(limit=60)))
        for title, is_client in (
            ("Client commands (through the API)", True),
            ("Administration", False),
        ):
            with formatter.section(title):
                formatter.write_dl(rows[is_client])


@click.group(
    "machinery-cli", cls=Sections, context_settings={"help_option_names": ["-h", "--help"]}
)
def cli():
    """Use a running Machinery through its API, and administer Machinery.

    The client commands reach the API at --url (MACHINERY_URL) with the key in
    MACHINERY_API_KEY, and open no database. The administration commands use this host's
    database: MONGO_URI, or else the embedded store in MACHINERY_DATA_DIR (.machinery); only
    init-db makes a new embedded store.
    """


@cli.command("init-db")
def init_db():
    """Create the database indexes (safe to run again).

    With no MONGO_URI, this makes the embedded store in MACHINERY_DATA_DIR if there is none yet.
    """
    store = open_database(create=True)
    with database_errors():
        for name in store.ensure_indexes():
            click.echo(f"index {name}")


@cli.command("interrupt-stale")
@click.option(
    "--older-than",
    type=click.FloatRange(min=1),
    default=3600,
    show_default=True,
    help="Seconds since an event was accepted.",
)
def interrupt_stale(older_than):
    """Mark failed the events still running long after they were accepted.

    An event is left running when the database went away before its end could be recorded.
    Choose a time longer than any event can take (its steps' timeouts and retries).
    """
    store = open_database(create=False)
    with database_errors():
        count = store.events.interrupt_stale(older_than)
    click.echo(f"{count} event{'s' if count != 1 else ''} marked interrupted")


@cli.command("worker")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 256),
    default=None,
    help="Events run at once (default: MACHINERY_WORKER_CONCURRENCY, 4).",
)
def worker(concurrency):
    """Run events: claim queued events, and those whose process died, and drive them to their
    end. Stops on SIGTERM, giving events back between two steps."""
    from machinery import metrics
    from machinery.logs import logging_config
    from machinery.runtime import build_runtime
    from machinery.worker import serve

    logging.config.dictConfig(
        logging_config(
            os.environ.get("LOG_LEVEL", "info"), os.environ.get("MACHINERY_LOG_FORMAT", "text")
        )
    )
    metrics.time_store_commands()  # before the store makes its client
    store = open_database(create=True)
    settings = Settings.from_environment()
    with database_errors():
        store.ensure_indexes()
    runtime = build_runtime(settings.app_config(), store)
    if settings.metrics_port is not None:
        metrics.serve_metrics(settings.metrics_host, settings.metrics_port, runtime.queue)
    try:
        serve(runtime, concurrency or settings.worker_concurrency, settings.worker_poll_s)
    finally:
        metrics.mark_process_dead(os.getpid())


@cli.command("routes")
def routes():
    """List the API's routes (opening no database)."""
    # The only command that builds the web app, so the only one that imports it.
    from machinery.app import create_app

    app = create_app(with_store=False)
    header = ("Endpoint", "Methods", "Rule")
    rows = [
        (rule.endpoint, ", ".join(sorted(rule.methods - {"HEAD", "OPTIONS"})), rule.rule)
        for rule in sorted(app.url_map.iter_rules(), key=lambda rule: (rule.rule, rule.endpoint))
    ]
    widths = [max(len(row[column]) for row in (header, *rows)) for column in range(3)]
    for row in (header, tuple("-" * width for width in widths), *rows):
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


@cli.command("apply")
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
    replaced. ${NAME} and ${NAME:-default} in the files are taken from the environment: an unset
    NAME is an error, and the default stands in for an unset or empty one.
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


def open_database(create: bool) -> Store:
    """The store the settings name, said on the standard error, closed when the command ends.

    create=False refuses an embedded store data directory with no Machinery data in it.
    """
    try:
        settings = Settings.from_environment()
    except SettingsError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Database: {describe_database(settings)}", err=True)
    try:
        store = open_store(settings, create=create)
    except NoEmbeddedData as error:
        raise click.ClickException(
            f"{error} Set MACHINERY_DATA_DIR to the directory Machinery keeps its data in (or "
            "MONGO_URI to its MongoDB); `machinery-cli init-db` makes a new store."
        ) from None
    except EmbeddedStoreError as error:
        raise click.ClickException(str(error)) from None
    click.get_current_context().call_on_close(store.close)
    if not create:
        with database_errors():
            found = store.holds_machinery_data()
        if not found:
            raise click.ClickException(
                f"The database {settings.mongo_db!r} holds no Machinery data. Set MONGO_DB to "
                "the database Machinery uses; `machinery-cli init-db` prepares a new one."
            )
    return store


def describe_database(settings: Settings) -> str:
    """Which database the settings name, fit to show (no password)."""
    if settings.mongo_uri:
        return f"MongoDB {mask_uri(settings.mongo_uri)}, database {settings.mongo_db!r}"
    return (
        f"the embedded store in {Path(settings.data_dir).resolve()} (MACHINERY_DATA_DIR), "
        f"database {settings.mongo_db!r}"
    )


@contextlib.contextmanager
def database_errors():
    """Turn a database that does not answer into a one-line error."""
    try:
        yield
    except PyMongoError as error:
        raise click.ClickException(f"The database did not answer: {error}") from None


def load_definition(path: str) -> dict:
    """Read a JSON definition file, expanding ${NAME} and ${NAME:-default} from the environment.

    As in the shell, ${NAME:-default} gives the default when NAME is unset or empty; ${NAME} with
    NAME unset is an error naming every such variable and the file.
    """
    unset = []

    def expand(match: re.Match) -> str:
        name, default = match[1], match[2]
        value = os.environ.get(name)
        if default is not None:
            return value or default
        if value is None:
            unset.append(name)
            return ""
        return value

    text = _VARIABLE.sub(expand, Path(path).read_text())
    if unset:
        names = ", ".join(dict.fromkeys(unset))
        raise click.ClickException(
            f"{path}: not set in the environment: {names} (${{NAME:-default}} gives a default)."
        )
    try:
        definition = json.loads(text)
    except ValueError as error:
        raise click.ClickException(f"{path}: not valid JSON: {error}") from None
    if not isinstance(definition, dict):
        raise click.ClickException(f"{path}: a definition is a JSON object.")
    return definition


@cli.command("graph")
@click.argument("workflow")
@click.option(
    "--format",
    "format_",
    type=click.Choice(["json", "mermaid", "dot", "svg"]),
    default="svg",
    show_default=True,
)
@click.option("--version", type=click.IntRange(min=1), help="A version (default: the current).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="A file (default: stdout).")
@click.option(
    "--url",
    envvar="MACHINERY_URL",
    default=DEFAULT_URL,
    show_default=True,
    help="The Machinery API (or set MACHINERY_URL).",
)
@click.option("--api-key", envvar="MACHINERY_API_KEY", help="A key (better: MACHINERY_API_KEY).")
def graph(workflow, format_, version, output, url, api_key):
    """Draw a workflow registered with a running Machinery, as GET /w/<name>/graph does."""
    params = {"format": format_, **({"version": version} if version else {})}
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        response = requests.get(
            f"{url.rstrip('/')}/w/{workflow}/graph", params=params, headers=headers, timeout=30
        )
    except requests.RequestException as error:
        raise click.ClickException(f"Cannot reach Machinery at {url}: {error}") from None
    if not response.ok:
        raise click.ClickException(f"HTTP {response.status_code}: {response.text.strip()}")
    text = response.text if format_ != "json" else json.dumps(response.json(), indent=2) + "\n"
    if output:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)


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


for _command in client_commands.COMMANDS:
    cli.add_command(_command)


def main() -> None:
    cli(prog_name="machinery-cli")
