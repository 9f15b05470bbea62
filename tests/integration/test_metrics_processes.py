"""Metrics under gunicorn (prometheus_client's multiprocess mode) and from a worker process: a
scrape, whichever process answers it, adds up what every process did, dead ones included."""

import os
import signal
import time
import uuid
from pathlib import Path

import pytest
import requests
from metrics_text import value
from processes import BIN, Process, start_api

WORKFLOW = {
    "name": "shout",
    "services": ["upper"],
    "inputs": [{"name": "message", "type": "string"}],
    "outputs": [{"name": "message", "type": "string"}],
}


@pytest.fixture
def metrics_dir(tmp_path) -> Path:
    directory = tmp_path / "metrics"
    directory.mkdir()
    # Left by an earlier run (and not even a metrics file): the API empties the directory.
    (directory / "counter_1.db").write_bytes(b"left over")
    return directory


@pytest.fixture
def stack(logs, mongo_uri, example_urls, metrics_dir):
    env = {
        "MONGO_URI": mongo_uri,
        "MONGO_DB": f"machinery_{uuid.uuid4().hex[:8]}",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    process, url = start_api(logs, env, name="api-metrics")
    upper = {
        "name": "upper",
        "address": f"{example_urls['UPPER_URL']}/event",
        "inputs": [{"name": "message", "type": "string"}],
        "outputs": [{"name": "message", "type": "string"}],
    }
    assert requests.post(f"{url}/s", json=upper, timeout=10).status_code == 201
    assert requests.post(f"{url}/w", json=WORKFLOW, timeout=10).status_code == 201
    yield url, env
    process.stop()


def scrape(url: str) -> str:
    response = requests.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    return response.text


def worker_pids(directory: Path) -> set[int]:
    return {int(path.stem.rpartition("_")[2]) for path in directory.glob("*.db")}


def test_every_gunicorn_worker_counts_in_one_scrape_even_after_it_exits(stack, metrics_dir):
    url, _ = stack
    assert not (metrics_dir / "counter_1.db").exists()
    # A new connection each time: gunicorn hands each to whichever worker accepts it first.
    for _ in range(8):
        response = requests.post(f"{url}/e/shout", json={"message": "hi"}, timeout=10)
        assert response.status_code == 201
    labels = {"workflow": "shout", "status": "succeeded"}
    assert value(scrape(url), "machinery_events_total", **labels) == 8
    assert (
        value(
            scrape(url),
            "machinery_service_calls_total",
            service="upper",
            outcome="succeeded",
            status_code="200",
        )
        == 8
    )

    # A worker ends (gunicorn starts another): what it counted still counts.
    counted = [pid for pid in worker_pids(metrics_dir) if pid != os.getpid()]
    assert counted
    os.kill(counted[0], signal.SIGTERM)
    for _ in range(600):  # until it has exited
        if _state(counted[0]) in ("X", "Z"):
            break
        time.sleep(0.05)
    assert _state(counted[0]) in ("X", "Z")
    assert value(scrape(url), "machinery_events_total", **labels) == 8


def test_a_worker_sharing_the_directory_counts_in_the_api_scrape(stack, logs, metrics_dir):
    url, env = stack
    worker = Process("worker-metrics", [str(BIN / "machinery-cli"), "worker"], env, logs)
    try:
        location = requests.post(
            f"{url}/e/shout",
            json={"message": "hi"},
            headers={"Prefer": "respond-async"},
            timeout=10,
        ).headers["Location"]
        event = requests.get(f"{url}{location}?wait=30", timeout=40).json()
        assert event["status"] == "succeeded"
        text = scrape(url)
        # Run by the worker alone: the API only queued it.
        assert value(text, "machinery_events_total", workflow="shout", status="succeeded") == 1
        assert value(text, "machinery_queue_depth") == 0
    finally:
        assert worker.stop() == 0
    assert worker.popen.pid in worker_pids(metrics_dir)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return "X"
