"""The processes the fault tests run and talk to: the fake service, nx-27017 and Machinery.

The process helpers are the integration tests' own (tests/integration/processes.py): pytest puts
only each test module's own folder on sys.path, so that folder is added here.
"""

import os
import signal
import socket
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from processes import BIN, Process, answers, free_port  # noqa: E402

HERE = Path(__file__).resolve().parent
# Small limits and timeouts, so that each fault shows quickly.
API_ENV = {
    "MACHINERY_MAX_RESPONSE_BYTES": "65536",
    "MACHINERY_CONNECT_TIMEOUT": "1",
    "MACHINERY_READ_TIMEOUT": "3",
    "MONGO_TIMEOUT_MS": "1500",
    "MACHINERY_IDEMPOTENCY_WAIT_S": "10",
    "GUNICORN_GRACEFUL_TIMEOUT": "10",
    # Open and unrestricted, whatever the environment running the tests configures.
    "MACHINERY_MANAGEMENT_KEYS": "",
    "MACHINERY_CONSUMER_KEYS": "",
    "MACHINERY_ALLOWED_HOSTS": "",
    "MACHINERY_WEBHOOK_SECRETS": "whsec-fault-tests-0123456789",
    "MACHINERY_CALLBACK_SECRETS": "callback-fault-tests-0123456789",
}
# Workers' leases, short so that a killed worker's events are taken over quickly.
LEASE_S = "2"
MESSAGE = [{"name": "message", "type": "string"}]
# What the fake service's `ok` answers: the message, and which request to its path this was.
ANSWER = [*MESSAGE, {"name": "served", "type": "int", "required": False}]


class FakeService:
    """The fake service's process, its addresses by fault, and what each address received."""

    def __init__(self, logs: Path):
        port = free_port()
        script = str(HERE / "fake_service.py")
        self.process = Process("fake-service", [sys.executable, script], {"PORT": str(port)}, logs)
        self.url = f"http://127.0.0.1:{port}"
        started(self.process, lambda: answers(f"{self.url}/healthcheck"))

    def address(self, fault: str, tag: str, **params) -> str:
        query = f"?{urlencode(params)}" if params else ""
        return f"{self.url}/{fault}/{tag}{query}"

    def seen(self, fault: str, tag: str) -> dict:
        return requests.get(f"{self.url}/count/{fault}/{tag}", timeout=5).json()


class NxServer:
    """nx-27017 on a fixed port and data directory, which a test may kill and start again."""

    def __init__(self, logs: Path, data_dir: Path):
        self.logs = logs
        self.data_dir = data_dir
        self.port = free_port()
        self.uri = f"mongodb://127.0.0.1:{self.port}"
        self.starts = 0
        self.start()

    def start(self, timeout: float = 20.0) -> None:
        """Start the server on its port, waiting (bounded) for the port to be free again."""
        wait_for(self.port_free, timeout)
        self.starts += 1
        command = [sys.executable, "-m", "nx_27017.nx_27017", "--data-dir", str(self.data_dir)]
        command += ["--host", "127.0.0.1", "--port", str(self.port)]
        command += ["--log-file", str(self.logs / f"nx-{self.port}.log")]
        command += ["--pid-file", str(self.logs / f"nx-{self.port}.pid")]
        self.process = Process(f"nx-{self.port}-{self.starts}", command, {}, self.logs)
        started(self.process, self.listening, timeout)

    def port_free(self) -> bool:
        """the port can be bound again, as nx-27017 binds it (SO_REUSEADDR)"""
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", self.port))
            except OSError:
                return False
            return True

    def listening(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1):
            return True

    def kill(self) -> None:
        """SIGKILL, as a crash: nothing is flushed or closed cleanly."""
        self.process.popen.send_signal(signal.SIGKILL)
        self.process.popen.wait(10)  # reaped, so that its pid file reads as stale
        self.process.stop()

    def stop(self) -> None:
        self.process.stop()


