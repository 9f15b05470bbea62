"""Every error answers JSON with a message and the right status, never HTML."""

import json
import time

import pytest
from factories import field, register_example, service, workflow

from machinery.strict_json import MAX_DEPTH

# Every route that reads a body, at a path that exists once the example is registered.
BODY_ROUTES = [
    ("post", "/s"),
    ("put", "/s/upper"),
    ("post", "/s/upper/impact"),
    ("post", "/w"),
    ("put", "/w/process-text"),
    ("post", "/w/process-text/dry-run"),
    ("post", "/w/dry-run"),
    ("post", "/e/process-text"),
    ("post", "/e"),
]
BODY_ROUTE_IDS = [f"{method.upper()} {path}" for method, path in BODY_ROUTES]


def nested(depth: int) -> str:
    """JSON text of objects nested `depth` levels deep."""
    return '{"a": ' * depth + '"deep"' + "}" * depth


@pytest.fixture
def example(client, services):
    return register_example(client, services)


@pytest.fixture
def keeper(client, services):
    """A workflow whose inputs are optional, calling a service that answers nothing."""
    inputs = [field("s", required=False), field("obj", "object", required=False)]
    client.post("/s", json=service("keeper", inputs=inputs, outputs=[]))
    services.answer("http://keeper.example:5000/event", lambda payload: {})
    response = client.post("/w", json=workflow("keep", ["keeper"], inputs=inputs))
    assert response.status_code == 201, response.json
    return "/e/keep"


def assert_nothing_changed(client, services):
    assert services.calls == []
    assert client.get("/e?count=true").json["total"] == 0
    assert client.get("/s/upper").json["version"] == 1
    assert client.get("/w/process-text").json["version"] == 1


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES, ids=BODY_ROUTE_IDS)
def test_a_body_nested_past_the_limit_is_refused_whole(client, example, services, method, path):
    body = '{"s": "keep me", "workflow": "process-text", "data": ' + nested(MAX_DEPTH) + "}"
    response = getattr(client, method)(path, data=body, content_type="application/json")
    assert response.status_code == 400
    assert f"nested more than {MAX_DEPTH} levels deep" in response.json["message"]
    assert_nothing_changed(client, services)


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES, ids=BODY_ROUTE_IDS)
def test_a_hundred_thousand_nested_arrays_are_refused_at_once(
    app, client, example, services, method, path
):
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    body = '{"data": ' + "[" * 100_000 + "]" * 100_000 + "}"
    started = time.monotonic()
    response = getattr(client, method)(path, data=body, content_type="application/json")
    assert time.monotonic() - started < 2
    assert response.status_code == 400
    assert f"nested more than {MAX_DEPTH} levels deep" in response.json["message"]
    assert_nothing_changed(client, services)


def test_event_data_up_to_the_nesting_limit_is_kept_whole(client, services, keeper):
    data = {"s": "keep me", "obj": json.loads(nested(MAX_DEPTH - 1))}
    response = client.post(keeper, json=data)
    assert response.status_code == 201, response.json
    assert services.calls == [("http://keeper.example:5000/event", data)]
    assert client.get(f"/e/{response.json['event_id']}").json["data"] == data


def test_event_data_past_the_nesting_limit_is_not_read_as_other_data(client, services, keeper):
    body = '{"s": "keep me", "obj": ' + nested(MAX_DEPTH) + "}"
    response = client.post(keeper, data=body, content_type="application/json")
    assert response.status_code == 400
    assert str(MAX_DEPTH) in response.json["message"]
    assert services.calls == []
    assert client.get("/e?count=true").json["total"] == 0


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES, ids=BODY_ROUTE_IDS)
@pytest.mark.parametrize("body", ["null", "[]", '[{"name": "upper"}]', '"text"', "3", "true"])
def test_a_body_that_is_not_a_json_object_is_422_saying_so(client, method, path, body):
    response = getattr(client, method)(path, data=body, content_type="application/json")
    assert response.status_code == 422
    assert response.json == {"code": 422, "message": "The body must be a JSON object."}


