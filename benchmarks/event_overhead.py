"""Benchmark what Machinery adds to calling the example services directly: latency and CPU."""

import argparse
import http.client
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

import gunicorn
import pymongo

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
WORKFLOW = "process-text"
DATA = {"message": "The Sun will rise in the morning !"}
EXPECTED = {"message": "! GNINROM EHT NI ESIR LLIW NUS EHT", "space_count": 7}
# The example services in the workflow's order, with the variable its definition reads.
SERVICES = (
    ("upper", "UPPER_URL"),
    ("reverse", "REVERSE_URL"),
    ("space_counter", "SPACE_COUNTER_URL"),
)
DEFINITIONS = [
    "examples/definitions/service-upper.json",
    "examples/definitions/service-reverse.json",
    "examples/definitions/service-space-counter.json",
    "examples/definitions/workflow-process-text.json",
]
HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
TIMEOUT = 30.0
START_SECONDS = 60.0
STOP_SECONDS = 20.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MODES = ("direct", "machinery")


# The processes measured, each started on a free loopback port and always stopped.


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def clean_environment(**settings: str) -> dict:
    """This process's environment without the settings of Machinery, gunicorn and MongoDB
    (keys or a MONGO_URI set in the shell would change what is measured), plus `settings`."""
    own = ("MACHINERY_", "MONGO_", "GUNICORN_", "WEB_CONCURRENCY")
    kept = {name: value for name, value in os.environ.items() if not name.startswith(own)}
    return {**kept, "NO_PROXY": HOST, "no_proxy": HOST, **settings}


class Child:
    """A child process whose errors go to a log file; stopped with SIGTERM, then SIGKILL."""

    def __init__(self, name: str, command: list[str], env: dict, log_dir: Path):
        self.name = name
        self.log = log_dir / f"{name}.log"
        self._output = open(self.log, "ab")  # noqa: SIM115 - closed in stop()
        # gunicorn writes its access log to stdout: dropped, only errors are kept.
        self.popen = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._output,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def wait_until(self, ready: Callable[[], bool], timeout: float = START_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.log_tail()}")
            try:
                if ready():
                    return
            except OSError:
                pass  # not listening yet
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} not ready in {timeout:g} s:\n{self.log_tail()}")
            time.sleep(0.1)

    def log_tail(self) -> str:
        self._output.flush()
        return self.log.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._output.close()


def answers_healthcheck(port: int) -> bool:
    connection = http.client.HTTPConnection(HOST, port, timeout=1)
    try:
        connection.request("GET", "/healthcheck")
        return connection.getresponse().status < 500
    finally:
        connection.close()


def start_store(log_dir: Path, data_dir: Path) -> tuple[Child, str]:
    """nx-27017, the MongoDB wire-protocol server, with its data in data_dir."""
    port = free_port()
    command = [sys.executable, "-m", "nx_27017.nx_27017", "--data-dir", str(data_dir)]
    command += ["--host", HOST, "--port", str(port), "--log-file", str(log_dir / "nx.log")]
    command += ["--pid-file", str(log_dir / "nx.pid")]
    child = Child("nx-27017", command, clean_environment(), log_dir)

    def listening() -> bool:
        with socket.create_connection((HOST, port), timeout=1):
            return True

    child.wait_until(listening)
    return child, f"mongodb://{HOST}:{port}"


def start_service(folder: str, log_dir: Path) -> tuple[Child, int]:
    """An example service under gunicorn: one worker, eight threads, no access log."""
    port = free_port()
    # --chdir before the config file is looked for: the root's gunicorn.conf.py is not read.
    command = [str(BIN / "gunicorn"), "--chdir", f"examples/services/{folder}"]
    command += ["-b", f"{HOST}:{port}", "-w", "1", "--threads", "8", "-k", "gthread", "app:app"]
    child = Child(folder, command, clean_environment(), log_dir)
    child.wait_until(lambda: answers_healthcheck(port))
    return child, port


def start_machinery(log_dir: Path, mongo_uri: str) -> tuple[Child, int]:
    """Machinery under gunicorn with the repository's gunicorn.conf.py, as in production."""
    port = free_port()
    env = clean_environment(
        MONGO_URI=mongo_uri,
        MONGO_DB="machinery_benchmark",
        HOST=HOST,
        PORT=str(port),
        WEB_CONCURRENCY="2",
        LOG_LEVEL="warning",
    )
    child = Child("machinery", [str(BIN / "gunicorn"), "machinery:create_app()"], env, log_dir)
    child.wait_until(lambda: answers_healthcheck(port))
    return child, port