class WorkerProcess:
    """`machinery-cli worker` on the same database as an API; `env`: more settings."""

    count = 0

    def __init__(self, logs: Path, mongo_uri: str, db_name: str, concurrency: int = 4, **env):
        WorkerProcess.count += 1
        settings = {
            **API_ENV,
            "MONGO_URI": mongo_uri,
            "MONGO_DB": db_name,
            "MACHINERY_LEASE_S": LEASE_S,
            "MACHINERY_WORKER_POLL_S": "0.1",
            **env,
        }
        command = [str(BIN / "machinery-cli"), "worker", "--concurrency", str(concurrency)]
        self.process = Process(f"worker-{WorkerProcess.count}", command, settings, logs)
        self.process.wait_until(lambda: "running" in self.process.log.read_text(), timeout=30)

    def kill(self) -> None:
        self.process.popen.send_signal(signal.SIGKILL)
        self.process.popen.wait(10)
        self.process.stop()

    def stop(self) -> int:
        return self.process.stop()


class Machinery:
    """Machinery under gunicorn, and the few calls the fault tests make to it."""

    def __init__(
        self, logs: Path, mongo_uri: str, name: str = "api", db_name: str | None = None, **env
    ):
        """db_name: another API's database, to run beside it (a new one by default)."""
        self.db_name = db_name or f"faults_{uuid.uuid4().hex[:8]}"
        settings = {**API_ENV, "MONGO_URI": mongo_uri, "MONGO_DB": self.db_name}
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        # Callback services post their results to this API.
        settings.update(HOST="127.0.0.1", PORT=str(port), MACHINERY_PUBLIC_URL=self.url)
        settings.update(WEB_CONCURRENCY="2", **env)
        command = [str(BIN / "gunicorn"), "machinery:create_app()"]  # as processes.start_api
        self.process = Process(name, command, settings, logs)
        started(self.process, lambda: answers(f"{self.url}/healthcheck"), timeout=60)

    @property
    def pid(self) -> int:
        """The gunicorn master's pid."""
        return self.process.popen.pid

    def worker_pids(self) -> list[int]:
        return sorted(pid for pid in _all_pids() if _parent_of(pid) == self.pid)

    def register(self, name: str, address: str, step=None, outputs=None, **settings) -> str:
        """Register a service and a one-step workflow calling it; return the workflow's name."""
        service = {
            "name": name,
            "address": address,
            "inputs": MESSAGE,
            "outputs": ANSWER if outputs is None else outputs,
            **settings,
        }
        registered = requests.post(f"{self.url}/s", json=service, timeout=10)
        assert registered.status_code == 201, registered.text
        return self.workflow(f"flow-{name}", [{"service": name, **(step or {})}])

    def workflow(self, name: str, steps: list) -> str:
        flow = {"name": name, "services": steps, "inputs": MESSAGE}
        registered = requests.post(f"{self.url}/w", json=flow, timeout=10)
        assert registered.status_code == 201, registered.text
        return name

    def send(self, workflow: str, message: str = "hello", key=None, timeout=30.0):
        headers = {"Idempotency-Key": key} if key else {}
        return requests.post(
            f"{self.url}/e/{workflow}", json={"message": message}, headers=headers, timeout=timeout
        )

    def event(self, event_id: str) -> dict:
        response = requests.get(f"{self.url}/e/{event_id}", timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def stop(self) -> int:
        return self.process.stop()


def started(process: Process, ready, timeout: float = 30.0) -> None:
    """Wait until the process is ready; stop it if it never is (its log is in the error)."""
    try:
        process.wait_until(ready, timeout)
    except BaseException:
        process.stop()
        raise


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (the peak resident size) of a process, in KiB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(value.split()[0])
    return values


def _all_pids() -> list[int]:
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def _parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rpartition(")")[2].split()[1])  # the field after the state


def wait_for(condition, timeout: float, pause: float = 0.1):
    """condition()'s first true value, polling up to the timeout; fails the test after it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(pause)
    pytest.fail(f"not true within {timeout} s: {condition.__doc__ or condition}")
