"""When MongoDB cannot be reached, requests answer 503 with Retry-After, within the timeout."""

import socket
import time

import pytest

from machinery import create_app


@pytest.fixture
def unreachable_client():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = create_app({"MONGO_URI": f"mongodb://127.0.0.1:{port}", "MONGO_TIMEOUT_MS": 300})
    yield app.test_client()
    app.extensions["machinery.store"].connection.close()


@pytest.mark.parametrize(
    ("method", "path"), [("get", "/s"), ("get", "/w/x"), ("post", "/e/x"), ("get", "/e")]
)
def test_requests_answer_503_with_retry_after(unreachable_client, method, path):
    started = time.monotonic()
    response = getattr(unreachable_client, method)(path, json={"message": "x"})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert "database" in response.json["message"]
    assert time.monotonic() - started < 5


def test_liveness_does_not_depend_on_the_database(unreachable_client):
    assert unreachable_client.get("/healthcheck").status_code == 204


def test_readiness_reports_the_database(unreachable_client):
    response = unreachable_client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
