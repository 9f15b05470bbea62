"""Benchmark history at scale: how reading events and definitions grows with how many are stored.

Starts, on 127.0.0.1 only, the example services and Machinery as deployed (gunicorn with the
repository's gunicorn.conf.py, the embedded store in a temporary MACHINERY_DATA_DIR), sends a few
real events (succeeded, and failed through a service that refuses connections), then bulk-loads
copies of those events, their steps and the definitions straight into the store with insert_many
(the documents as Machinery wrote them, new ids and times), size after size. At each size it
times, one request after the other over a kept-alive connection:

  GET /e/<id>                                          one event with its steps
  GET /e?workflow=process-text&status=succeeded&page_size=20    a common status
  GET /e?workflow=process-text&status=failed&page_size=20       a rare status
  the same, &cursor=<next>, for pages 2 and 50 (or the last)   by cursor (following `next`)
  GET /e?workflow=process-text&status=succeeded&page_size=20&page=50   by page number (skipping)
  the same, &count=true                                          with the total counted
  GET /e?page_size=20                                            every event
  GET /s?page_size=20 (and its page 2 by cursor), GET /w?page_size=20   the definitions

and reports the median latency of each, the store commands each one sends (counted with pymongo's
command monitoring in an app of its own on the same store) and what the store's explain says of
how it runs them.
"""

import argparse
import http.client
import json
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

from processes import (
    HOST,
    Children,
    Machinery,
    describe_machine,
    free_port,
    machine_line,
    percentile,
    scratch_directory,
    start_services,
    stop_on_sigterm,
)

DATA = {"message": "The Sun will rise in the morning !"}
HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
TIMEOUT = 120.0
BATCH = 5000
# A share of the loaded events fail; the rest succeed. Half are of each example workflow.
FAILED_SHARE = 0.1
WORKFLOWS = {"process-text": DATA, "shout-and-count": {"text": DATA["message"]}}
SUCCEEDED = "/e?workflow=process-text&status=succeeded&page_size=20"
QUERIES = {
    "GET /e/<id>": "/e/{event_id}",
    "GET /e workflow+succeeded": SUCCEEDED,
    "GET /e workflow+failed": "/e?workflow=process-text&status=failed&page_size=20",
    "GET /e cursor page 2": SUCCEEDED + "&cursor={page 2}",
    "GET /e cursor page 50": SUCCEEDED + "&cursor={page 50}",
    "GET /e page 50": SUCCEEDED + "&page=50",
    "GET /e count": SUCCEEDED + "&count=true",
    "GET /e": "/e?page_size=20",
    "GET /s": "/s?page_size=20",
    "GET /s cursor page 2": "/s?page_size=20&cursor={page 2}",
    "GET /w": "/w?page_size=20",
}
# Bounds on what one run may do, whatever the arguments say.
MAX_EVENTS = 1_000_000
MAX_DEFINITIONS = 100_000
MAX_REPEATS = 200
MAX_QUERY_SECONDS = 120.0


