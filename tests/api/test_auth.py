"""API keys: each route needs a key of its scope, open routes stay open, no key is ever logged."""

import hashlib
import json
import logging
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner
from factories import SEED_MESSAGE, build_app, register_example, service, workflow

from machinery import auth, cli
from machinery.config import from_environment

MANAGEMENT_KEY = "management-key-7f3a9c"
CONSUMER_KEY = "consumer-key-52be10"
# Configured only as "sha256:<hex digest>", never in plain text.
HASHED_MANAGEMENT_KEY = "hashed-management-key-e4d2"
HASHED_CONSUMER_KEY = "hashed-consumer-key-09a1"
UNKNOWN_KEY = "unknown-key-6c8d77"
ALL_KEYS = (MANAGEMENT_KEY, CONSUMER_KEY, HASHED_MANAGEMENT_KEY, HASHED_CONSUMER_KEY, UNKNOWN_KEY)


def sha256(key):
    return hashlib.sha256(key.encode()).hexdigest()


KEYS = {
    "management": (MANAGEMENT_KEY, "management"),
    "management, hashed": (HASHED_MANAGEMENT_KEY, "management"),
    "consumer": (CONSUMER_KEY, "consumer"),
    "consumer, hashed": (HASHED_CONSUMER_KEY, "consumer"),
}

PRESENTATIONS = {
    "bearer": lambda key: {"Authorization": f"Bearer {key}"},
    "x-api-key": lambda key: {"X-API-Key": key},
}

REPLACEMENT = workflow(services=["upper", "reverse"])
# method, path, body, the scope it needs, the status it answers once let through.
ROUTES = [
    ("GET", "/s", None, "consumer", 200),
    ("GET", "/s/upper", None, "consumer", 200),
    ("HEAD", "/s", None, "consumer", 200),
    ("OPTIONS", "/s", None, "consumer", 200),
    ("GET", "/w", None, "consumer", 200),
    ("GET", "/w/process-text", None, "consumer", 200),
    ("GET", "/s/upper/versions", None, "consumer", 200),
    ("GET", "/w/process-text/versions", None, "consumer", 200),
    ("GET", "/w/process-text/lineage", None, "consumer", 200),
    ("POST", "/s", service("lower"), "management", 201),
    ("PUT", "/s/upper", service("upper"), "management", 200),
    ("DELETE", "/s/upper", None, "management", 409),
    ("POST", "/w", workflow("again", services=["upper"]), "management", 201),
    ("PUT", "/w/process-text", REPLACEMENT, "management", 200),
    ("DELETE", "/w/process-text", None, "management", 204),
    # Read-only POSTs, but tools for whoever writes the definitions.
    ("POST", "/s/upper/impact", service("upper"), "management", 200),
    ("POST", "/w/process-text/dry-run", {}, "management", 200),
    ("POST", "/e/process-text", {"message": SEED_MESSAGE}, "consumer", 201),
    (
        "POST",
        "/e",
        {"workflow": "process-text", "data": {"message": SEED_MESSAGE}},
        "consumer",
        201,
    ),
    ("GET", "/e", None, "consumer", 200),
    ("GET", "/e/{event_id}", None, "consumer", 200),
    ("GET", "/metrics", None, "management", 200),
]
ROUTE_IDS = [f"{method} {path}" for method, path, *_ in ROUTES]


@pytest.fixture
def make_app():
    """Build apps with the config given, and close their stores afterwards."""
    apps = []

    def make(services=None, **config):
        apps.append(build_app(services, **config))
        return apps[-1]

    yield make
    for app in apps:
        app.extensions["machinery.store"].connection.close()


@pytest.fixture
def keyed_app(make_app, services):
    return make_app(
        services,
        MANAGEMENT_KEYS=[MANAGEMENT_KEY, f"sha256:{sha256(HASHED_MANAGEMENT_KEY)}"],
        CONSUMER_KEYS=[CONSUMER_KEY, f"sha256:{sha256(HASHED_CONSUMER_KEY)}"],
    )


