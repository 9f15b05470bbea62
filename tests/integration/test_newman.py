"""The Postman collection, run by Newman against Machinery under gunicorn with the examples."""

import os
import shutil
import subprocess
import uuid

import pytest
from processes import ROOT, start_api


@pytest.fixture(scope="module")
def fresh_api_url(logs, mongo_uri):
    """An API on a database of its own: the collection registers the examples its own way."""
    env = {"MONGO_URI": mongo_uri, "MONGO_DB": f"newman_{uuid.uuid4().hex[:8]}"}
    process, url = start_api(logs, env, name="api-newman")
    yield url
    process.stop()


def test_the_postman_collection_passes(fresh_api_url, example_urls):
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
    run = subprocess.run(
        command,
        env={**os.environ, "MACHINERY_URL": fresh_api_url},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