def _request(port: int, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    connection = http.client.HTTPConnection(HOST, port, timeout=TIMEOUT)
    try:
        payload = None if body is None else json.dumps(body).encode()
        connection.request(method, path, payload, HEADERS)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


def _expect(status: int, answer: dict, *expected: int) -> dict:
    if status not in expected:
        raise RuntimeError(f"Machinery answered HTTP {status}: {answer}")
    return answer


def seed_events(machinery: Machinery) -> dict[str, str]:
    """Real events for the templates: one succeeded per example workflow, and one failed (a
    service whose port refuses connections). Their ids by kind."""
    refused = f"http://{HOST}:{free_port()}/event"
    field = {"name": "message", "type": "string"}
    broken = {"name": "broken", "address": refused, "inputs": [field], "outputs": [field]}
    _expect(*_request(machinery.port, "POST", "/s", broken), 201)
    workflow = {"name": "breaks", "services": ["broken"], "inputs": [field], "outputs": [field]}
    _expect(*_request(machinery.port, "POST", "/w", workflow), 201)
    ids = {}
    for name, data in WORKFLOWS.items():
        event = _expect(*_request(machinery.port, "POST", f"/e/{name}", data), 201)
        ids[name] = event["event_id"]
    event = _expect(*_request(machinery.port, "POST", "/e/breaks", DATA), 502)
    ids["failed"] = event["event_id"]
    return ids


class Loader:
    """Bulk-loads copies of stored documents into the store, with new ids and times."""

    def __init__(self, store_uri: str, seeds: dict[str, str]):
        from bson import ObjectId
        from pymongo import MongoClient

        self._object_id = ObjectId
        self.client = MongoClient(store_uri, tz_aware=True)
        self.db = self.client.get_database("machinery")
        self.events = {}
        self.steps = {}
        for kind, event_id in seeds.items():
            self.events[kind] = self.db.events.find_one({"_id": ObjectId(event_id)})
            self.steps[kind] = list(self.db.steps.find({"event_id": event_id}))
        for name in WORKFLOWS:  # failed copies are of the example workflows too
            self.steps[f"failed {name}"] = self.steps["failed"]
        self.workflows = {doc["name"]: doc for doc in self.db.workflows.find()}
        self.service = self.db.services.find_one({"name": "upper"})
        self.workflow = self.workflows["process-text"]
        self.moment = self.events["process-text"]["acked_at"]
        self.loaded_ids: list[str] = []

    def close(self) -> None:
        self.client.close()

    def count(self, collection: str) -> int:
        return self.db[collection].estimated_document_count()

    def load_events(self, target: int, rng: random.Random) -> None:
        """Add events (and their steps) until the store holds `target`; newest last."""
        missing = target - self.count("events")
        while missing > 0:
            batch, steps = [], []
            for _ in range(min(BATCH, missing)):
                workflow = rng.choice(list(WORKFLOWS))
                failed = rng.random() < FAILED_SHARE
                template = self.events[workflow]
                document = dict(template)
                if failed:
                    document.update(
                        {
                            key: self.events["failed"][key]
                            for key in ("status", "error", "outputs", "cursor", "running")
                            if key in self.events["failed"]
                        }
                    )
                self.moment -= timedelta(milliseconds=rng.randrange(1, 50))
                oid = self._object_id()
                document.update(
                    _id=oid,
                    acked_at=self.moment,
                    finished_at=self.moment + timedelta(milliseconds=20),
                )
                batch.append(document)
                for step in self.steps[f"failed {workflow}" if failed else workflow]:
                    steps.append({**step, "_id": self._object_id(), "event_id": str(oid)})
                if not failed and workflow == "process-text":
                    self.loaded_ids.append(str(oid))
            self.db.events.insert_many(batch, ordered=False)
            if steps:  # steps kept in a collection of their own
                self.db.steps.insert_many(steps, ordered=False)
            missing -= len(batch)

    def load_definitions(self, target: int) -> None:
        """Add services and workflows until the store holds `target` of each."""
        for kind, template in (("services", self.service), ("workflows", self.workflow)):
            have = self.count(kind)
            documents, versions = [], []
            for number in range(have, target):
                oid = self._object_id()
                name = f"bench-{kind[:-1]}-{number:06d}"
                document = {**template, "_id": oid, "name": name}
                documents.append(document)
                version = {k: v for k, v in document.items() if k != "_id"}
                versions.append({**version, "definition_id": str(oid)})
            for start in range(0, len(documents), BATCH):
                self.db[kind].insert_many(documents[start : start + BATCH], ordered=False)
                self.db[f"{kind[:-1]}_versions"].insert_many(
                    versions[start : start + BATCH], ordered=False
                )


def with_cursor(port: int, path: str) -> str:
    """The path with its "{page N}" replaced by the cursor to that page, found by following
    `next` from the first page (to the last page when there are fewer; the first when there is
    only one)."""
    if "{page " not in path:
        return path
    start = path.index("{page ")
    pages = int(path[start + len("{page ") : path.index("}", start)])
    first = path[: start - len("&cursor=")]
    token = None
    for _ in range(pages - 1):
        page = first + (f"&cursor={token}" if token else "")
        following = _expect(*_request(port, "GET", page), 200).get("next")
        if not following:
            break
        token = following
    return first + (f"&cursor={token}" if token else "")


def time_queries(port: int, paths: dict[str, list[str]], repeats: int, seconds: float) -> dict:
    """Each query's latencies: one warm-up, then up to `repeats` requests (at least 3) or
    `seconds`, one after the other over one kept-alive connection."""
    timings = {}
    connection = http.client.HTTPConnection(HOST, port, timeout=TIMEOUT)
    try:
        for name, variants in paths.items():
            connection.request("GET", variants[0], headers=HEADERS)
            response = connection.getresponse()
            response.read()
            status, latencies = response.status, []
            stop_at = time.monotonic() + seconds
            while len(latencies) < repeats and (len(latencies) < 3 or time.monotonic() < stop_at):
                path = variants[len(latencies) % len(variants)]
                started = time.monotonic()
                connection.request("GET", path, headers=HEADERS)
                response = connection.getresponse()
                response.read()
                latencies.append(time.monotonic() - started)
                status = response.status if response.status != 200 else status
            latencies.sort()
            timings[name] = {
                "status": status,
                "requests": len(latencies),
                "p50_ms": statistics.median(latencies) * 1000,
                "p90_ms": percentile(latencies, 0.9) * 1000,
            }
    finally:
        connection.close()
    return timings


def run(arguments) -> dict:
    from store_commands import query_commands

    machine = describe_machine()
    rng = random.Random(27017)
    results = []
    with (
        scratch_directory(arguments.keep_logs, "machinery-history-") as scratch,
        Children() as children,
    ):
        log_dir = Path(scratch)
        services = start_services(children, log_dir, threads=4)
        machinery = Machinery(children, log_dir, log_dir / "data", {})
        machinery.apply(services)
        loader = Loader(machinery.store_uri, seed_events(machinery))
        try:
            for events, definitions in arguments.sizes:
                started = time.monotonic()
                loader.load_events(events, rng)
                loader.load_definitions(definitions)
                loaded_s = time.monotonic() - started
                sample = rng.sample(loader.loaded_ids, min(len(loader.loaded_ids), 50))
                paths = {
                    name: [path.format(event_id=event_id) for event_id in sample]
                    if "{event_id}" in path
                    else [with_cursor(machinery.port, path)]
                    for name, path in QUERIES.items()
                }
                timings = time_queries(
                    machinery.port, paths, arguments.repeats, arguments.query_seconds
                )
                commands = query_commands(
                    machinery.store_uri,
                    str(machinery.data_dir),
                    [variants[0] for variants in paths.values()],
                )
                for timing, found in zip(timings.values(), commands, strict=True):
                    timing.update(
                        commands=found["commands"],
                        durations_ms=found["durations_ms"],
                        plans=found["plans"],
                    )
                results.append(
                    {
                        "events": loader.count("events"),
                        "steps": loader.count("steps"),
                        "services": loader.count("services"),
                        "workflows": loader.count("workflows"),
                        "load_seconds": loaded_s,
                        "queries": timings,
                    }
                )
                print(
                    f"  {results[-1]['events']} events, {definitions} definitions of each kind: "
                    f"loaded in {loaded_s:.0f} s, queried",
                    file=sys.stderr,
                    flush=True,
                )
        finally:
            loader.close()
    return {"machine": machine, "repeats": arguments.repeats, "sizes": results}


def format_report(report: dict) -> str:
    sizes = report["sizes"]
    lines = [machine_line(report["machine"]), ""]
    lines.append("Median latency in ms (p90 in brackets), by what the store holds:")
    titles = [f"{s['events']} ev / {s['services']} s / {s['workflows']} w" for s in sizes]
    width = max(24, *(len(title) + 2 for title in titles))
    lines.append(f"{'query':<28}" + "".join(f"{title:>{width}}" for title in titles))
    for name in QUERIES:
        cells = []
        for size in sizes:
            timing = size["queries"][name]
            text = f"{timing['p50_ms']:.1f} ({timing['p90_ms']:.1f})"
            if timing["status"] != 200:
                text = f"HTTP {timing['status']}: {text}"
            cells.append(f"{text:>{width}}")
        lines.append(f"{name:<28}" + "".join(cells))
    if len(sizes) > 1:
        first, last = sizes[0]["queries"], sizes[-1]["queries"]
        lines.append(
            f"{'growth, last / first':<28}"
            + "".join(
                f"{name.split(' ', 1)[1]}: {last[name]['p50_ms'] / first[name]['p50_ms']:.1f}x  "
                for name in QUERIES
            )
        )
    lines += [
        "",
        f"Store commands per request, the time each took, and the store's plans (at {titles[-1]}):",
    ]
    for name, timing in sizes[-1]["queries"].items():
        spent = [
            f"{command} {duration:.1f} ms"
            for command, duration in zip(timing["commands"], timing["durations_ms"], strict=False)
        ]
        lines.append(f"  {name}: {len(timing['commands'])} ({', '.join(spent)})")
        for plan in timing["plans"]:
            if plan:
                lines.append(f"      plan: {plan}")
    lines.append("")
    for size in sizes:
        lines.append(
            f"  {size['events']} events and {size['steps']} steps loaded in "
            f"{size['load_seconds']:.0f} s (cumulative)"
        )
    return "\n".join(lines)


def _sizes(text: str) -> list[tuple[int, int]]:
    """ "1000:10,100000:10000" -> [(1000, 10), (100000, 10000)]: events and definitions."""
    sizes = []
    for part in text.split(","):
        events, _, definitions = part.partition(":")
        sizes.append((int(events), int(definitions or 10)))
    return sizes


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=_sizes,
        default=_sizes("1000:10,100000:10000"),
        help="EVENTS:DEFINITIONS, comma-separated, growing (definitions: of each kind)",
    )
    parser.add_argument("--repeats", type=int, default=20, help="requests per query and size")
    parser.add_argument("--query-seconds", type=float, default=20.0, help="longest per query")
    parser.add_argument("--smoke", action="store_true", help="small sizes: seconds, for CI")
    parser.add_argument(
        "--keep-logs", type=Path, help="keep the processes' logs and data under this folder"
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--save", type=Path, help="also write the results as JSON to this file")
    arguments = parser.parse_args(argv)
    if arguments.smoke:
        arguments.sizes, arguments.repeats = _sizes("200:10,2000:100"), 5
        arguments.query_seconds = 5.0
    events = [size[0] for size in arguments.sizes]
    if events != sorted(events) or not all(1 <= n <= MAX_EVENTS for n in events):
        parser.error(f"--sizes: events must grow, from 1 to {MAX_EVENTS}")
    if not all(1 <= size[1] <= MAX_DEFINITIONS for size in arguments.sizes):
        parser.error(f"--sizes: definitions from 1 to {MAX_DEFINITIONS}")
    if not 1 <= arguments.repeats <= MAX_REPEATS:
        parser.error(f"--repeats must be from 1 to {MAX_REPEATS}")
    if not 0 < arguments.query_seconds <= MAX_QUERY_SECONDS:
        parser.error(f"--query-seconds must be above 0 and at most {MAX_QUERY_SECONDS:g}")
    return arguments


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    stop_on_sigterm()
    started = time.monotonic()
    report = run(arguments)
    report["load_average_after"] = [round(load, 2) for load in os.getloadavg()]
    if arguments.save:
        arguments.save.write_text(json.dumps(report, indent=2, default=str))
    print(json.dumps(report, indent=2, default=str) if arguments.json else format_report(report))
    print(f"(the run took {time.monotonic() - started:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
