"""Benchmark the event path: Machinery against the direct-call limit and a minimal endpoint.

One command starts, on 127.0.0.1 only: the three example services, a minimal endpoint
(benchmarks/minimal_endpoint.py), and Machinery as deployed (gunicorn with the repository's
gunicorn.conf.py, the embedded store in a temporary MACHINERY_DATA_DIR). Then, in the same run:

- the store commands per event, counted exactly (benchmarks/store_commands.py);
- synchronous events at each client concurrency, the three contenders alternated round after
  round: latency (p50, p99), events/s, CPU per event of Machinery's processes and of the store
  apart, and the peak memory of Machinery's processes;
- asynchronous events run by 1, 2 and 4 worker processes: events/s, the pick-up latency (from
  the event's acked_at to its first step's started_at) and CPU per event;
- optionally (--profile), where Machinery's CPU goes under steady load, sampled with py-spy.

Every child runs in its own process group and is stopped at the end, whatever happens; every
loop is bounded in count and in time.
"""

import argparse
import http.client
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from threading import BrokenBarrierError

from node_red import start as start_node_red
from processes import (
    BIN,
    DEFINITIONS,
    HOST,
    ROOT,
    Children,
    Machinery,
    answers_healthcheck,
    clean_environment,
    cpu_seconds,
    describe_machine,
    free_port,
    machine_line,
    memory_mb,
    percentile,
    process_tree,
    scratch_directory,
    start_services,
    stop_on_sigterm,
)

WORKFLOW = "process-text"
DATA = {"message": "The Sun will rise in the morning !"}
EXPECTED = {"message": "! GNINROM EHT NI ESIR LLIW NUS EHT", "space_count": 7}
HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
ASYNC_HEADERS = {**HEADERS, "Prefer": "respond-async"}
TIMEOUT = 30.0
# In the order of the tables; Node-RED only when it is run (full runs, or --node-red).
CONTENDERS = ("direct", "minimal", "node-red", "machinery-step", "machinery-event")
NAMES = {
    "direct": "direct limit",
    "minimal": "minimal",
    "node-red": "Node-RED",
    "machinery-step": "Machinery step",
    "machinery-event": "Machinery event",
}
# The targets of the performance issue, as ratios to Node-RED measured in the same run: CPU per
# event (Express, durability "event"; Standard, durability "step"), events/s, memory.
CPU_TARGET = {"machinery-event": 1.0, "machinery-step": 1.5}
LATENCY_TARGET = 3.0
# Bounds on what one run may do, whatever the arguments say.
MAX_SECONDS_PER_MEASUREMENT = 60.0
MAX_EVENTS_PER_MEASUREMENT = 20_000
MAX_CONCURRENCY = 64
WARMUP_SECONDS = 120.0
STOP_CLIENT_SECONDS = 10.0


# The load generator: client processes (spawned), each with threads that keep their
# http.client connections alive. Several processes, so that one client's GIL is not the limit.


def _post(connection: http.client.HTTPConnection, path: str, payload: dict, headers=HEADERS):
    connection.request("POST", path, json.dumps(payload).encode(), headers)
    response = connection.getresponse()
    return response.status, json.loads(response.read())


class _Sender:
    """Sends one event of a contender and checks the answer; gives an asynchronous event's id."""

    def __init__(self, kind: str, ports: list[int], workflow: str):
        self.kind = kind
        self.path = f"/e/{workflow}"
        if kind in ("machinery-step", "machinery-event"):
            self.path += f"?durability={kind.removeprefix('machinery-')}"
        self.check_outputs = workflow == WORKFLOW
        self.connections = [
            http.client.HTTPConnection(HOST, port, timeout=TIMEOUT) for port in ports
        ]
        self.connect()

    def connect(self) -> None:
        """Open the connections again: a server may close them while the other threads warm up."""
        for connection in self.connections:
            connection.close()
            connection.connect()

    def send(self) -> str | None:
        if self.kind == "direct":
            data = dict(DATA)
            for connection in self.connections:
                status, answer = _post(connection, "/event", data)
                if status != 200:
                    raise RuntimeError(f"a service answered HTTP {status}: {answer}")
                data.update(answer)
            self._check({"message": data["message"], "space_count": data["space_count"]})
            return None
        if self.kind == "machinery-async":
            status, event = _post(self.connections[0], self.path, DATA, ASYNC_HEADERS)
            if status != 202:
                raise RuntimeError(f"Machinery answered HTTP {status}: {event}")
            return event["event_id"]
        if self.kind == "node-red":
            status, answer = _post(self.connections[0], self.path, DATA)
            if status != 200:
                raise RuntimeError(f"Node-RED answered HTTP {status}: {answer}")
            self._check(answer)
            return None
        status, event = _post(self.connections[0], self.path, DATA)
        if status != 201 or event.get("status") != "succeeded":
            raise RuntimeError(f"{self.kind} answered HTTP {status}: {event}")
        if self.check_outputs:
            self._check(event["outputs"])
        return None

    @staticmethod
    def _check(outputs: dict) -> None:
        if outputs != EXPECTED:
            raise RuntimeError(f"expected the outputs {EXPECTED}, got {outputs}")

    def close(self) -> None:
        for connection in self.connections:
            connection.close()


