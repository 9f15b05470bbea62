"""Count exactly the commands Machinery sends its store, with pymongo's command monitoring.

An app built with machinery.create_app against the same store as the Machinery being measured
runs in a child process of its own (started with `spawn`: nothing of the benchmark's threads or
clients in it), with a CommandListener registered before any client is made. Requests go through
Flask's test client and asynchronous events through a worker's run_once, in the child's main
thread: the commands that thread sends are the requests' own; those of other threads (lease
renewals) are counted apart.
"""

import multiprocessing
import os
import threading
from collections import Counter

CHILD_SECONDS = 300.0
WAIT_ANSWER_S = 10


def _command_counter():
    from pymongo import monitoring

    class CommandCounter(monitoring.CommandListener):
        def __init__(self) -> None:
            self.main = threading.main_thread().ident
            self.commands: list[tuple[str, str]] = []
            self.documents: list[dict] = []
            self.durations_ms: list[float] = []
            self.elsewhere = 0
            self.keep_documents = False

        def started(self, event) -> None:
            if threading.get_ident() != self.main:
                self.elsewhere += 1
                return
            target = event.command.get(event.command_name)
            collection = target if isinstance(target, str) else ""
            self.commands.append((event.command_name, collection))
            if self.keep_documents:
                self.documents.append(dict(event.command))

        def succeeded(self, event) -> None:
            if self.keep_documents and threading.get_ident() == self.main:
                self.durations_ms.append(event.duration_micros / 1000)

        def failed(self, event) -> None:
            self.succeeded(event)

        def take(self) -> list[tuple[str, str]]:
            taken, self.commands = self.commands, []
            return taken

    counter = CommandCounter()
    monitoring.register(counter)
    return counter


def _app(store_uri: str, data_dir: str):
    own = ("MACHINERY_", "MONGO_", "GUNICORN_", "WEB_CONCURRENCY")
    for name in [name for name in os.environ if name.startswith(own)]:
        del os.environ[name]
    os.environ.update(MONGO_URI=store_uri, MACHINERY_DATA_DIR=data_dir, LOG_LEVEL="warning")
    from machinery import create_app

    return create_app()


def _breakdown(commands: list[tuple[str, str]], events: int) -> dict[str, float]:
    """Commands per event by `command collection`, e.g. {"insert events": 1.0}."""
    counts = Counter(f"{name} {collection}".strip() for name, collection in commands)
    return {key: count / events for key, count in sorted(counts.items())}


def _event_commands(store_uri, data_dir, workflow, data, events, warmup, expected) -> dict:
    counter = _command_counter()
    app = _app(store_uri, data_dir)
    client = app.test_client()
    path = f"/e/{workflow}"

    def send(headers=None, durability="step") -> dict:
        query = "" if headers else f"?durability={durability}"
        response = client.post(path + query, json=data, headers=headers or {})
        event = response.get_json()
        if headers is None and (response.status_code != 201 or event["outputs"] != expected):
            raise RuntimeError(f"Machinery answered HTTP {response.status_code}: {event}")
        if headers is not None and response.status_code != 202:
            raise RuntimeError(f"Machinery answered HTTP {response.status_code}: {event}")
        return event

    counter.take()  # the app's start: indexes
    send()
    first = counter.take()
    synchronous = {}
    for durability in ("step", "event"):
        for _ in range(warmup):
            send(durability=durability)
        counter.take()
        for _ in range(events):
            send(durability=durability)
        synchronous[durability] = counter.take()

    # Asynchronous: what the API sends to accept, then what a worker sends to run each one.
    from machinery.worker import Worker

    worker = Worker(app.extensions["machinery.runtime"], concurrency=1)
    accepted_ids = [send({"Prefer": "respond-async"})["event_id"] for _ in range(events)]
    accepting = counter.take()
    ran = sum(1 for _ in range(events) if worker.run_once())
    running = counter.take()
    worker.run_once()  # nothing left: one empty poll
    empty_poll = counter.take()
    finished = [client.get(f"/e/{event_id}").get_json()["status"] for event_id in accepted_ids]
    if ran != events or set(finished) != {"succeeded"}:
        raise RuntimeError(f"the worker ran {ran} of {events} events: {Counter(finished)}")
    return {
        "events": events,
        **{
            f"synchronous_{durability}": {
                "per_event": len(commands) / events,
                "first_event": len(first),
                "by_command": _breakdown(commands, events),
                "first_by_command": _breakdown(first, 1),
            }
            for durability, commands in synchronous.items()
        },
        "asynchronous_accept": {
            "per_event": len(accepting) / events,
            "by_command": _breakdown(accepting, events),
        },
        "asynchronous_run": {
            "per_event": len(running) / events,
            "by_command": _breakdown(running, events),
        },
        "empty_poll": len(empty_poll),
        "other_threads": counter.elsewhere,
    }


def _query_commands(store_uri, data_dir, paths, explain) -> list[dict]:
    counter = _command_counter()
    app = _app(store_uri, data_dir)
    client = app.test_client()
    counter.take()
    found = []
    for path in paths:
        client.get(path)  # the first time a route is served, it may read more (caches)
        counter.take()
        counter.keep_documents = True
        status = client.get(path).status_code
        counter.keep_documents = False
        commands, documents, durations = counter.take(), counter.documents, counter.durations_ms
        counter.documents, counter.durations_ms = [], []
        plans = [_plan(app, document) for document in documents] if explain else []
        found.append(
            {
                "path": path,
                "status": status,
                "commands": [f"{name} {collection}".strip() for name, collection in commands],
                "durations_ms": durations,
                "plans": plans,
            }
        )
    return found


def _plan(app, command: dict) -> str:
    """What the store says of how it runs a command: its explain's winning plan, in short."""
    name = next(iter(command))
    if name not in ("find", "aggregate", "count", "findAndModify", "update", "delete"):
        return ""
    plain = {key: value for key, value in command.items() if not key.startswith(("$", "lsid"))}
    try:
        explained = app.extensions["machinery.store"].connection.db.command("explain", plain)
    except Exception as error:  # noqa: BLE001 - what the store cannot explain is reported
        return f"no explain: {str(error)[:80]}"
    plan = explained.get("queryPlanner", {}).get("winningPlan", explained)
    if isinstance(plan, list):
        return "; ".join(str(step.get("detail", step)) for step in plan)[:200]
    return str(plan)[:200]


def _run_in_child(target, *args):
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return pool.apply_async(target, args).get(CHILD_SECONDS)


def count_event_commands(
    store_uri: str,
    data_dir: str,
    workflow: str,
    data: dict,
    expected: dict,
    events: int = 20,
    warmup: int = 3,
) -> dict:
    """The store commands per event, synchronous and asynchronous, counted exactly.

    Needs the workflow's services running, and no worker on the store (asynchronous events are
    run by this measurement's own worker).
    """
    return _run_in_child(
        _event_commands, store_uri, data_dir, workflow, data, events, warmup, expected
    )


def query_commands(store_uri: str, data_dir: str, paths: list[str], explain: bool = True) -> list:
    """For each GET path: its status, the store commands it sends, and their plans."""
    return _run_in_child(_query_commands, store_uri, data_dir, paths, explain)
