"""Every error answers JSON with a message and the right status, never HTML."""

import pytest


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
