"""The Postman collection, run by Newman against Machinery under gunicorn with the examples."""

import os
import shutil
import subprocess
import uuid

import pytest
import requests
from processes import ROOT, start_api

MANAGEMENT_KEY = "management-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def fresh_api_url(logs, mongo_uri):
    """An API on a database of its own: the collection registers the examples its own way."""
    env = {"MONGO_URI": mongo_uri, "MONGO_DB": f"newman_{uuid.uuid4().hex[:8]}"}
    process, url = start_api(logs, env, name="api-newman")
    yield url
    process.stop()


@pytest.fixture(scope="module")
def keyed_api_url(logs, mongo_uri):
    """The same, requiring a management key, as the Compose stack does."""
    env = {
        "MONGO_URI": mongo_uri,
        "MONGO_DB": f"newman_{uuid.uuid4().hex[:8]}",
        "MACHINERY_MANAGEMENT_KEYS": MANAGEMENT_KEY,
    }
    process, url = start_api(logs, env, name="api-newman-keyed")
    yield url
    process.stop()


def run_collection(api_url: str, example_urls: dict, api_key: str) -> subprocess.CompletedProcess:
    """tests/newman/run-newman.sh against the API, with MACHINERY_API_KEY set to api_key."""
    if shutil.which("npx") is None:
        if os.environ.get("CI"):
            pytest.fail("npx is needed to run Newman")
        pytest.skip("npx (Node.js) is not installed")
    variables = {
        "upper_url": f"{example_urls['UPPER_URL']}/event",
        "reverse_url": f"{example_urls['REVERSE_URL']}/event",
        "space_counter_url": f"{example_urls['SPACE_COUNTER_URL']}/event",
    }
    command = [str(ROOT / "tests" / "newman" / "run-newman.sh"), "--color", "off"]
    for name, value in variables.items():
        command += ["--env-var", f"{name}={value}"]
    return subprocess.run(
        command,
        env={**os.environ, "MACHINERY_URL": api_url, "MACHINERY_API_KEY": api_key},
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_the_postman_collection_passes(fresh_api_url, example_urls):
    run = run_collection(fresh_api_url, example_urls, api_key="")
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]


def test_the_postman_collection_passes_with_a_management_key(keyed_api_url, example_urls):
    # Left over by an interrupted run: the collection removes it first, with the key.
    left_over = {
        "name": "newman-scratch",
        "address": "http://127.0.0.1:9/left-over",
        "inputs": [{"name": "message", "type": "string"}],
        "outputs": [{"name": "message", "type": "string"}],
    }
    bearer = {"Authorization": f"Bearer {MANAGEMENT_KEY}"}
    answer = requests.post(f"{keyed_api_url}/s", json=left_over, headers=bearer, timeout=10)
    assert answer.status_code == 201, answer.text
    run = run_collection(keyed_api_url, example_urls, api_key=MANAGEMENT_KEY)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