@pytest.mark.parametrize("path", ["/s", "/w", "/e/process-text", "/e"])
@pytest.mark.parametrize(
    "body", [b"{not json", b'{"message": NaN}', b'{"n": -Infinity}', b'{"message": "\xff"}', b""]
)
def test_malformed_json_is_400(client, path, body):
    response = client.post(path, data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.is_json
    assert "JSON" in response.json["message"]


@pytest.mark.parametrize("path", ["/s", "/w", "/e/process-text", "/e"])
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_that_is_not_json_is_415(client, path, content_type):
    response = client.post(path, data="message=hi", content_type=content_type)
    assert response.status_code == 415
    assert "application/json" in response.json["message"]


def test_json_with_a_charset_is_accepted(client):
    response = client.post(
        "/s", data='{"name": ""}', content_type="application/json; charset=utf-8"
    )
    assert response.status_code == 422


@pytest.mark.parametrize("path", ["/s", "/w", "/e/process-text"])
def test_a_body_over_the_limit_is_413(client, path):
    body = '{"message": "' + "x" * (65 * 1024) + '"}'
    response = client.post(path, data=body, content_type="application/json")
    assert response.status_code == 413
    assert response.json["message"]


@pytest.mark.parametrize(
    ("method", "path"),
    [("patch", "/s"), ("delete", "/s"), ("post", "/s/upper"), ("patch", "/w/x"), ("put", "/e")],
)
def test_unsupported_methods_are_405_with_allow(client, method, path):
    response = getattr(client, method)(path, json={})
    assert response.status_code == 405
    assert response.json["message"]
    assert response.headers["Allow"]


@pytest.mark.parametrize("path", ["/nothing", "/s/a/b", "/healthcheck/x"])
def test_unknown_routes_are_404_json(client, path):
    for response in (client.get(path), client.post(path, data="x", content_type="text/plain")):
        assert response.status_code == 404
        assert response.json["message"]


def test_an_unexpected_failure_is_a_500_json_without_internals(client, app, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(app.extensions["machinery.store"].__class__, "services", property(explode))
    response = client.get("/s")
    assert response.status_code == 500
    assert response.json == {"code": 500, "message": "Internal server error."}


def test_healthcheck_is_204(client):
    response = client.get("/healthcheck")
    assert response.status_code == 204
    assert response.data == b""


def test_the_openapi_description_lists_every_resource(client):
    spec = client.get("/openapi.json").json
    assert {"/s", "/s/{ref}", "/w", "/e", "/e/{ref}", "/healthcheck"} <= set(spec["paths"])
    assert spec["info"]["title"] == "Machinery"


UNKNOWN_QUERY_PARAMETERS = [
    ("get", "/e?workflw=process-text", None, ["workflw"]),
    ("get", "/e?workflow=process-text&stauts=failed", None, ["stauts"]),
    ("get", "/s?page=1&pge=2&size=3", None, ["pge", "size"]),
    ("get", "/w/process-text/lineage?versoin=1", None, ["versoin"]),
    ("get", "/healthcheck?x=1", None, ["x"]),
    ("get", "/readyz?verbose=1", None, ["verbose"]),
    ("get", "/openapi.json?x=1", None, ["x"]),
    ("get", "/e/{event_id}?foo=1", None, ["foo"]),
    ("get", "/s?api_key=secret", None, ["api_key"]),
    ("post", "/s?x=1", service("lower"), ["x"]),
    ("put", "/s/upper?forse=true", service("upper", outputs=[]), ["forse"]),
    ("delete", "/w/process-text?force=true", None, ["force"]),
    ("post", "/e/process-text?dry=1", {"message": "a"}, ["dry"]),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "unknown"),
    UNKNOWN_QUERY_PARAMETERS,
    ids=[f"{method.upper()} {path}" for method, path, *_ in UNKNOWN_QUERY_PARAMETERS],
)
def test_unknown_query_parameters_are_422_naming_them(
    client, example, services, method, path, body, unknown
):
    event = client.post("/e/process-text", json={"message": "a"}).json
    calls = len(services.calls)
    path = path.format(event_id=event["event_id"])
    response = getattr(client, method)(path, json=body)
    assert response.status_code == 422
    assert sorted(response.json["errors"]) == unknown
    assert all(name in response.json["message"] for name in unknown)
    assert len(services.calls) == calls
    assert client.get("/e?count=true").json["total"] == 1
    assert client.get("/s/upper").json["version"] == 1
    assert client.get("/w/process-text").json["version"] == 1


def test_no_route_ignores_an_unknown_query_parameter(app, client):
    ignored = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in ("static", "web.static"):
            continue
        path = rule.build({name: "x" for name in rule.arguments}, append_unknown=False)[1]
        for method in sorted(rule.methods - {"HEAD"}):
            response = client.open(f"{path}?zz=1", method=method, json={})
            if rule.endpoint.startswith("web."):  # the console answers HTML pages
                refused = response.status_code == 422 and b"zz" in response.data
            else:
                refused = response.status_code == 422 and "zz" in response.json["errors"]
            if not refused:
                ignored.append(f"{method} {path}: {response.status_code}")
    assert ignored == []