@pytest.fixture
def keyed_client(keyed_app):
    return keyed_app.test_client()


@pytest.fixture
def example(keyed_app, services):
    """The example services and workflow, registered with a management key, and one event."""
    client = keyed_app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {MANAGEMENT_KEY}"
    register_example(client, services)
    event = client.post("/e/process-text", json={"message": SEED_MESSAGE})
    assert event.status_code == 201
    return {"event_id": event.json["event_id"]}


def send(client, method, path, body=None, headers=None, example=None):
    return client.open(
        path.format(**(example or {})), method=method, json=body, headers=headers or {}
    )


def assert_refused(response, status):
    assert response.status_code == status
    assert response.is_json
    assert response.json["code"] == status
    assert response.json["message"]
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("presentation", PRESENTATIONS)
@pytest.mark.parametrize("key_name", KEYS)
@pytest.mark.parametrize(("method", "path", "body", "needed", "status"), ROUTES, ids=ROUTE_IDS)
def test_each_route_needs_a_key_of_its_scope(
    keyed_client, example, method, path, body, needed, status, key_name, presentation
):
    key, scope = KEYS[key_name]
    headers = PRESENTATIONS[presentation](key)
    response = send(keyed_client, method, path, body, headers, example)
    if scope == "management" or needed == "consumer":
        assert response.status_code == status, response.json
    else:
        assert_refused(response, 403)
        assert "events" in response.json["message"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": f"Bearer {UNKNOWN_KEY}"},
        {"X-API-Key": UNKNOWN_KEY},
        {"Authorization": "Bearer "},
        {"X-API-Key": ""},
        {"Authorization": MANAGEMENT_KEY},
        {"Authorization": f"Basic {MANAGEMENT_KEY}"},
        {"Authorization": f"Bearer {MANAGEMENT_KEY}x"},
    ],
    ids=[
        "none",
        "unknown bearer",
        "unknown header",
        "empty bearer",
        "empty header",
        "no scheme",
        "basic",
        "longer",
    ],
)
@pytest.mark.parametrize(("method", "path", "body", "needed", "status"), ROUTES, ids=ROUTE_IDS)
def test_a_request_without_a_valid_key_is_401(
    keyed_client, example, method, path, body, needed, status, headers
):
    response = send(keyed_client, method, path, body, headers, example)
    if method == "HEAD":
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    else:
        assert_refused(response, 401)


def test_a_refused_request_changes_nothing(keyed_client, example):
    assert_refused(keyed_client.delete("/s/upper"), 401)
    assert_refused(keyed_client.delete("/w/process-text", headers={"X-API-Key": CONSUMER_KEY}), 403)
    response = keyed_client.get("/w/process-text", headers={"X-API-Key": CONSUMER_KEY})
    assert response.status_code == 200


def test_the_bearer_scheme_is_case_insensitive(keyed_client):
    for scheme in ("bearer", "BEARER", "Bearer"):
        response = keyed_client.post(
            "/s",
            json=service(f"s-{scheme}"),
            headers={"Authorization": f"{scheme} {MANAGEMENT_KEY}"},
        )
        assert response.status_code == 201


def test_the_same_key_in_both_headers_is_accepted(keyed_client):
    headers = {"Authorization": f"Bearer {MANAGEMENT_KEY}", "X-API-Key": MANAGEMENT_KEY}
    assert keyed_client.post("/s", json=service("lower"), headers=headers).status_code == 201


@pytest.mark.parametrize("other", [CONSUMER_KEY, UNKNOWN_KEY])
def test_two_different_keys_are_refused(keyed_client, other):
    headers = {"Authorization": f"Bearer {MANAGEMENT_KEY}", "X-API-Key": other}
    response = keyed_client.get("/s", headers=headers)
    assert_refused(response, 401)
    assert "one" in response.json["message"]