def register_examples(machinery_port: int, service_ports: list[int]) -> None:
    urls = {
        variable: f"http://{HOST}:{port}"
        for (_, variable), port in zip(SERVICES, service_ports, strict=True)
    }
    command = [str(BIN / "machinery-cli"), "apply", "--url", f"http://{HOST}:{machinery_port}"]
    done = subprocess.run(
        command + DEFINITIONS,
        cwd=ROOT,
        env=clean_environment(**urls),
        capture_output=True,
        text=True,
        timeout=START_SECONDS,
    )
    if done.returncode != 0:
        raise RuntimeError(f"machinery-cli apply failed:\n{done.stdout}{done.stderr}")


# CPU time of process trees, from /proc.


def _process_table() -> dict[int, tuple[int, float]]:
    """Every process: pid -> (parent pid, user + system CPU seconds)."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue  # gone meanwhile
        # The command name, in parentheses, may hold spaces: the fields follow its last ")".
        fields = stat[stat.rindex(")") + 2 :].split()
        table[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS)
    return table


def tree_cpu(roots: dict[str, int]) -> dict[str, tuple[float, frozenset[int]]]:
    """For each named root pid: the CPU seconds of it and all its descendants, and their pids."""
    table = _process_table()
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    trees = {}
    for name, root in roots.items():
        pids, pending = set(), [root]
        while pending:
            pid = pending.pop()
            if pid in table and pid not in pids:
                pids.add(pid)
                pending.extend(children.get(pid, []))
        trees[name] = (sum(table[pid][1] for pid in pids), frozenset(pids))
    return trees


# The two clients: the same http.client connections, JSON encoding and checks for both.


def post_json(connection: http.client.HTTPConnection, path: str, payload: dict) -> tuple[int, dict]:
    connection.request("POST", path, json.dumps(payload).encode(), HEADERS)
    response = connection.getresponse()
    return response.status, json.loads(response.read())


class DirectClient:
    """Calls upper, reverse and space-counter in turn itself, threading the message."""

    def __init__(self, service_ports: list[int]):
        self._connections = [
            http.client.HTTPConnection(HOST, port, timeout=TIMEOUT) for port in service_ports
        ]
        for connection in self._connections:
            connection.connect()  # not in the first event's time, even with no warm-up

    def send(self) -> dict:
        data = dict(DATA)
        for connection in self._connections:
            status, answer = post_json(connection, "/event", data)
            if status != 200:
                raise RuntimeError(f"a service answered HTTP {status}: {answer}")
            data.update(answer)
        return {"message": data["message"], "space_count": data["space_count"]}

    def close(self) -> None:
        for connection in self._connections:
            connection.close()


class MachineryClient:
    """Sends the event to Machinery, which calls the three services and records it all."""

    def __init__(self, machinery_port: int):
        self._connection = http.client.HTTPConnection(HOST, machinery_port, timeout=TIMEOUT)
        self._connection.connect()  # not in the first event's time, even with no warm-up

    def send(self) -> dict:
        status, event = post_json(self._connection, f"/e/{WORKFLOW}", DATA)
        if status != 201 or event.get("status") != "succeeded":
            raise RuntimeError(f"Machinery answered HTTP {status}: {event}")
        return event["outputs"]

    def close(self) -> None:
        self._connection.close()


# Measuring.


@dataclass
class Result:
    mode: str
    concurrency: int
    events: int
    seconds: float
    events_per_s: float
    mean_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    # CPU per event, in ms, of each process tree over the measured events (warm-up excluded).
    cpu_ms_per_event: dict[str, float]


def _percentile(ordered: list[float], fraction: float) -> float:
    """The nearest-rank percentile of an ascending list."""
    return ordered[max(0, round(fraction * len(ordered)) - 1)]


def _shares(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if index < total % parts else 0) for index in range(parts)]


def measure(
    mode: str,
    make_client: Callable[[], DirectClient | MachineryClient],
    concurrency: int,
    events: int,
    warmup: int,
    processes: dict[str, int],
) -> Result:
    """Send warm-up then measured events from `concurrency` threads, each with its own client.

    Every thread finishes its warm-up before the measured part starts on all of them at once; the
    CPU of each process tree is read just before and just after the measured part.
    """
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors: list[BaseException] = []
    marks: dict[str, float] = {}
    cpu_before: dict = {}

    def start_measuring() -> None:  # run by the last thread to arrive, before any goes on
        cpu_before.update(tree_cpu(processes))
        marks["process"] = time.process_time()
        marks["wall"] = time.perf_counter()

    barrier = threading.Barrier(concurrency, action=start_measuring)

    def work(index: int, warmup_share: int, share: int) -> None:
        try:
            client = make_client()
        except BaseException as error:  # the others must not wait for this thread
            errors.append(error)
            barrier.abort()
            return
        try:
            for _ in range(warmup_share):
                check(client.send())
            barrier.wait()
            times = latencies[index]
            for _ in range(share):
                started = time.perf_counter()
                outputs = client.send()
                times.append(time.perf_counter() - started)
                check(outputs)
        except BaseException as error:  # reported by the main thread
            errors.append(error)
            barrier.abort()
        finally:
            client.close()

    threads = [
        threading.Thread(target=work, args=(index, warmup_share, share), daemon=True)
        for index, (warmup_share, share) in enumerate(
            zip(_shares(warmup, concurrency), _shares(events, concurrency), strict=True)
        )
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - marks.get("wall", 0.0)
    client_cpu = time.process_time() - marks.get("process", 0.0)
    cpu_after = tree_cpu(processes)
    if errors:
        # The first cause, not the threads stopped at the barrier because of it.
        causes = [error for error in errors if not isinstance(error, threading.BrokenBarrierError)]
        raise RuntimeError(f"{mode} at concurrency {concurrency} failed") from (causes or errors)[0]
    for name, (_, pids) in cpu_after.items():
        if pids != cpu_before[name][1]:
            raise RuntimeError(f"the processes of {name} changed during the measurement")
    cpu_ms = {
        name: (cpu_after[name][0] - cpu_before[name][0]) * 1000 / events for name in processes
    }
    cpu_ms["client"] = client_cpu * 1000 / events
    ordered = sorted(latency for times in latencies for latency in times)
    return Result(
        mode=mode,
        concurrency=concurrency,
        events=events,
        seconds=wall,
        events_per_s=events / wall,
        mean_ms=statistics.fmean(ordered) * 1000,
        p50_ms=_percentile(ordered, 0.50) * 1000,
        p95_ms=_percentile(ordered, 0.95) * 1000,
        p99_ms=_percentile(ordered, 0.99) * 1000,
        cpu_ms_per_event=cpu_ms,
    )


def check(outputs: dict) -> None:
    if outputs != EXPECTED:
        raise RuntimeError(f"expected the outputs {EXPECTED}, got {outputs}")


def count_stored(machinery_port: int) -> int:
    """How many events of the workflow Machinery has stored."""
    connection = http.client.HTTPConnection(HOST, machinery_port, timeout=TIMEOUT)
    try:
        connection.request("GET", f"/e?workflow={WORKFLOW}&page_size=1")
        return json.loads(connection.getresponse().read())["total"]
    finally:
        connection.close()


def overhead(direct: Result, machinery: Result, steps: int) -> dict:
    """What Machinery adds to one event, and to each of its steps, in ms."""
    return {
        "concurrency": direct.concurrency,
        "p50_ms": machinery.p50_ms - direct.p50_ms,
        "mean_ms": machinery.mean_ms - direct.mean_ms,
        "p50_ms_per_step": (machinery.p50_ms - direct.p50_ms) / steps,
        "mean_ms_per_step": (machinery.mean_ms - direct.mean_ms) / steps,
    }


def run(arguments: argparse.Namespace) -> dict:
    machine = describe_machine()  # before the load of the run itself
    children: list[Child] = []
    with tempfile.TemporaryDirectory(prefix="machinery-benchmark-") as scratch:
        log_dir = Path(scratch)
        (log_dir / "nx-data").mkdir()
        try:
            store, mongo_uri = start_store(log_dir, log_dir / "nx-data")
            children.append(store)
            processes = {"store": store.pid}
            service_ports = []
            for folder, _ in SERVICES:
                service, port = start_service(folder, log_dir)
                children.append(service)
                processes[folder] = service.pid
                service_ports.append(port)
            machinery, machinery_port = start_machinery(log_dir, mongo_uri)
            children.append(machinery)
            processes["machinery"] = machinery.pid
            register_examples(machinery_port, service_ports)
            makers = {
                "direct": lambda: DirectClient(service_ports),
                "machinery": lambda: MachineryClient(machinery_port),
            }
            results = [
                measure(mode, makers[mode], level, arguments.events, arguments.warmup, processes)
                for level in arguments.concurrency
                for mode in MODES
            ]
            stored = count_stored(machinery_port)
        finally:
            for child in reversed(children):
                child.stop()
    levels = len(arguments.concurrency)
    expected_stored = levels * (arguments.events + arguments.warmup)
    if stored != expected_stored:
        raise RuntimeError(f"Machinery stored {stored} events, not {expected_stored}")
    by_key = {(result.mode, result.concurrency): result for result in results}
    return {
        "machine": machine,
        "events": arguments.events,
        "warmup": arguments.warmup,
        "steps": len(SERVICES),
        "events_stored": stored,
        "results": [asdict(result) for result in results],
        "overhead": [
            overhead(by_key["direct", level], by_key["machinery", level], len(SERVICES))
            for level in arguments.concurrency
        ],
    }


def describe_machine() -> dict:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "gunicorn": gunicorn.__version__,
        "pymongo": pymongo.__version__,
        "nx-27017": metadata.version("nx-27017"),
        "load_average": os.getloadavg(),
    }


def format_report(report: dict) -> str:
    machine = report["machine"]
    lines = [
        f"Python {machine['python']} on {machine['platform']}, {machine['cpus_usable']} usable "
        f"CPUs, gunicorn {machine['gunicorn']}, pymongo {machine['pymongo']}, "
        f"nx-27017 {machine['nx-27017']}",
        f"{report['warmup']} warm-up + {report['events']} measured events per mode and "
        f"concurrency; {report['events_stored']} events stored by Machinery\n",
        f"{'mode':<10}{'conc':>5}{'events/s':>10}{'mean ms':>9}{'p50 ms':>8}{'p95 ms':>8}"
        f"{'p99 ms':>8}   CPU ms/event: machinery  store  services  client",
    ]
    for result in report["results"]:
        cpu = result["cpu_ms_per_event"]
        services = sum(cpu[folder] for folder, _ in SERVICES)
        lines.append(
            f"{result['mode']:<10}{result['concurrency']:>5}{result['events_per_s']:>10.1f}"
            f"{result['mean_ms']:>9.2f}{result['p50_ms']:>8.2f}{result['p95_ms']:>8.2f}"
            f"{result['p99_ms']:>8.2f}{'':>17}{cpu['machinery']:>9.2f}{cpu['store']:>7.2f}"
            f"{services:>10.2f}{cpu['client']:>8.2f}"
        )
    lines.append(f"\nMachinery's added latency ({report['steps']} steps per event):")
    for added in report["overhead"]:
        lines.append(
            f"  concurrency {added['concurrency']}: p50 +{added['p50_ms']:.2f} ms per event "
            f"({added['p50_ms_per_step']:.2f} per step), mean +{added['mean_ms']:.2f} ms per "
            f"event ({added['mean_ms_per_step']:.2f} per step)"
        )
    return "\n".join(lines)


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=300, help="measured events per run")
    parser.add_argument("--warmup", type=int, default=30, help="unmeasured events first")
    parser.add_argument(
        "--concurrency",
        default="1,4",
        help="comma-separated numbers of client threads, one run per mode for each",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    arguments = parser.parse_args(argv)
    try:
        arguments.concurrency = [int(level) for level in arguments.concurrency.split(",")]
    except ValueError:
        parser.error("--concurrency must be numbers separated by commas, e.g. 1,4")
    if not all(1 <= level <= 64 for level in arguments.concurrency):
        parser.error("each --concurrency must be between 1 and 64")
    if arguments.events < max(arguments.concurrency) or arguments.warmup < 0:
        parser.error("--events must be at least the highest concurrency, --warmup at least 0")
    return arguments


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    report = run(arguments)
    print(json.dumps(report, indent=2) if arguments.json else format_report(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