def _client_process(kind, ports, workflow, threads, warmup, quota, seconds, ready, go, results):
    """Run `threads` threads: each warms up, waits for all, then sends its share of `quota`
    events or for `seconds`, whichever ends first. Puts one result on `results`, always."""
    latencies: list[float] = []
    ids: list[str] = []
    errors: list[str] = []
    failures: list[str] = []
    ends: list[float] = []
    lock = threading.Lock()
    cpu = {}

    def work(share: int) -> None:
        sender = None
        try:
            sender = _Sender(kind, ports, workflow)
            for _ in range(warmup):
                sender.send()
            ready.wait()
            go.wait(WARMUP_SECONDS)
            sender.connect()  # not in the first event's time
            stop_at = time.monotonic() + seconds
            mine, my_ids, my_failures = [], [], []
            while len(mine) + len(my_failures) < share and time.monotonic() < stop_at:
                started = time.monotonic()
                try:
                    event_id = sender.send()
                except (RuntimeError, OSError, http.client.HTTPException) as error:
                    # Counted and shown, not timed; too many end the measurement.
                    my_failures.append(f"{type(error).__name__}: {str(error)[:600]}")
                    if len(my_failures) > max(3, len(mine) // 10):
                        raise
                    sender.connect()
                    continue
                mine.append(time.monotonic() - started)
                if event_id is not None:
                    my_ids.append(event_id)
            with lock:
                latencies.extend(mine)
                ids.extend(my_ids)
                failures.extend(my_failures)
                ends.append(time.monotonic())
        except BaseException as error:  # reported by the parent
            errors.append(f"{type(error).__name__}: {error}")
            ready.abort()
        finally:
            if sender is not None:
                sender.close()

    shares = [quota // threads + (1 if n < quota % threads else 0) for n in range(threads)]
    workers = [threading.Thread(target=work, args=(share,), daemon=True) for share in shares]
    for worker in workers:
        worker.start()
    if go.wait(WARMUP_SECONDS):
        cpu["start"] = time.process_time()
    for worker in workers:
        worker.join(WARMUP_SECONDS + seconds + TIMEOUT)
    cpu_s = time.process_time() - cpu.get("start", time.process_time())
    results.put(
        {
            "latencies": latencies,
            "ids": ids,
            "errors": errors,
            "failures": failures,
            "ends": ends,
            "cpu_s": cpu_s,
        }
    )


def run_load(kind, ports, concurrency, quota, seconds, warmup, processes, workflow, measured):
    """Send events from `concurrency` threads spread over client processes, after a warm-up.

    `measured` maps names to pid sets: their CPU seconds are read just before and just after the
    measured part. Returns latencies, events/s, CPU seconds per set, client CPU and event ids.
    """
    context = multiprocessing.get_context("spawn")
    count = max(1, min(processes, concurrency))
    threads = [concurrency // count + (1 if n < concurrency % count else 0) for n in range(count)]
    quotas = [quota * share // concurrency for share in threads]
    quotas[0] += quota - sum(quotas)
    ready = context.Barrier(concurrency + 1)
    go = context.Event()
    results = context.Queue()
    clients = [
        context.Process(
            target=_client_process,
            args=(kind, ports, workflow, n, warmup, q, seconds, ready, go, results),
            daemon=True,
        )
        for n, q in zip(threads, quotas, strict=True)
    ]
    for client in clients:
        client.start()
    try:
        started = None
        try:
            ready.wait(WARMUP_SECONDS)
            before = {name: cpu_seconds(pids) for name, pids in measured.items()}
            started = time.monotonic()
        except BrokenBarrierError:
            pass  # a client failed: its error is in its result
        go.set()
        outcomes = [results.get(timeout=WARMUP_SECONDS + seconds + 2 * TIMEOUT) for _ in clients]
        after = {name: cpu_seconds(pids) for name, pids in measured.items()}
    finally:
        for client in clients:
            client.join(STOP_CLIENT_SECONDS)
            if client.is_alive():
                client.kill()
                client.join()
    errors = [error for outcome in outcomes for error in outcome["errors"]]
    if errors or started is None:
        raise RuntimeError(f"{kind} at concurrency {concurrency} failed: {errors[:3]}")
    latencies = sorted(latency for outcome in outcomes for latency in outcome["latencies"])
    ended = max(end for outcome in outcomes for end in outcome["ends"])
    return {
        "events": len(latencies),
        "seconds": ended - started,
        "events_per_s": len(latencies) / (ended - started),
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "cpu_s": {name: after[name] - before[name] for name in measured},
        "cpu_before": before,
        "client_cpu_s": sum(outcome["cpu_s"] for outcome in outcomes),
        "ids": [event_id for outcome in outcomes for event_id in outcome["ids"]],
        "failures": [failure for outcome in outcomes for failure in outcome["failures"]],
    }


# Synchronous events.


def measure_synchronous(arguments, ports, measured) -> list[dict]:
    """Each contender at each concurrency, alternated: contenders rotate from round to round."""
    results = []
    contenders = [kind for kind in CONTENDERS if kind in ports]
    for round_number in range(arguments.rounds):
        for level in arguments.concurrency:
            turn = round_number % len(contenders)
            for kind in contenders[turn:] + contenders[:turn]:
                load = run_load(
                    kind,
                    ports[kind],
                    level,
                    arguments.max_events,
                    arguments.seconds,
                    arguments.warmup,
                    arguments.client_processes,
                    arguments.workflow,
                    measured,
                )
                events = load["events"]
                cpu = {name: seconds * 1000 / events for name, seconds in load["cpu_s"].items()}
                results.append(
                    {
                        "contender": kind,
                        "concurrency": level,
                        "round": round_number + 1,
                        "events": events,
                        "events_per_s": load["events_per_s"],
                        "p50_ms": load["p50_ms"],
                        "p99_ms": load["p99_ms"],
                        "cpu_ms_per_event": cpu,
                        "client_cpu_ms_per_event": load["client_cpu_s"] * 1000 / events,
                        "failed": len(load["failures"]),
                        "first_failure": load["failures"][0] if load["failures"] else None,
                    }
                )
                print(
                    f"  round {round_number + 1} {kind:<15} c={level:<3} {events:>5} events "
                    f"{load['events_per_s']:>7.1f}/s p50 {load['p50_ms']:.2f} ms",
                    file=sys.stderr,
                    flush=True,
                )
    return results


def medians(results: list[dict]) -> list[dict]:
    """The median over rounds of every figure, per contender and concurrency."""
    grouped = defaultdict(list)
    for result in results:
        grouped[result["contender"], result["concurrency"]].append(result)
    rows = []
    for (kind, level), group in grouped.items():
        names = group[0]["cpu_ms_per_event"]
        rows.append(
            {
                "contender": kind,
                "concurrency": level,
                "rounds": len(group),
                "events": sum(result["events"] for result in group),
                "failed": sum(result["failed"] for result in group),
                **{
                    key: statistics.median(result[key] for result in group)
                    for key in ("events_per_s", "p50_ms", "p99_ms", "client_cpu_ms_per_event")
                },
                "cpu_ms_per_event": {
                    name: statistics.median(r["cpu_ms_per_event"][name] for r in group)
                    for name in names
                },
            }
        )
    order = {kind: index for index, kind in enumerate(CONTENDERS)}
    return sorted(rows, key=lambda row: (row["concurrency"], order[row["contender"]]))


# Asynchronous events.


def _get_json(port: int, path: str, timeout: float = TIMEOUT) -> dict:
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Accept": "application/json"})
        response = connection.getresponse()
        body = json.loads(response.read())
        if response.status != 200:
            raise RuntimeError(f"GET {path} answered HTTP {response.status}: {body}")
        return body
    finally:
        connection.close()


def _moment(text: str | None) -> float | None:
    return None if text is None else datetime.fromisoformat(text).timestamp()


def _timings(event: dict) -> dict:
    """When the event was acked, first called a service, and ended (seconds since the epoch)."""
    steps = event.get("steps") or []
    first_call = _moment(steps[0].get("started_at")) if steps else None
    return {
        "status": event["status"],
        "acked": _moment(event["acked_at"]),
        "first_call": first_call,
        "finished": _moment(event.get("finished_at")),
    }


def _wait_for(port: int, event_ids: list[str], wait_s: int = 30) -> list[dict]:
    """Each event once it has ended (GET /e/<id>?wait=...), bounded by `wait_s` each."""
    return [
        _get_json(port, f"/e/{event_id}?wait={wait_s}", wait_s + TIMEOUT) for event_id in event_ids
    ]


def start_workers(children, log_dir, machinery, count, concurrency) -> list:
    """`count` worker processes on the embedded store of the API (MONGO_URI from its state)."""
    env = clean_environment(
        MONGO_URI=machinery.store_uri,
        MACHINERY_DATA_DIR=str(machinery.data_dir),
        LOG_LEVEL="info",
    )
    command = [str(BIN / "machinery-cli"), "worker", "--concurrency", str(concurrency)]
    workers = [children.start(f"worker-{count}-{n}", command, env, log_dir) for n in range(count)]
    for worker in workers:
        try:
            worker.wait_until(lambda w=worker: " running " in w.log_tail(), timeout=15)
        except RuntimeError:
            if worker.popen.poll() is not None:
                raise
            # Its log says nothing known yet: the warm-up event shows whether workers run.
    return workers


def measure_asynchronous(arguments, children, log_dir, machinery, measured) -> list[dict]:
    """For each number of worker processes: submit events asynchronously from several threads,
    wait until they have ended, and read each one's times from GET /e/<id>."""
    results = []
    for count in arguments.async_workers:
        workers = start_workers(children, log_dir, machinery, count, arguments.worker_concurrency)
        try:
            worker_pids = frozenset().union(*(process_tree(worker.pid) for worker in workers))
            sets = {**measured, "workers": worker_pids}
            warm_up = _wait_for(machinery.port, _submit(machinery.port, 1, arguments.workflow))
            if warm_up[0]["status"] != "succeeded":
                raise RuntimeError(f"the workers did not run an event: {warm_up[0]}")
            load = run_load(
                "machinery-async",
                [machinery.port],
                arguments.async_submitters,
                arguments.async_events,
                MAX_SECONDS_PER_MEASUREMENT,
                0,
                arguments.client_processes,
                arguments.workflow,
                sets,
            )
            ids = load["ids"]
            # Workers claim the oldest first: once the last few submitted have ended, the others
            # have too, or nearly (those still running then are counted in `in_flight`).
            tail = count * arguments.worker_concurrency + 4
            _wait_for(machinery.port, ids[-tail:])
            after = {name: cpu_seconds(pids) for name, pids in sets.items()}
            read_at = time.time()
            events = [_timings(event) for event in _wait_for(machinery.port, ids)]
            memory = memory_mb(worker_pids)
        finally:
            for worker in workers:
                children.stop(worker)
        cpu = {name: after[name] - load["cpu_before"][name] for name in sets}
        results.append(_async_result(count, arguments, events, load, cpu, read_at, memory))
        print(
            f"  async, {count} worker process(es): {results[-1]['events_per_s']:.1f} events/s",
            file=sys.stderr,
            flush=True,
        )
    return results


def _async_result(count, arguments, events, load, cpu, read_at, memory) -> dict:
    ended = [event for event in events if event["finished"] is not None]
    pickups = sorted(e["first_call"] - e["acked"] for e in events if e["first_call"] is not None)
    total = sorted(event["finished"] - event["acked"] for event in ended)
    span = max(e["finished"] for e in ended) - min(e["acked"] for e in events) if ended else 0
    return {
        "workers": count,
        "threads_per_worker": arguments.worker_concurrency,
        "events": len(events),
        "statuses": dict(Counter(event["status"] for event in events)),
        "events_per_s": len(events) / span if span > 0 else float("nan"),
        "submitted_per_s": load["events_per_s"],
        "submit_failed": len(load["failures"]),
        "pickup_p50_ms": percentile(pickups, 0.5) * 1000,
        "pickup_p99_ms": percentile(pickups, 0.99) * 1000,
        "end_to_end_p50_ms": percentile(total, 0.5) * 1000,
        "cpu_ms_per_event": {name: seconds * 1000 / len(events) for name, seconds in cpu.items()},
        "in_flight": sum(1 for event in ended if event["finished"] > read_at),
        "workers_peak_rss_mb": memory["peak_rss_mb"],
        "workers_pss_mb": memory["pss_mb"],
    }


def _submit(port: int, count: int, workflow: str) -> list[str]:
    connection = http.client.HTTPConnection(HOST, port, timeout=TIMEOUT)
    try:
        ids = []
        for _ in range(count):
            status, event = _post(connection, f"/e/{workflow}", DATA, ASYNC_HEADERS)
            if status != 202:
                raise RuntimeError(f"Machinery answered HTTP {status}: {event}")
            ids.append(event["event_id"])
        return ids
    finally:
        connection.close()


def measure_idle_pickup(arguments, children, log_dir, machinery) -> dict:
    """One worker, idle between events: the pick-up latency as a lone event sees it."""
    workers = start_workers(children, log_dir, machinery, 1, arguments.worker_concurrency)
    try:
        pickups = []
        for _ in range(arguments.idle_events):
            time.sleep(arguments.idle_gap)
            event = _timings(
                _wait_for(machinery.port, _submit(machinery.port, 1, arguments.workflow))[0]
            )
            if event["first_call"] is not None:
                pickups.append(event["first_call"] - event["acked"])
    finally:
        for worker in workers:
            children.stop(worker)
    pickups.sort()
    return {
        "events": len(pickups),
        "gap_s": arguments.idle_gap,
        "p50_ms": percentile(pickups, 0.5) * 1000,
        "max_ms": (pickups[-1] if pickups else float("nan")) * 1000,
    }


# Where Machinery's CPU goes: py-spy samples the gunicorn master and its workers, and the store.


def profile(arguments, ports, children, log_dir, machinery, measured) -> dict:
    """Sample Machinery's processes and the store for `--profile` seconds of steady synchronous
    load at concurrency 8; summarise the samples by function and by package."""
    py_spy = shutil.which("py-spy", path=str(BIN)) or shutil.which("py-spy")
    if py_spy is None:
        return {"skipped": "py-spy is not installed: pip install py-spy"}
    seconds = arguments.profile
    targets = {"machinery": machinery.child.pid, "store": machinery.store_pid}
    spies = {}
    for name, pid in targets.items():
        output = arguments.profile_dir / f"{name}.txt"
        command = [py_spy, "record", "--nonblocking", "--gil", "--full-filenames", "--nolineno"]
        command += ["--format", "raw", "--rate", "100", "--duration", str(seconds)]
        command += ["--subprocesses", "--pid", str(pid), "--output", str(output)]
        spies[name] = (
            children.start(f"py-spy-{name}", command, os.environ.copy(), log_dir),
            output,
        )
    time.sleep(1.0)  # py-spy attaches
    load = run_load(
        f"machinery-{arguments.profile_durability}",
        ports["machinery-step"],
        8,
        MAX_EVENTS_PER_MEASUREMENT,
        seconds + 1,
        2,
        arguments.client_processes,
        arguments.workflow,
        measured,
    )
    summaries = {}
    for name, (spy, output) in spies.items():
        try:
            spy.popen.wait(seconds + 30)
        except subprocess.TimeoutExpired:
            pass
        children.stop(spy)
        if not output.exists():
            summaries[name] = {"skipped": f"py-spy wrote nothing:\n{spy.log_tail()}"}
            continue
        exclude = machinery.store_pids() if name == "machinery" else frozenset()
        summaries[name] = summarise_samples(output.read_text(), exclude)
        summaries[name]["file"] = str(output)
    summaries["load"] = {
        "events_per_s": load["events_per_s"],
        "cpu_ms_per_event": {k: v * 1000 / load["events"] for k, v in load["cpu_s"].items()},
    }
    return summaries


def _frame_place(frame: str) -> tuple[str, str]:
    """(function, where) of a raw py-spy frame "function (path)"; where is a package name,
    machinery/<module>, or stdlib:<module>."""
    function, _, path = frame.rpartition(" (")
    path = path.rstrip(")")
    if not function:
        return frame, "?"
    if "site-packages/" in path:
        package = path.split("site-packages/", 1)[1].split("/", 1)[0]
        return function, package.removesuffix(".py")
    if path.startswith(str(ROOT / "machinery")):
        return function, "machinery/" + Path(path).relative_to(ROOT / "machinery").as_posix()
    if "/lib/python3" in path:
        module = path.split("/lib/python3", 1)[1].split("/", 2)[1]
        return function, "stdlib:" + module.removesuffix(".py")
    return function, path


# What a sample of Machinery's processes was doing: the first of these met from the innermost
# frame outwards decides (a place is a package, machinery/<module> or stdlib:<module>).
PHASES = (
    ("store client (pymongo, bson, tenacity)", ("machinery/store/", "pymongo", "bson", "tenacity")),
    ("service calls (urllib3, http.client)", ("machinery/engine/http.py",)),
    ("logging", ("stdlib:logging", "machinery/logs.py")),
    (
        "engine and orchestration (Machinery's own)",
        (
            "machinery/orchestrator.py",
            "machinery/engine/",
            "machinery/catalog.py",
            "machinery/contracts.py",
            "machinery/language/",
            "machinery/leases.py",
            "machinery/runtime.py",
            "machinery/states.py",
        ),
    ),
    (
        "web stack (Flask, werkzeug, webargs, marshmallow, flask-smorest)",
        ("machinery/", "flask", "werkzeug", "webargs", "marshmallow", "apispec", "flask_smorest"),
    ),
    ("gunicorn (connections, HTTP parsing, workers)", ("gunicorn",)),
)


def phase_of(frames: list[tuple[str, str]]) -> str:
    for _, place in reversed(frames):
        for phase, prefixes in PHASES:
            if place.startswith(prefixes):
                return phase
    return "other (threads, selectors, interpreter)"


def summarise_samples(raw: str, exclude: frozenset[int] = frozenset(), top: int = 15) -> dict:
    """Shares of the samples: each function's own (self) share, each package's own share and the
    share of samples in which a package appears anywhere on the stack (inclusive). Samples of
    the processes in `exclude` are left out (the store, a child of gunicorn's master)."""
    own_functions, own_places, inclusive = Counter(), Counter(), Counter()
    machinery_inclusive, phases = Counter(), Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        raw_frames = stack.split(";")
        pids = {int(f[8:].split(":", 1)[0]) for f in raw_frames if f.startswith("process ")}
        if pids & exclude:
            continue
        frames = [_frame_place(frame) for frame in raw_frames if not frame.startswith("process ")]
        frames = [frame for frame in frames if frame[1] != "?"] or frames
        if not frames:
            continue
        total += samples
        phases[phase_of(frames)] += samples
        function, place = frames[-1]
        own_functions[f"{function} ({place})"] += samples
        top_place = place.split("/")[0] if place.startswith("machinery/") else place
        own_places[top_place] += samples
        for seen in {p.split("/")[0] if p.startswith("machinery/") else p for _, p in frames}:
            inclusive[seen] += samples
        for seen in {f"{f} ({p})" for f, p in frames if p.startswith("machinery/")}:
            machinery_inclusive[seen] += samples

    def shares(counter: Counter) -> list[tuple[str, float]]:
        return [(name, 100 * n / total) for name, n in counter.most_common(top)]

    return {
        "samples": total,
        "by_phase": shares(phases),
        "self_by_function": shares(own_functions),
        "self_by_package": shares(own_places),
        "inclusive_by_package": shares(inclusive),
        "inclusive_machinery_functions": shares(machinery_inclusive),
    }


# The report.


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else float("nan")


def targets(rows: list[dict], memory: dict, round_trips: dict) -> list[str]:
    """The issue's targets, each with what this run measured (ratios from the same run)."""
    by = {(row["contender"], row["concurrency"]): row for row in rows}
    levels = sorted({row["concurrency"] for row in rows})
    node_red = any(kind == "node-red" for kind, _ in by)
    lines = []
    for level in levels:
        for kind, target in CPU_TARGET.items():
            cpu = by[kind, level]["cpu_ms_per_event"]
            own, store = cpu["machinery"], cpu["store"]
            line = f"c={level}: {NAMES[kind]}: CPU/event {own:.2f} ms (store apart: {store:.2f} ms)"
            if node_red:
                floor = by["node-red", level]["cpu_ms_per_event"]["node-red"]
                ratio = _ratio(own, floor)
                line += (
                    f" = {ratio:.2f} x Node-RED's {floor:.2f} ms (target <= {target:g}: "
                    f"{_verdict(ratio <= target)}); with the store: "
                    f"{_ratio(own + store, floor):.2f} x"
                )
            lines.append(line)
    for level in levels:
        if level >= 8 and node_red:
            floor = by["node-red", level]["events_per_s"]
            for kind in CPU_TARGET:
                ratio = _ratio(by[kind, level]["events_per_s"], floor)
                lines.append(
                    f"c={level}: {NAMES[kind]}: events/s = {ratio:.2f} x Node-RED's "
                    f"{floor:.0f}/s (target >= 1: {_verdict(ratio >= 1)})"
                )
    if 1 in levels:
        for kind in CPU_TARGET:
            ratio = _ratio(by[kind, 1]["p50_ms"], by["direct", 1]["p50_ms"])
            lines.append(
                f"c=1: {NAMES[kind]}: median latency = {ratio:.2f} x the direct-call limit's "
                f"(target <= {LATENCY_TARGET:g}: {_verdict(ratio <= LATENCY_TARGET)})"
            )
    line = (
        f"memory of Machinery's {memory['processes']} processes (gunicorn master + "
        f"{memory['processes'] - 1} workers): peak RSS {memory['peak_rss_mb']:.0f} MB, "
        f"PSS {memory['pss_mb']:.0f} MB"
    )
    if "node-red" in memory:
        theirs = memory["node-red"]["peak_rss_mb"]
        line += (
            f"; Node-RED: peak RSS {theirs:.0f} MB (target: below it: "
            f"{_verdict(memory['peak_rss_mb'] < theirs)})"
        )
    lines.append(line)
    for mode in ("step", "event"):
        trips = round_trips[f"synchronous_{mode}"]["per_event"]
        lines.append(f'store round trips per synchronous event, durability "{mode}": {trips:g}')
    return lines


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}" if value < 1 else f"{value:.2f}"


def _verdict(met: bool) -> str:
    return "met" if met else "not met"


def format_report(report: dict) -> str:
    lines = [machine_line(report["machine"]), report["setup"], ""]
    trips = report["round_trips"]
    lines.append(
        f"Store round trips per event, counted with pymongo command monitoring over "
        f"{trips['events']} events (the first event of a process: "
        f"{trips['synchronous_step']['first_event']}):"
    )
    for title, key in (
        ('synchronous, durability "step"', "synchronous_step"),
        ('synchronous, durability "event"', "synchronous_event"),
        ("asynchronous, accepting (API)", "asynchronous_accept"),
        ("asynchronous, running (worker)", "asynchronous_run"),
    ):
        part = trips[key]
        commands = ", ".join(f"{name} x{count:g}" for name, count in part["by_command"].items())
        lines.append(f"  {title}: {part['per_event']:g}  ({commands})")
    lines.append(
        f"  an empty worker poll: {trips['empty_poll']}; from other threads (leases): "
        f"{trips['other_threads']}"
    )
    lines += ["", "Synchronous events (median of the rounds; CPU in ms per event):"]
    # Each contender's own CPU: Machinery's processes, Node-RED's or the minimal endpoint's.
    own = {"machinery-step": "machinery", "machinery-event": "machinery"}
    header = (
        f"{'contender':<16}{'conc':>5}{'events/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'own CPU':>9}{'store':>8}{'services':>10}{'client':>8}{'failed':>8}"
    )
    lines += [header, "-" * len(header)]
    for row in report["synchronous"]:
        cpu = row["cpu_ms_per_event"]
        kind = row["contender"]
        mine = cpu.get(own.get(kind, kind))
        store = cpu["store"] if kind in own else None
        lines.append(
            f"{NAMES[kind]:<16}{row['concurrency']:>5}{row['events_per_s']:>10.1f}"
            f"{row['p50_ms']:>9.2f}{row['p99_ms']:>9.2f}{_ms(mine):>9}{_ms(store):>8}"
            f"{cpu['services']:>10.2f}{row['client_cpu_ms_per_event']:>8.2f}{row['failed']:>8}"
        )
    for result in report["synchronous_rounds"]:
        if result["failed"]:
            lines.append(
                f"  {result['contender']} c={result['concurrency']} round {result['round']}: "
                f"{result['failed']} event(s) failed, not timed; the first: "
                f"{result['first_failure'][:300]}"
            )
    memory = report["memory"]
    lines += ["", "Against the targets (same run):"]
    lines += ["  " + line for line in targets(report["synchronous"], memory, trips)]
    lines.append(f"  the store's memory: peak RSS {report['store_memory']['peak_rss_mb']:.0f} MB")
    if report["asynchronous"]:
        lines += ["", "Asynchronous events (CPU in ms per event, submission included):"]
        header = (
            f"{'workers':>8}{'threads':>8}{'events':>7}{'events/s':>10}{'pick-up p50':>12}"
            f"{'p99':>8}{'end p50':>9}{'API':>7}{'workers':>8}{'store':>7}{'worker RSS':>11}"
        )
        lines += [header, "-" * len(header)]
        for row in report["asynchronous"]:
            cpu = row["cpu_ms_per_event"]
            lines.append(
                f"{row['workers']:>8}{row['threads_per_worker']:>8}{row['events']:>7}"
                f"{row['events_per_s']:>10.1f}{row['pickup_p50_ms']:>12.1f}"
                f"{row['pickup_p99_ms']:>8.1f}{row['end_to_end_p50_ms']:>9.1f}"
                f"{cpu['machinery']:>7.2f}{cpu['workers']:>8.2f}{cpu['store']:>7.2f}"
                f"{row['workers_peak_rss_mb']:>9.0f}MB"
            )
        lines.append(
            "  (pick-up: from acked_at to the first step's started_at; end: to finished_at)"
        )
        for row in report["asynchronous"]:
            if (
                row["statuses"] != {"succeeded": row["events"]}
                or row["in_flight"]
                or row["submit_failed"]
            ):
                lines.append(
                    f"  {row['workers']} worker(s): {row['statuses']}, {row['in_flight']} "
                    f"in flight at the CPU reading, {row['submit_failed']} submissions failed"
                )
    idle = report.get("idle_pickup")
    if idle and idle["events"]:
        lines.append(
            f"  idle pick-up (1 worker, {idle['gap_s']:g} s between events, {idle['events']} "
            f"events): p50 {idle['p50_ms']:.1f} ms, max {idle['max_ms']:.1f} ms"
        )
    for name, summary in (report.get("profile") or {}).items():
        if name == "load":
            continue
        lines += ["", f"Profile of {name} ({summary.get('samples', 0)} samples):"]
        if "skipped" in summary:
            lines.append(f"  {summary['skipped']}")
            continue
        for title, key in (
            ("what it was doing (the innermost known layer)", "by_phase"),
            ("own time by package", "self_by_package"),
            ("anywhere on the stack, by package", "inclusive_by_package"),
            ("own time by function", "self_by_function"),
            ("Machinery's functions, anywhere on the stack", "inclusive_machinery_functions"),
        ):
            lines.append(f"  {title}:")
            lines += [f"    {share:5.1f} %  {what}" for what, share in summary[key][:12]]
    return "\n".join(lines)


# The run.


def run(arguments) -> dict:
    machine = describe_machine()  # before the run's own load
    with (
        scratch_directory(arguments.keep_logs, "machinery-event-path-") as scratch,
        Children() as children,
    ):
        log_dir = Path(scratch)
        arguments.profile_dir = arguments.profile_dir or log_dir
        services = start_services(children, log_dir, threads=32)
        minimal_port = free_port()
        minimal = children.start(
            "minimal",
            [
                sys.executable,
                str(ROOT / "benchmarks" / "minimal_endpoint.py"),
                "--port",
                str(minimal_port),
            ],
            clean_environment(),
            log_dir,
        )
        minimal.wait_until(lambda: answers_healthcheck(minimal_port))
        node_red = None
        if arguments.node_red:
            print("Starting Node-RED (installed with npm on first use)", file=sys.stderr)
            node_red = start_node_red(children, log_dir, list(services.values()))
        settings = {}
        if arguments.web_concurrency:
            settings["WEB_CONCURRENCY"] = str(arguments.web_concurrency)
        if arguments.threads:
            settings["GUNICORN_THREADS"] = str(arguments.threads)
        machinery = Machinery(children, log_dir, log_dir / "data", settings)
        machinery.apply(services, DEFINITIONS + arguments.definitions)
        print(f"Started everything; logs in {log_dir}", file=sys.stderr, flush=True)

        from store_commands import count_event_commands

        round_trips = count_event_commands(
            machinery.store_uri,
            str(machinery.data_dir),
            arguments.workflow,
            DATA,
            EXPECTED,
            events=arguments.round_trip_events,
        )
        print(
            "Store round trips per synchronous event: "
            f"{round_trips['synchronous_step']['per_event']:g} (durability step), "
            f"{round_trips['synchronous_event']['per_event']:g} (event)",
            file=sys.stderr,
            flush=True,
        )
        api_pids = machinery.api_pids()
        measured = {
            "machinery": api_pids,
            "store": machinery.store_pids(),
            "services": frozenset().union(*(process_tree(s.child.pid) for s in services.values())),
            "minimal": process_tree(minimal.pid),
        }
        ports = {
            "direct": [service.port for service in services.values()],
            "minimal": [minimal_port],
            "machinery-step": [machinery.port],
            "machinery-event": [machinery.port],
        }
        if node_red is not None:
            measured["node-red"] = process_tree(node_red[0].pid)
            ports["node-red"] = [node_red[1]]
        results = measure_synchronous(arguments, ports, measured)
        if machinery.api_pids() != api_pids:
            raise RuntimeError("Machinery's processes changed during the run (a worker restarted)")
        memory = {"processes": len(api_pids), **memory_mb(api_pids)}
        if node_red is not None:
            memory["node-red"] = memory_mb(measured["node-red"])
        store_memory = memory_mb(measured["store"])
        profiled = None
        if arguments.profile:
            profiled = profile(arguments, ports, children, log_dir, machinery, measured)
        asynchronous = measure_asynchronous(arguments, children, log_dir, machinery, measured)
        idle = None
        if arguments.idle_events:
            idle = measure_idle_pickup(arguments, children, log_dir, machinery)
        workers = memory["processes"] - 1
    return {
        "machine": machine,
        "setup": (
            f"gunicorn.conf.py with {workers} workers of "
            f"{arguments.threads or 'the default number of'} threads, the embedded store; "
            f"{arguments.rounds} round(s) of up to {arguments.seconds:g} s or "
            f"{arguments.max_events} events per contender and concurrency, after "
            f"{arguments.warmup} warm-up event(s) per client thread; client threads over up to "
            f"{arguments.client_processes} processes"
        ),
        "round_trips": round_trips,
        "synchronous_rounds": results,
        "synchronous": medians(results),
        "memory": memory,
        "store_memory": store_memory,
        "asynchronous": asynchronous,
        "idle_pickup": idle,
        "profile": profiled,
    }


def _numbers(text: str) -> list[int]:
    return [int(part) for part in text.split(",")]


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny counts: seconds, for CI")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every measurement")
    parser.add_argument("--seconds", type=float, default=3.0, help="longest measured part")
    parser.add_argument("--max-events", type=int, default=5000, help="most measured events")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up events per thread")
    parser.add_argument("--concurrency", type=_numbers, default=[1, 8, 32])
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument(
        "--web-concurrency", type=int, help="gunicorn workers (default: the conf's)"
    )
    parser.add_argument("--threads", type=int, help="threads per worker (default: the conf's)")
    parser.add_argument(
        "--node-red",
        action=argparse.BooleanOptionalAction,
        help="run Node-RED as a contender (default: in full runs, not with --smoke)",
    )
    parser.add_argument("--workflow", default=WORKFLOW, help="the workflow events are sent to")
    parser.add_argument(
        "--definition",
        dest="definitions",
        action="append",
        default=[],
        help="another definition file to register (e.g. a variant of process-text)",
    )
    parser.add_argument("--round-trip-events", type=int, default=20)
    parser.add_argument("--async-workers", type=_numbers, default=[1, 2, 4])
    parser.add_argument("--worker-concurrency", type=int, default=4)
    parser.add_argument("--async-events", type=int, default=400)
    parser.add_argument("--async-submitters", type=int, default=8)
    parser.add_argument("--idle-events", type=int, default=5)
    parser.add_argument("--idle-gap", type=float, default=1.0)
    parser.add_argument("--profile", type=int, default=0, help="seconds of sampling with py-spy")
    parser.add_argument("--profile-durability", choices=("step", "event"), default="step")
    parser.add_argument("--profile-dir", type=Path, help="where py-spy's raw samples are kept")
    parser.add_argument(
        "--keep-logs", type=Path, help="keep the processes' logs and data under this folder"
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--save", type=Path, help="also write the results as JSON to this file")
    arguments = parser.parse_args(argv)
    if arguments.smoke:
        arguments.rounds, arguments.seconds, arguments.max_events = 1, 0.5, 40
        arguments.warmup, arguments.round_trip_events = 1, 5
        arguments.async_events, arguments.async_workers, arguments.idle_events = 16, [1], 0
        arguments.profile = 0
    if arguments.node_red is None:
        arguments.node_red = not arguments.smoke
    if not all(1 <= level <= MAX_CONCURRENCY for level in arguments.concurrency):
        parser.error(f"each --concurrency must be from 1 to {MAX_CONCURRENCY}")
    if not 0 < arguments.seconds <= MAX_SECONDS_PER_MEASUREMENT:
        parser.error(f"--seconds must be above 0 and at most {MAX_SECONDS_PER_MEASUREMENT:g}")
    if not max(arguments.concurrency) <= arguments.max_events <= MAX_EVENTS_PER_MEASUREMENT:
        parser.error(
            f"--max-events must be from the highest concurrency to {MAX_EVENTS_PER_MEASUREMENT}"
        )
    if not 1 <= arguments.async_events <= MAX_EVENTS_PER_MEASUREMENT:
        parser.error("--async-events out of range")
    if not 0 <= arguments.profile <= MAX_SECONDS_PER_MEASUREMENT:
        parser.error(f"--profile must be at most {MAX_SECONDS_PER_MEASUREMENT:g} seconds")
    if arguments.profile_dir:
        arguments.profile_dir.mkdir(parents=True, exist_ok=True)
    return arguments


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    stop_on_sigterm()
    started = time.monotonic()
    report = run(arguments)
    report["seconds"] = time.monotonic() - started
    report["load_average_after"] = [round(load, 2) for load in os.getloadavg()]
    if arguments.save:
        arguments.save.write_text(json.dumps(report, indent=2, default=str))
    print(json.dumps(report, indent=2, default=str) if arguments.json else format_report(report))
    print(f"(the run took {report['seconds']:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