@pytest.mark.parametrize("parameter", ["api_key", "apikey", "access_token", "API_KEY"])
@pytest.mark.parametrize("headers", [{}, {"X-API-Key": MANAGEMENT_KEY}], ids=["alone", "also"])
def test_a_key_in_the_query_string_is_refused(keyed_client, parameter, headers):
    response = keyed_client.get(f"/s?{parameter}={MANAGEMENT_KEY}", headers=headers)
    assert_refused(response, 401)
    assert "URL" in response.json["message"]


@pytest.mark.parametrize(
    ("path", "status"),
    [("/healthcheck", 204), ("/openapi.json", 200), ("/docs", 200), ("/static/app.css", 404)],
)
def test_health_and_the_api_description_stay_open(keyed_client, path, status):
    assert keyed_client.get(path).status_code == status


@pytest.mark.parametrize("path", ["/nothing", "/s/a/b", "/e/x/y"])
def test_an_unknown_route_is_404_even_without_a_key(keyed_client, path):
    for response in (keyed_client.get(path), keyed_client.post(path, json={})):
        assert response.status_code == 404
        assert response.json["message"]


@pytest.mark.parametrize(
    ("method", "path"),
    [("PATCH", "/s"), ("DELETE", "/s"), ("POST", "/s/upper"), ("PATCH", "/w/x"), ("PUT", "/e")],
)
@pytest.mark.parametrize("headers", [{}, {"X-API-Key": CONSUMER_KEY}], ids=["none", "consumer"])
def test_a_method_a_route_does_not_take_is_405_whatever_the_key(
    keyed_client, method, path, headers
):
    response = keyed_client.open(path, method=method, json={}, headers=headers)
    assert response.status_code == 405
    assert response.headers["Allow"]


def test_the_key_is_checked_before_the_body(keyed_client):
    not_json = keyed_client.post("/s", data="name=x", content_type="text/plain")
    assert_refused(not_json, 401)
    too_large = keyed_client.post("/s", data="x" * (65 * 1024), content_type="application/json")
    assert_refused(too_large, 401)
    malformed = keyed_client.post("/s", data="{not json", content_type="application/json")
    assert_refused(malformed, 401)


@pytest.mark.parametrize(("method", "path", "body", "needed", "status"), ROUTES, ids=ROUTE_IDS)
def test_with_no_key_configured_every_route_is_open(
    app, client, services, method, path, body, needed, status
):
    register_example(client, services)
    event = client.post("/e/process-text", json={"message": SEED_MESSAGE}).json
    response = send(client, method, path, body, example={"event_id": event["event_id"]})
    assert response.status_code == status


def auth_warnings(caplog):
    return [
        r
        for r in caplog.records
        if r.name.startswith("machinery") and r.levelno == logging.WARNING and "API" in r.message
    ]


def test_an_open_api_is_announced_once_per_app(make_app, caplog):
    caplog.set_level(logging.INFO, logger="machinery")
    app = make_app()
    client = app.test_client()
    for _ in range(3):
        client.get("/s")
    (warning,) = auth_warnings(caplog)
    assert "No API keys" in warning.message
    assert "MACHINERY_MANAGEMENT_KEYS" in warning.message
    make_app()
    assert len(auth_warnings(caplog)) == 2


@pytest.mark.parametrize(
    "config",
    [{"MANAGEMENT_KEYS": [MANAGEMENT_KEY]}, {"CONSUMER_KEYS": [CONSUMER_KEY]}],
    ids=["management", "consumer"],
)
def test_with_keys_there_is_no_warning(make_app, caplog, config):
    caplog.set_level(logging.INFO, logger="machinery")
    make_app(**config)
    assert auth_warnings(caplog) == []
    assert any("API keys: " in r.message for r in caplog.records)


