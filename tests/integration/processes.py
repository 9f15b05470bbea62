"""Real processes for the integration tests: started on free loopback ports, always stopped."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Process:
    """A child process with its output in a log file, stopped with SIGTERM (then SIGKILL)."""

    def __init__(self, name: str, command: list[str], env: dict, log_dir: Path):
        self.name = name
        self.log = log_dir / f"{name}.log"
        self._output = open(self.log, "ab")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=self._output,
            stderr=subprocess.STDOUT,
        )

    def wait_until(self, ready, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.log.read_text()[-3000:]}")
            try:
                if ready():
                    return
            except Exception:  # noqa: BLE001 - not ready yet, whatever the reason
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} not ready:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.1)

    def stop(self, timeout: float = 20.0) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._output.close()
        return self.popen.returncode


def answers(url: str) -> bool:
    return requests.get(url, timeout=1).status_code < 500


def start_mongo(log_dir: Path, data_dir: Path) -> tuple[Process, str]:
    """nx-27017, the MongoDB wire-protocol server, on a free port."""
    port = free_port()
    command = [sys.executable, "-m", "nx_27017.nx_27017", "--data-dir", str(data_dir)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-file", str(log_dir / "nx.log")]
    command += ["--pid-file", str(log_dir / f"nx-{port}.pid")]
    process = Process("mongo", command, {}, log_dir)
    uri = f"mongodb://127.0.0.1:{port}"

    def ping():
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True

    process.wait_until(ping)
    return process, uri


def start_example(name: str, log_dir: Path) -> tuple[Process, str]:
    port = free_port()
    script = ROOT / "examples" / "services" / name / "app.py"
    process = Process(name, [sys.executable, str(script)], {"PORT": str(port)}, log_dir)
    url = f"http://127.0.0.1:{port}"
    process.wait_until(lambda: answers(f"{url}/healthcheck"))
    return process, url


def start_api(log_dir: Path, env: dict, name: str = "api") -> tuple[Process, str]:
    """Machinery served by gunicorn with its own config file, as in production."""
    port = free_port()
    env = {"HOST": "127.0.0.1", "PORT": str(port), "WEB_CONCURRENCY": "2", **env}
    command = [str(BIN / "gunicorn"), "machinery:create_app()"]
    process = Process(name, command, env, log_dir)
    url = f"http://127.0.0.1:{port}"
    process.wait_until(lambda: answers(f"{url}/healthcheck"), timeout=60)
    return process, url
