"""The whole product over real HTTP and the real pymongo driver: CLI, API, services, store."""

import json
import os
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from bson import ObjectId
from processes import BIN, ROOT, free_port

SEED = {"message": "The Sun will rise in the morning !"}
SEED_OUTPUTS = {"message": "! GNINROM EHT NI ESIR LLIW NUS EHT", "space_count": 7}
DEFINITIONS = sorted(str(p) for p in (ROOT / "examples" / "definitions").glob("[sw]*.json"))


def cli(*args, env=None):
    return subprocess.run(
        [str(BIN / "machinery-cli"), *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def example(api_url, example_urls):
    applied = cli("apply", "--url", api_url, *DEFINITIONS, env=example_urls)
    assert applied.returncode == 0, applied.stderr
    return applied


def test_apply_registers_the_example_services_before_the_workflow(example):
    lines = example.stdout.splitlines()
    assert [line.split(" (")[0] for line in lines] == [
        "registered service reverse",
        "registered service space-counter",
        "registered service upper",
        "registered workflow process-text",
        "registered workflow shout-and-count",
    ]


def test_applying_again_changes_nothing(api_url, example, example_urls):
    before = requests.get(f"{api_url}/w/process-text", timeout=5).json()
    again = cli("apply", "--url", api_url, *DEFINITIONS, env=example_urls)
    assert again.returncode == 0, again.stderr
    assert requests.get(f"{api_url}/w/process-text", timeout=5).json() == before


def test_the_seed_event_end_to_end_is_stored_with_every_step(api_url, example, db):
    response = requests.post(f"{api_url}/e/process-text", json=SEED, timeout=10)
    assert response.status_code == 201, response.text
    event = response.json()
    assert event["outputs"] == SEED_OUTPUTS
    assert event["status"] == "succeeded"

    stored = requests.get(f"{api_url}/e/{event['event_id']}", timeout=5).json()
    assert stored["data"] == SEED
    assert [step["service"] for step in stored["steps"]] == ["upper", "reverse", "space-counter"]
    assert stored["steps"][0]["outputs"] == {"message": "THE SUN WILL RISE IN THE MORNING !"}

    document = db.events.find_one({"_id": ObjectId(event["event_id"])})
    assert document["outputs"] == SEED_OUTPUTS
    assert document["finished_at"] >= document["acked_at"]
    # Steps are kept in their event, one entry per run and step, found by the event's _id alone.
    assert sorted(document["steps"]) == ["r0s0", "r0s1", "r0s2"]


def test_the_mapped_example_keeps_both_answers(api_url, example):
    response = requests.post(f"{api_url}/e/shout-and-count", json={"text": "a b c"}, timeout=10)
    assert response.status_code == 201, response.text
    assert response.json()["outputs"] == {
        "message": "A B C",
        "spaces": 2,
        "source": "shout-and-count",
    }


def test_the_event_list_shows_the_newest_first(api_url, example):
    ids = [
        requests.post(f"{api_url}/e/process-text", json={"message": text}, timeout=10).json()[
            "event_id"
        ]
        for text in ("one", "two words")
    ]
    listed = requests.get(f"{api_url}/e?workflow=process-text&page_size=2", timeout=5).json()
    assert [item["event_id"] for item in listed["items"]] == ids[::-1]


class FaultyService(BaseHTTPRequestHandler):
    """Answers by path: /ok, /status-500, /not-json, /array, /slow (beyond the read timeout)."""

    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802 - the http.server protocol
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path == "/slow":
            time.sleep(2)
        body, status = {
            "/ok": (b'{"message": "fine"}', 200),
            "/status-500": (b"internal trouble", 500),
            "/not-json": (b"<html>hello</html>", 200),
            "/array": (b"[1, 2]", 200),
            "/slow": (b'{"message": "late"}', 200),
        }[self.path]
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except BrokenPipeError:
            pass  # Machinery gave up waiting, as it should for /slow

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def faulty_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FaultyService)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("path", "kind", "http_status", "status_code"),
    [
        ("/status-500", "http_status", 502, 500),
        ("/not-json", "invalid_response", 502, 200),
        ("/array", "invalid_response", 502, 200),
        ("/slow", "timeout", 504, None),
        (None, "connection_error", 502, None),
    ],
)
def test_a_failing_service_fails_the_event_with_the_cause(
    api_url, faulty_url, path, kind, http_status, status_code
):
    address = f"{faulty_url}{path}" if path else f"http://127.0.0.1:{free_port()}/event"
    name = f"faulty{(path or '/refused').replace('/', '-')}"
    service = {"name": name, "address": address, "inputs": [{"name": "message", "type": "string"}]}
    assert requests.post(f"{api_url}/s", json=service, timeout=5).status_code == 201
    flow = {"name": f"flow-{name}", "services": [name], "inputs": service["inputs"]}
    assert requests.post(f"{api_url}/w", json=flow, timeout=5).status_code == 201

    response = requests.post(f"{api_url}/e/flow-{name}", json={"message": "x"}, timeout=10)
    assert response.status_code == http_status
    event = response.json()
    assert event["status"] == "failed"
    assert event["error"]["kind"] == kind
    assert event["error"]["status_code"] == status_code
    assert event["error"]["service"] == name
    assert event["message"].startswith(f"Step 0 ({name}) failed: ")
    stored = requests.get(f"{api_url}/e/{event['event_id']}", timeout=5).json()
    assert stored["status"] == "failed"
    assert stored["steps"][0]["error"]["kind"] == kind


def test_concurrent_identical_registrations_give_one_service(api_url):
    service = {"name": "concurrent", "address": "http://127.0.0.1:9/event"}

    def register(_):
        return requests.post(f"{api_url}/s", json=service, timeout=10)

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(register, range(8)))
    assert {response.status_code for response in responses} == {201}
    assert len({response.json()["service_id"] for response in responses}) == 1


def test_a_body_over_the_limit_is_413_json(api_url):
    body = json.dumps({"message": "x" * (2 * 1024 * 1024)})
    response = requests.post(
        f"{api_url}/s", data=body, headers={"Content-Type": "application/json"}, timeout=10
    )
    assert response.status_code == 413
    assert response.json()["message"]


def test_errors_are_json_through_gunicorn(api_url):
    for response in (
        requests.get(f"{api_url}/nowhere", timeout=5),
        requests.post(f"{api_url}/s", data="x", headers={"Content-Type": "text/plain"}, timeout=5),
        requests.post(
            f"{api_url}/s", data="{", headers={"Content-Type": "application/json"}, timeout=5
        ),
        requests.get(f"{api_url}/e/not-an-id", timeout=5),
    ):
        assert response.status_code in {400, 404, 415}
        assert response.headers["Content-Type"] == "application/json"
        assert response.json()["message"]


def test_init_db_creates_the_unique_indexes(mongo_uri, db):
    done = cli("init-db", env={"MONGO_URI": mongo_uri, "MONGO_DB": db.name})
    assert done.returncode == 0, done.stderr
    assert "services.name_1" in done.stdout
    for collection in (db.services, db.workflows):
        unique = [
            index["key"] for index in collection.index_information().values() if index.get("unique")
        ]
        assert [("name", 1)] in [list(map(tuple, key)) for key in unique]


def test_apply_reports_a_file_that_is_not_a_definition(api_url, tmp_path: Path):
    path = tmp_path / "event.json"
    path.write_text(json.dumps(SEED))
    refused = cli("apply", "--url", api_url, str(path))
    assert refused.returncode != 0
    assert "neither a service nor a workflow" in refused.stderr
