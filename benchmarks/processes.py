"""The processes a benchmark starts on 127.0.0.1 and measures: each in its own process group, always
stopped; their CPU time and memory read from /proc.

Imports only the standard library, so that a client process started with `spawn` stays light.
"""

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
START_SECONDS = 60.0
STOP_SECONDS = 20.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# The example services in the order of the workflow process-text, with the variable their
# definitions read for their address.
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
    "examples/definitions/workflow-shout-and-count.json",
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def clean_environment(**settings: str) -> dict:
    """This process's environment without the settings of Machinery, gunicorn and MongoDB
    (keys or a MONGO_URI set in the shell would change what is measured), plus `settings`."""
    own = ("MACHINERY_", "MONGO_", "GUNICORN_", "WEB_CONCURRENCY", "LOG_LEVEL")
    kept = {name: value for name, value in os.environ.items() if not name.startswith(own)}
    return {**kept, "NO_PROXY": HOST, "no_proxy": HOST, **settings}


class Child:
    """A child process in a process group of its own, its standard error in a log file.

    stop() sends SIGTERM to the process, then SIGKILL to whatever is left of its group (a gunicorn
    master's workers, the embedded store it started).
    """

    def __init__(self, name: str, command: list[str], env: dict, log_dir: Path):
        self.name = name
        self.log = log_dir / f"{name}.log"
        self._output = open(self.log, "ab")  # noqa: SIM115 - closed in stop()
        # gunicorn writes its access log to the standard output: dropped (still formatted).
        self.popen = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._output,
            start_new_session=True,
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
                pass
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass  # the whole group is gone already
        if self.popen.poll() is None:
            self.popen.wait(STOP_SECONDS)
        self._output.close()


class Children:
    """The children of one run, stopped in the reverse order of their start, whatever happens."""

    def __init__(self) -> None:
        self._started: list[Child] = []

    def start(self, name: str, command: list[str], env: dict, log_dir: Path) -> Child:
        child = Child(name, command, env, log_dir)
        self._started.append(child)
        return child

    def stop(self, child: Child) -> None:
        child.stop()
        self._started.remove(child)

    def __enter__(self) -> "Children":
        return self

    def __exit__(self, *exc) -> None:
        while self._started:
            self._started.pop().stop()


@contextlib.contextmanager
def scratch_directory(keep_under: Path | None, prefix: str):
    """A new folder for a run's logs and data: removed afterwards, unless kept under a folder."""
    if keep_under is None:
        with tempfile.TemporaryDirectory(prefix=prefix) as scratch:
            yield scratch
        return
    keep_under.mkdir(parents=True, exist_ok=True)
    scratch = tempfile.mkdtemp(prefix=prefix, dir=keep_under)
    print(f"Logs and data kept in {scratch}", file=sys.stderr)
    yield scratch