def test_with_consumer_keys_only_nothing_can_be_changed(make_app):
    client = make_app(CONSUMER_KEYS=[CONSUMER_KEY]).test_client()
    assert_refused(client.post("/s", json=service(), headers={"X-API-Key": CONSUMER_KEY}), 403)
    assert client.get("/s", headers={"X-API-Key": CONSUMER_KEY}).status_code == 200


def test_a_key_in_both_scopes_grants_management(make_app):
    client = make_app(
        MANAGEMENT_KEYS=[MANAGEMENT_KEY], CONSUMER_KEYS=[MANAGEMENT_KEY]
    ).test_client()
    headers = {"X-API-Key": MANAGEMENT_KEY}
    assert client.post("/s", json=service(), headers=headers).status_code == 201


@pytest.mark.parametrize(
    "entry",
    [
        f"sha256:{sha256(HASHED_MANAGEMENT_KEY)}",
        f"sha256:{sha256(HASHED_MANAGEMENT_KEY).upper()}",
        f"SHA256:{sha256(HASHED_MANAGEMENT_KEY)}",
    ],
)
def test_hashed_keys_are_matched_by_digest(make_app, entry):
    client = make_app(MANAGEMENT_KEYS=[entry]).test_client()
    ok = client.post("/s", json=service(), headers={"X-API-Key": HASHED_MANAGEMENT_KEY})
    assert ok.status_code == 201
    # The digest is what is stored, not a key: presenting it is refused.
    digest = entry.partition(":")[2]
    for presented in (digest, entry):
        assert_refused(client.get("/s", headers={"X-API-Key": presented}), 401)


@pytest.mark.parametrize(
    "entry", ["sha256:", "sha256:abc", f"sha256:{sha256('x')}00", f"sha256:{'z' * 64}"]
)
def test_a_malformed_digest_stops_the_app_without_showing_it(entry):
    with pytest.raises(ValueError) as error:
        build_app(CONSUMER_KEYS=[CONSUMER_KEY, entry])
    message = str(error.value)
    assert "MACHINERY_CONSUMER_KEYS" in message
    assert "entry 2" in message
    assert CONSUMER_KEY not in message
    assert entry.partition(":")[2] not in message or entry == "sha256:"


def test_keys_given_as_one_string_are_a_comma_separated_list(make_app):
    client = make_app(MANAGEMENT_KEYS=f" {UNKNOWN_KEY} , {MANAGEMENT_KEY} ,").test_client()
    for key in (UNKNOWN_KEY, MANAGEMENT_KEY):
        assert client.get("/s", headers={"X-API-Key": key}).status_code == 200
    assert_refused(client.get("/s", headers={"X-API-Key": "m"}), 401)


def test_the_keys_are_read_from_the_environment():
    config = from_environment(
        {
            "MACHINERY_MANAGEMENT_KEYS": f" {MANAGEMENT_KEY}, ,sha256:{sha256('x')} ",
            "MACHINERY_CONSUMER_KEYS": "",
        }
    )
    assert config["MANAGEMENT_KEYS"] == [MANAGEMENT_KEY, f"sha256:{sha256('x')}"]
    assert config["CONSUMER_KEYS"] == []
    assert from_environment({})["MANAGEMENT_KEYS"] == []


def test_no_key_nor_digest_is_ever_logged(make_app, services, caplog):
    caplog.set_level(logging.DEBUG)
    app = make_app(
        services,
        MANAGEMENT_KEYS=[MANAGEMENT_KEY, f"sha256:{sha256(HASHED_MANAGEMENT_KEY)}"],
        CONSUMER_KEYS=[CONSUMER_KEY, f"sha256:{sha256(HASHED_CONSUMER_KEY)}"],
    )
    client = app.test_client()
    for key in ALL_KEYS:
        for headers in ({"Authorization": f"Bearer {key}"}, {"X-API-Key": key}):
            client.get("/s", headers=headers)
            client.post("/s", json=service(), headers=headers)
            client.delete("/w/nothing", headers=headers)
            client.post("/e/nothing", json={"message": "hi"}, headers=headers)
        client.get(f"/s?api_key={key}")
        client.get("/s", headers={"Authorization": f"Bearer {key}", "X-API-Key": key + "2"})
    with pytest.raises(ValueError):
        build_app(MANAGEMENT_KEYS=[MANAGEMENT_KEY, "sha256:" + HASHED_CONSUMER_KEY])
    assert any(r.name == "machinery.auth" and "Refused" in r.message for r in caplog.records)
    logged = caplog.text + json.dumps([repr(r.args) for r in caplog.records])
    for secret in ALL_KEYS + tuple(sha256(key) for key in ALL_KEYS):
        assert secret not in logged


