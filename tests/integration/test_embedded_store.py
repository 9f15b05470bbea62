"""With no MONGO_URI, Machinery keeps its data in the embedded store, across restarts."""

import json
import os

import requests
from processes import start_api

SERVICE = {"name": "kept", "address": "http://127.0.0.1:9/event"}


def test_data_survives_a_restart_and_the_store_stops_with_machinery(logs, tmp_path):
    env = {"MONGO_URI": "", "MACHINERY_DATA_DIR": str(tmp_path)}
    process, url = start_api(logs, env, name="embedded-1")
    created = requests.post(f"{url}/s", json=SERVICE, timeout=10)
    assert created.status_code == 201
    flow = {"name": "kept-flow", "services": ["kept"]}
    assert requests.post(f"{url}/w", json=flow, timeout=10).status_code == 201
    failed = requests.post(f"{url}/e/kept-flow", json={}, timeout=10).json()
    store_pid = json.loads((tmp_path / "embedded-store.json").read_text())["pid"]
    assert process.stop() == 0
    assert not _alive(store_pid)

    process, url = start_api(logs, env, name="embedded-2")
    try:
        assert requests.get(f"{url}/s/kept", timeout=10).json() == created.json()
        event = requests.get(f"{url}/e/{failed['event_id']}", timeout=10).json()
        assert event["status"] == "failed"
        assert event["steps"][0]["error"]["kind"] == "connection_error"
    finally:
        process.stop()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
