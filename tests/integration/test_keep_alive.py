"""A connection kept alive carries the next request after a body refused unread, under gunicorn."""

import http.client
import json
import uuid
from urllib.parse import urlsplit

import pytest
from processes import start_api

MANAGEMENT_KEY = "management-" + uuid.uuid4().hex
CONSUMER_KEY = "consumer-" + uuid.uuid4().hex
# Over MACHINERY_MAX_BODY_BYTES (1 MiB); and under it, yet far more than gunicorn discards itself.
OVER_THE_LIMIT = json.dumps({"message": "x" * (2 * 1024 * 1024)}).encode()
UNDER_THE_LIMIT = json.dumps({"message": "x" * (900 * 1024)}).encode()
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def keyed_api(logs, mongo_uri):
    env = {
        "MONGO_URI": mongo_uri,
        "MONGO_DB": f"machinery_{uuid.uuid4().hex[:8]}",
        "MACHINERY_MANAGEMENT_KEYS": MANAGEMENT_KEY,
        "MACHINERY_CONSUMER_KEYS": CONSUMER_KEY,
    }
    process, url = start_api(logs, env, name="api-keyed")
    yield urlsplit(url)
    process.stop()


AS_MANAGER = {**JSON, "X-API-Key": MANAGEMENT_KEY}
AS_CONSUMER = {**JSON, "X-API-Key": CONSUMER_KEY}
# Requests answered without their body being read, each with its status.
REFUSED = [
    pytest.param("/s", OVER_THE_LIMIT, AS_MANAGER, 413, id="413-too-large"),
    pytest.param("/s", UNDER_THE_LIMIT, JSON, 401, id="401-no-key"),
    pytest.param("/s", OVER_THE_LIMIT, JSON, 401, id="401-no-key-too-large"),
    pytest.param("/s", UNDER_THE_LIMIT, AS_CONSUMER, 403, id="403-consumer-key"),
    pytest.param(
        "/s", UNDER_THE_LIMIT, {**AS_MANAGER, "Content-Type": "text/plain"}, 415, id="415"
    ),
    pytest.param("/s?x=1", UNDER_THE_LIMIT, AS_MANAGER, 422, id="422-unknown-query-parameter"),
]


@pytest.mark.parametrize(("path", "body", "headers", "status"), REFUSED)
def test_a_connection_kept_alive_carries_the_next_request_after_a_refused_body(
    keyed_api, path, body, headers, status
):
    connection = http.client.HTTPConnection(keyed_api.hostname, keyed_api.port, timeout=10)
    try:
        for _ in range(4):
            connection.request("POST", path, body=body, headers=headers)
            refused = connection.getresponse()
            assert refused.status == status
            assert json.loads(refused.read())["message"]
            # On the same connection, unless the answer said it would be closed.
            connection.request("GET", "/healthcheck")
            following = connection.getresponse()
            following.read()
            assert following.status == 204
    finally:
        connection.close()