def test_the_openapi_description_documents_the_keys(keyed_client):
    spec = keyed_client.get("/openapi.json").json
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearer"] == {"type": "http", "scheme": "bearer"}
    assert schemes["apiKey"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    assert spec["security"] == [{"bearer": []}, {"apiKey": []}]
    health = spec["paths"]["/healthcheck"]["get"]
    assert health["security"] == []
    assert health["summary"]
    assert "security" not in spec["paths"]["/s"]["get"]
    assert spec["components"]["schemas"]


def test_an_open_api_documents_no_keys(client):
    spec = client.get("/openapi.json").json
    assert "security" not in spec
    assert "securitySchemes" not in spec.get("components", {})
    assert "security" not in spec["paths"]["/healthcheck"]["get"]


class FlaskSession:
    """Stands in for requests.Session in machinery-cli: sends its requests to a test client."""

    def __init__(self, client):
        self.client = client
        self.headers = {}

    def post(self, url, json, timeout):
        return self.send("POST", url, json)

    def put(self, url, json, timeout):
        return self.send("PUT", url, json)

    def send(self, method, url, body):
        response = self.client.open(
            urlsplit(url).path, method=method, json=body, headers=self.headers
        )
        return SimpleNamespace(
            status_code=response.status_code,
            ok=response.status_code < 400,
            json=lambda: response.json,
            text=response.get_data(as_text=True),
        )


@pytest.fixture
def definition_file(tmp_path):
    path = tmp_path / "service-lower.json"
    path.write_text(json.dumps(service("lower")))
    return str(path)


@pytest.mark.parametrize(
    ("args", "env", "exit_code", "output"),
    [
        (["--api-key", MANAGEMENT_KEY], {"MACHINERY_API_KEY": None}, 0, "registered service lower"),
        ([], {"MACHINERY_API_KEY": MANAGEMENT_KEY}, 0, "registered service lower"),
        ([], {"MACHINERY_API_KEY": None}, 1, "HTTP 401"),
        (["--api-key", CONSUMER_KEY], {"MACHINERY_API_KEY": None}, 1, "HTTP 403"),
    ],
    ids=["option", "environment", "none", "consumer"],
)
def test_apply_sends_the_api_key(
    keyed_client, monkeypatch, definition_file, args, env, exit_code, output
):
    monkeypatch.setattr(cli.requests, "Session", lambda: FlaskSession(keyed_client))
    result = CliRunner().invoke(cli.apply, [*args, definition_file], env=env)
    assert result.exit_code == exit_code, result.output
    assert output in result.output
    assert MANAGEMENT_KEY not in result.output


@pytest.mark.parametrize("key", [MANAGEMENT_KEY, HASHED_CONSUMER_KEY, UNKNOWN_KEY])
def test_a_key_is_compared_with_every_configured_digest(keyed_app, monkeypatch, key):
    compared = []

    def compare_digest(a, b):
        compared.append((a, b))
        return a == b

    monkeypatch.setattr(auth.hmac, "compare_digest", compare_digest)
    keyed_app.test_client().get("/s", headers={"X-API-Key": key})
    assert len(compared) == 4
    assert {b for _, b in compared} == {hashlib.sha256(key.encode()).digest()}
