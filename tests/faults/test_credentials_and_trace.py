"""End to end, under gunicorn and with a worker: a service receives the credentials its auth
names (read from the environment or a mounted file), the caller's trace and the request id."""

import uuid

import pytest
import requests
from fault_processes import Machinery

TOKEN = "token-" + uuid.uuid4().hex
FILE_KEY = "filekey-" + uuid.uuid4().hex
TRACE = uuid.uuid4().hex


@pytest.fixture(scope="module")
def secured(fault_logs, nx, tmp_path_factory):
    secrets_dir = tmp_path_factory.mktemp("secrets")
    (secrets_dir / "reports-key").write_text(FILE_KEY + "\n")
    api = Machinery(
        fault_logs,
        nx.uri,
        name="api-credentials",
        MACHINERY_SECRET_INVENTORY_TOKEN=TOKEN,
        MACHINERY_SECRETS_DIR=str(secrets_dir),
    )
    yield api, secrets_dir
    api.stop()


def send_traced(api, workflow, **headers):
    return requests.post(
        f"{api.url}/e/{workflow}",
        json={"message": "hi"},
        headers={"traceparent": f"00-{TRACE}-00f067aa0ba902b7-01", **headers},
        timeout=30,
    )


def test_a_bearer_token_from_the_environment_reaches_the_service(secured, fake, tag):
    api, _ = secured
    auth = {"type": "bearer", "secret": "inventory-token"}
    flow = api.register(f"inventory-{tag}", fake.address("ok", tag), auth=auth)
    response = send_traced(api, flow, **{"X-Request-Id": f"req-{tag}"})
    assert response.status_code == 201, response.text
    assert response.headers["X-Request-Id"] == f"req-{tag}"
    seen = fake.seen("ok", tag)
    assert seen["authorizations"] == [f"Bearer {TOKEN}"]
    assert seen["request_ids"] == [f"req-{tag}"]
    assert seen["traceparents"][0].split("-")[1] == TRACE
    event = api.event(response.json()["event_id"])
    assert event["trace_id"] == TRACE
    assert TOKEN not in str(event) and TOKEN not in str(api_service(api, f"inventory-{tag}"))


def test_a_header_from_a_mounted_file_reaches_the_service_run_by_a_worker(
    secured, fake, tag, workers, fault_logs, nx
):
    api, secrets_dir = secured
    auth = {"type": "header", "name": "X-Api-Key", "secret": "reports-key"}
    flow = api.register(f"reports-{tag}", fake.address("ok", tag), auth=auth)
    workers(api=api, MACHINERY_SECRETS_DIR=str(secrets_dir))
    queued = send_traced(api, flow, Prefer="respond-async")
    assert queued.status_code == 202
    event = requests.get(f"{api.url}{queued.headers['Location']}?wait=30", timeout=40).json()
    assert event["status"] == "succeeded", event
    seen = fake.seen("ok", tag)
    assert seen["api_keys"] == [FILE_KEY]
    assert seen["traceparents"][0].split("-")[1] == TRACE


def test_a_worker_without_the_secret_fails_the_step_as_missing_secret(secured, fake, tag, workers):
    api, _ = secured
    auth = {"type": "bearer", "secret": "inventory-token"}
    flow = api.register(f"lost-{tag}", fake.address("ok", tag), auth=auth)
    workers(api=api)  # not given MACHINERY_SECRET_INVENTORY_TOKEN
    queued = send_traced(api, flow, Prefer="respond-async")
    event = requests.get(f"{api.url}{queued.headers['Location']}?wait=30", timeout=40).json()
    assert event["status"] == "failed"
    assert event["error"]["kind"] == "missing_secret"
    assert "MACHINERY_SECRET_INVENTORY_TOKEN" in event["error"]["message"]
    assert fake.seen("ok", tag).get("requests", 0) == 0


def api_service(api, name):
    return requests.get(f"{api.url}/s/{name}", timeout=10).json()
