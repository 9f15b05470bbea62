"""Service credentials: a secret named by a service, read from the environment or a mounted
file, sent as the service asks, and never stored, returned or logged."""

import base64
import logging

import pytest
from factories import build_app, service, workflow

TOKEN = "s3cr3t-token-value-9f8e7d"
ADDRESS = service("upper")["address"]


def with_auth(auth, name="upper"):
    return {**service(name), "auth": auth}


@pytest.fixture
def secret(monkeypatch):
    monkeypatch.setenv("MACHINERY_SECRET_UPPER_TOKEN", TOKEN)
    return "upper-token"


def send(client, services, definition):
    registered = client.post("/s", json=definition)
    assert registered.status_code == 201, registered.json
    assert client.post("/w", json=workflow("shout", services=["upper"])).status_code == 201
    services.answer(ADDRESS, lambda payload: {"message": payload["message"].upper()})
    return client.post("/e/shout", json={"message": "hi"})


@pytest.mark.parametrize(
    ("auth", "header", "expected"),
    [
        ({"type": "bearer"}, "Authorization", f"Bearer {TOKEN}"),
        ({"type": "header", "name": "X-Api-Key"}, "X-Api-Key", TOKEN),
        (
            {"type": "basic", "username": "machinery"},
            "Authorization",
            "Basic " + base64.b64encode(f"machinery:{TOKEN}".encode()).decode(),
        ),
    ],
    ids=["bearer", "header", "basic"],
)
def test_the_service_receives_its_credentials(client, services, secret, auth, header, expected):
    response = send(client, services, with_auth({**auth, "secret": secret}))
    assert response.status_code == 201
    (options,) = services.options
    assert options.headers[header] == expected
    step = client.get(f"/e/{response.json['event_id']}").json["steps"][0]
    assert step["request"]["headers"][header] == "[redacted]"
    assert TOKEN not in str(client.get(f"/e/{response.json['event_id']}").json)


def test_the_secret_is_never_stored_nor_returned(app, client, services, secret, caplog):
    caplog.set_level(logging.DEBUG)
    definition = with_auth({"type": "bearer", "secret": secret})
    registered = client.post("/s", json=definition)
    assert registered.json["auth"] == {"type": "bearer", "secret": "upper-token"}
    db = app.extensions["machinery.store"].connection.db
    for name in db.list_collection_names():
        for document in db[name].find():
            assert TOKEN not in str(document)
    assert TOKEN not in client.get("/s/upper").get_data(as_text=True)
    assert TOKEN not in caplog.text


def test_a_secret_from_a_mounted_file(tmp_path, services):
    (tmp_path / "inventory-key").write_text("from-a-file-123\n")
    app = build_app(services, SECRETS_DIR=str(tmp_path))
    try:
        client = app.test_client()
        auth = {"type": "header", "name": "X-Api-Key", "secret": "inventory-key"}
        response = send(client, services, with_auth(auth))
        assert response.status_code == 201
        assert services.options[0].headers["X-Api-Key"] == "from-a-file-123"
    finally:
        app.extensions["machinery.store"].connection.close()


def test_an_unset_secret_is_refused_at_registration(client):
    response = client.post("/s", json=with_auth({"type": "bearer", "secret": "nowhere"}))
    assert response.status_code == 422
    assert "message" in response.json
    assert "MACHINERY_SECRET_NOWHERE" in str(response.json)


@pytest.mark.parametrize(
    "auth",
    [
        {"type": "oauth", "secret": "x"},
        {"type": "bearer"},
        {"type": "bearer", "secret": "../etc/passwd"},
        {"type": "header", "secret": "x"},
        {"type": "header", "name": "traceparent", "secret": "x"},
        {"type": "header", "name": "Bad Header", "secret": "x"},
        {"type": "basic", "secret": "x"},
        {"type": "basic", "username": "a:b", "secret": "x"},
        {"type": "bearer", "secret": "x", "value": "inline"},
    ],
)
def test_a_malformed_auth_is_refused(client, monkeypatch, auth):
    monkeypatch.setenv("MACHINERY_SECRET_X", "value-of-x")
    response = client.post("/s", json=with_auth(auth))
    assert response.status_code == 422
    assert "message" in response.json and "auth" in str(response.json["errors"])


def test_a_secret_gone_at_run_time_fails_the_step_as_missing_secret(
    client, services, secret, monkeypatch
):
    assert (
        client.post("/s", json=with_auth({"type": "bearer", "secret": secret})).status_code == 201
    )
    assert client.post("/w", json=workflow("shout", services=["upper"])).status_code == 201
    monkeypatch.delenv("MACHINERY_SECRET_UPPER_TOKEN")
    response = client.post("/e/shout", json={"message": "hi"})
    assert response.status_code == 502
    assert response.json["error"]["kind"] == "missing_secret"
    assert response.json["error"]["step"] == 0
    assert "MACHINERY_SECRET_UPPER_TOKEN" in response.json["error"]["message"]
    assert services.calls == []  # never called without its credentials
    step = client.get(f"/e/{response.json['event_id']}").json["steps"][0]
    assert step["error"]["kind"] == "missing_secret"
