"""What the server's logging hides: keys in query strings, headers and URLs."""

import base64
import io
import logging
import logging.config
from datetime import timedelta
from types import SimpleNamespace

import pytest
from gunicorn.config import Config

from machinery.logs import GunicornLogger, RedactSecrets, logging_config, redact, redact_query


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "GET /s?api_key=abc&page=2 HTTP/1.1",
            "GET /s?api_key=[redacted]&page=2 HTTP/1.1",
        ),
        ("/e?workflow=w&status=failed&page_size=3", "/e?workflow=w&status=failed&page_size=3"),
        (
            "/s?token=a;Access-Token=b&apikey=c",
            "/s?token=[redacted];Access-Token=[redacted]&apikey=[redacted]",
        ),
        ("/s?api%5Fkey=abc", "/s?api%5Fkey=[redacted]"),
        (
            "/x?client_secret=a&password=b&X-Amz-Signature=c&sig=d",
            "/x?client_secret=[redacted]&password=[redacted]&X-Amz-Signature=[redacted]&sig=[redacted]",
        ),
        ("mongodb://user:pass@db:27017/x", "mongodb://user:[redacted]@db:27017/x"),
        ("Authorization: Bearer abcdefghijkl", "Authorization: Bearer [redacted]"),
        ("X-API-Key: abcdef", "X-API-Key: [redacted]"),
        (
            "Send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'.",
            "Send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'.",
        ),
    ],
)
def test_secrets_are_hidden_and_the_rest_kept(text, expected):
    assert redact(text) == expected


def test_a_query_string_alone_is_redacted():
    assert redact_query("api_key=abc&page=2") == "api_key=[redacted]&page=2"


def test_the_access_log_hides_every_atom_holding_a_secret():
    logger = GunicornLogger(Config())
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/s?api_key=k1&page=1",
        "PATH_INFO": "/s",
        "QUERY_STRING": "api_key=k1&page=1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_AUTHORIZATION": "Basic " + base64.b64encode(b"k2:x").decode(),
        "HTTP_X_API_KEY": "k3",
        "HTTP_REFERER": "http://example.test/?token=k4",
        "REMOTE_ADDR": "127.0.0.1",
    }
    request = SimpleNamespace(
        headers=[("AUTHORIZATION", environ["HTTP_AUTHORIZATION"]), ("X-API-KEY", "k3")]
    )
    response = SimpleNamespace(status="200 OK", headers=[], sent=2)
    atoms = logger.atoms(response, request, environ, timedelta(seconds=1))
    assert atoms["r"] == "GET /s?api_key=[redacted]&page=1 HTTP/1.1"
    assert atoms["q"] == "api_key=[redacted]&page=1"
    assert atoms["u"] == "-"
    assert atoms["f"] == "http://example.test/?token=[redacted]"
    assert atoms["{authorization}i"] == atoms["{x-api-key}i"] == "[redacted]"
    assert atoms["{http_authorization}e"] == atoms["{http_x_api_key}e"] == "[redacted]"
    assert not any(k in str(v) for v in atoms.values() for k in ("k1", "k2", "k3", "k4"))


def test_the_configuration_writes_machinery_records_at_the_level_through_the_filter():
    config = logging_config("info")
    assert config["root"]["level"] == "INFO"
    assert config["loggers"]["gunicorn.error"]["level"] == "INFO"
    for handler in config["handlers"].values():
        assert handler["filters"][0] == "secrets"
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecrets())
    log = logging.getLogger("machinery.test_logs")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        log.info("Called %s", "http://svc/?token=abc")
    finally:
        log.removeHandler(handler)
    assert stream.getvalue() == "Called http://svc/?token=[redacted]\n"
