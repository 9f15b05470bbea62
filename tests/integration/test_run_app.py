"""./run_app for real: served as in production, no debugger unless asked, nothing left behind."""

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests
from processes import ROOT, free_port

EXAMPLE_PORTS = (5001, 5002, 5003)


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "data"


def run_app(*args, data_dir: Path, timeout: float = 120, **env) -> subprocess.CompletedProcess:
    ignored = ("MACHINERY_", "MONGO_", "HOST", "FLASK_")
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(ignored)},
        "MACHINERY_DATA_DIR": str(data_dir),
        "WEB_CONCURRENCY": "1",
        **env,
    }
    # In a session of its own, so that whatever it started is stopped should it hang.
    process = subprocess.Popen(
        [str(ROOT / "run_app"), *args],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def processes_using(data_dir: Path, wait_s: float = 10) -> list[int]:
    """The processes started for this data directory that are still running."""
    marker = f"MACHINERY_DATA_DIR={data_dir}".encode()
    deadline = time.monotonic() + wait_s
    while True:
        found = []
        for environ in Path("/proc").glob("[0-9]*/environ"):
            try:
                if marker in environ.read_bytes().split(b"\0"):
                    found.append(int(environ.parent.name))
            except OSError:  # gone, or not ours
                pass
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def test_run_app_serves_no_debugger_console(data_dir):
    port = free_port()
    started = run_app("--detach", data_dir=data_dir, PORT=str(port))
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        response = requests.get(f"http://127.0.0.1:{port}/console", timeout=5)
        assert response.status_code == 404
        assert response.headers["Content-Type"] == "application/json"
        assert response.json()["message"]
    finally:
        stopped = run_app("--stop", data_dir=data_dir, PORT=str(port))
    assert stopped.stdout == "Machinery stopped.\n"
    assert processes_using(data_dir) == []


def test_debug_is_refused_on_a_host_other_than_loopback(data_dir):
    refused = run_app("--debug", data_dir=data_dir, HOST="0.0.0.0", PORT=str(free_port()))
    assert refused.returncode != 0
    assert "only on a loopback HOST" in refused.stderr
    assert not data_dir.exists()


def test_a_taken_port_is_refused_at_once_and_nothing_starts(data_dir):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        began = time.monotonic()
        refused = run_app("--demo", "--detach", data_dir=data_dir, PORT=str(port))
        took = time.monotonic() - began
    assert refused.returncode != 0
    assert took < 10
    assert f"Cannot listen on 127.0.0.1:{port}: Address already in use." in refused.stderr
    assert "Nothing was started." in refused.stderr
    assert not data_dir.exists()
    assert processes_using(data_dir) == []


def test_a_bad_setting_is_refused_before_anything_starts(data_dir):
    refused = run_app(
        "--demo", "--detach", data_dir=data_dir, PORT=str(free_port()), MACHINERY_PAGE_SIZE="0"
    )
    assert refused.returncode != 0
    assert "MACHINERY_PAGE_SIZE='0': expected a whole number from 1 to 100" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert processes_using(data_dir) == []


def test_what_started_is_stopped_when_the_api_then_fails(data_dir):
    if any(port_in_use(port) for port in EXAMPLE_PORTS):
        pytest.skip("the example services' ports are in use")
    # The example services start, then gunicorn fails on a worker count it cannot read.
    failed = run_app(
        "--demo", "--detach", data_dir=data_dir, PORT=str(free_port()), WEB_CONCURRENCY="lots"
    )
    assert failed.returncode != 0
    assert "Machinery did not start:" in failed.stderr
    assert processes_using(data_dir) == []
    assert not any(port_in_use(port) for port in EXAMPLE_PORTS)
    assert not (data_dir / "run_app.pid").exists()