def stop_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so that `finally` and `with` stop every child."""

    def leave(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, leave)


def answers_healthcheck(port: int) -> bool:
    connection = http.client.HTTPConnection(HOST, port, timeout=1)
    try:
        connection.request("GET", "/healthcheck")
        return connection.getresponse().status < 500
    finally:
        connection.close()


def start_service(
    children: Children, folder: str, log_dir: Path, threads: int
) -> tuple[Child, int]:
    """An example service under gunicorn: one gthread worker, no access log."""
    port = free_port()
    # --chdir before the config file is looked for: the root's gunicorn.conf.py is not read.
    command = [str(BIN / "gunicorn"), "--chdir", f"examples/services/{folder}", "-b"]
    command += [f"{HOST}:{port}", "-w", "1", "--threads", str(threads), "-k", "gthread"]
    # Idle connections kept open through a run: with gunicorn's default of 2 s, a service may
    # close a kept-alive connection just as Machinery sends on it (a reset Machinery does not
    # retry for a service that is not idempotent), which is not what is measured here.
    command += ["--keep-alive", "300", "app:app"]
    child = children.start(folder, command, clean_environment(), log_dir)
    child.wait_until(lambda: answers_healthcheck(port))
    return child, port


@dataclass
class Service:
    """A running example service, and the variable its definition reads for its address."""

    child: Child
    port: int
    variable: str

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


def start_services(children: Children, log_dir: Path, threads: int = 32) -> dict[str, Service]:
    """The three example services, by folder name."""
    started = {}
    for folder, variable in SERVICES:
        child, port = start_service(children, folder, log_dir, threads)
        started[folder] = Service(child, port, variable)
    return started


class Machinery:
    """Machinery as deployed: gunicorn with the repository's gunicorn.conf.py and, with no
    MONGO_URI, the embedded store its master starts in MACHINERY_DATA_DIR."""

    def __init__(self, children: Children, log_dir: Path, data_dir: Path, settings: dict):
        self.port = free_port()
        self.data_dir = data_dir
        env = clean_environment(
            HOST=HOST, PORT=str(self.port), MACHINERY_DATA_DIR=str(data_dir), **settings
        )
        command = [str(BIN / "gunicorn"), "machinery:create_app()"]
        self.child = children.start("machinery", command, env, log_dir)
        self.child.wait_until(lambda: answers_healthcheck(self.port))
        state = json.loads((data_dir / "embedded-store.json").read_text())
        self.store_pid = int(state["pid"])
        self.store_uri = f"mongodb://{HOST}:{state['port']}"

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def api_pids(self) -> frozenset[int]:
        """The gunicorn master and its workers: the master's tree less the embedded store's."""
        return process_tree(self.child.pid) - process_tree(self.store_pid)

    def store_pids(self) -> frozenset[int]:
        return process_tree(self.store_pid)

    def apply(self, services: dict[str, Service], definitions: Iterable[str] = DEFINITIONS) -> None:
        """Register definition files with machinery-cli apply, the services' addresses set."""
        urls = {service.variable: service.url for service in services.values()}
        command = [str(BIN / "machinery-cli"), "apply", "--url", self.url, *definitions]
        done = subprocess.run(
            command,
            cwd=ROOT,
            env=clean_environment(**urls),
            capture_output=True,
            text=True,
            timeout=START_SECONDS,
        )
        if done.returncode != 0:
            raise RuntimeError(f"machinery-cli apply failed:\n{done.stdout}{done.stderr}")


# CPU time and memory, from /proc.


def _stat_fields(pid: int) -> list[str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None  # gone meanwhile
    # The command name, in parentheses, may hold spaces: the fields follow its last ")".
    return stat[stat.rindex(")") + 2 :].split()


def process_tree(root: int) -> frozenset[int]:
    """The pid and every descendant's."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry))
    found, pending = set(), [root]
    while pending:
        pid = pending.pop()
        if pid not in found and Path(f"/proc/{pid}").exists():
            found.add(pid)
            pending.extend(children.get(pid, []))
    return frozenset(found)


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU seconds of these processes (utime + stime in /proc/<pid>/stat)."""
    total = 0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields is not None:
            total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def memory_mb(pids: Iterable[int]) -> dict[str, float]:
    """The sums over these processes of their peak resident size (VmHWM), resident size (VmRSS)
    and proportional set size (Pss: shared pages divided among their sharers), in MB."""
    sums = {"VmHWM": 0, "VmRSS": 0, "Pss": 0}
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                name, _, value = line.partition(":")
                if name in ("VmHWM", "VmRSS"):
                    sums[name] += int(value.split()[0])
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                name, _, value = line.partition(":")
                if name == "Pss":
                    sums["Pss"] += int(value.split()[0])
        except OSError:
            continue  # gone meanwhile
    return {
        "peak_rss_mb": sums["VmHWM"] / 1024,
        "rss_mb": sums["VmRSS"] / 1024,
        "pss_mb": sums["Pss"] / 1024,
    }


def describe_machine() -> dict:
    """What the numbers were measured on."""
    import platform
    from importlib import metadata

    memory_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory_kb = int(line.split()[1])
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.partition(":")[2].strip()
            break
    versions = {}
    for package in ("gunicorn", "pymongo", "nx-27017", "Flask"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "?"
    return {
        "nproc": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "cpu_model": model,
        "memory_gib": round(memory_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
        "load_average": [round(load, 2) for load in os.getloadavg()],
    }


def machine_line(machine: dict) -> str:
    versions = ", ".join(f"{name} {version}" for name, version in machine["versions"].items())
    return (
        f"{machine['nproc']} CPUs ({machine['cpu_model']}), {machine['memory_gib']} GiB, "
        f"Python {machine['python']}, {versions}; load average {machine['load_average']}"
    )


def percentile(ordered: list[float], fraction: float) -> float:
    """The nearest-rank percentile of an ascending list (nan when empty)."""
    if not ordered:
        return float("nan")
    return ordered[max(0, min(len(ordered), round(fraction * len(ordered))) - 1)]
