"""What Machinery under gunicorn writes to its log: its own records, and never a secret."""

import base64
import time
import uuid

import pytest
import requests
from processes import start_api

MANAGEMENT_KEY = "management-" + uuid.uuid4().hex
# An access log format printing every atom that could carry a secret.
EVERY_ATOM = (
    '%(h)s %(u)s "%(r)s" %(s)s q=%(q)s f=%(f)s auth=%({authorization}i)s key=%({x-api-key}i)s '
    "env=%({query_string}e)s %({raw_uri}e)s %({http_authorization}e)s %({http_x_api_key}e)s "
    "%({werkzeug.request}e)s"
)


def secret() -> str:
    return "secret-" + uuid.uuid4().hex


def wait_for(process, text: str, timeout: float = 5.0) -> str:
    """The process's output once it holds `text` (the access log is written after the answer)."""
    deadline = time.monotonic() + timeout
    while True:
        output = process.log.read_text(errors="replace")
        if text in output or time.monotonic() > deadline:
            return output
        time.sleep(0.05)


def keyed_api(logs, mongo_uri, name, **env):
    env = {
        "MONGO_URI": mongo_uri,
        "MONGO_DB": f"logs_{uuid.uuid4().hex[:8]}",
        "MACHINERY_MANAGEMENT_KEYS": MANAGEMENT_KEY,
        **env,
    }
    return start_api(logs, env, name=name)


@pytest.fixture(scope="module")
def api(logs, mongo_uri):
    """Machinery with a management key, logging as gunicorn.conf.py says."""
    process, url = keyed_api(logs, mongo_uri, "api-logs")
    yield process, url
    process.stop()


@pytest.fixture(scope="module")
def api_logging_every_atom(logs, mongo_uri):
    """The same, at debug level, with an access log format asking for every secret it could."""
    process, url = keyed_api(
        logs,
        mongo_uri,
        "api-logs-every-atom",
        LOG_LEVEL="debug",
        GUNICORN_CMD_ARGS=f"--access-logformat '{EVERY_ATOM}'",
    )
    yield process, url
    process.stop()


@pytest.mark.parametrize("server", ["api", "api_logging_every_atom"])
def test_no_secret_sent_in_a_url_or_a_header_reaches_the_log(server, request):
    process, url = request.getfixturevalue(server)
    secrets = {name: secret() for name in ("api_key", "token", "bearer", "x-api-key", "basic")}
    referer_secret = secret()
    basic = base64.b64encode(f"{secrets['basic']}:x".encode()).decode()
    bearer = {"Authorization": f"Bearer {MANAGEMENT_KEY}"}
    answers = [
        requests.get(f"{url}/s?api_key={secrets['api_key']}&page=1", timeout=5),
        requests.get(f"{url}/s?Access_Token={secrets['token']}", headers=bearer, timeout=5),
        requests.get(
            f"{url}/s", headers={"Authorization": f"Bearer {secrets['bearer']}"}, timeout=5
        ),
        requests.get(f"{url}/s", headers={"X-API-Key": secrets["x-api-key"]}, timeout=5),
        requests.get(f"{url}/s", headers={"Authorization": f"Basic {basic}"}, timeout=5),
        requests.get(
            f"{url}/s?page=2",
            headers={**bearer, "Referer": f"http://example.test/?access_token={referer_secret}"},
            timeout=5,
        ),
    ]
    assert [answer.status_code for answer in answers] == [401, 401, 401, 401, 401, 200]
    output = wait_for(process, '"GET /s?page=2 HTTP/1.1" 200')
    # The request lines are there, with their path and the parameters that are no secret.
    assert '"GET /s?api_key=[redacted]&page=1 HTTP/1.1" 401' in output
    assert '"GET /s?Access_Token=[redacted] HTTP/1.1" 401' in output
    assert '"GET /s?page=2 HTTP/1.1" 200' in output
    for value in [*secrets.values(), referer_secret, MANAGEMENT_KEY, basic]:
        assert value not in output


def test_a_refused_request_is_logged_at_info_with_its_method_path_and_reason(api):
    process, url = api
    assert requests.get(f"{url}/w", timeout=5).status_code == 401
    output = wait_for(process, "Refused GET /w")
    lines = [line for line in output.splitlines() if "Refused GET /w" in line]
    assert lines, output[-3000:]
    assert "INFO" in lines[0]
    assert "Refused GET /w: 401 An API key is required." in lines[0]


@pytest.fixture(scope="module")
def api_logging_json(logs, mongo_uri):
    """The same, writing JSON lines (as the image does)."""
    process, url = keyed_api(logs, mongo_uri, "api-logs-json", MACHINERY_LOG_FORMAT="json")
    yield process, url
    process.stop()


def test_json_lines_carry_the_request_id_and_no_secret(api_logging_json):
    import json

    process, url = api_logging_json
    key = secret()
    request_id = "req-" + uuid.uuid4().hex[:12]
    response = requests.get(
        f"{url}/s", headers={"Authorization": f"Bearer {key}", "X-Request-Id": request_id}
    )
    assert response.status_code == 401
    assert response.headers["X-Request-Id"] == request_id
    # The access line is written once the answer is sent: wait for it.
    access = '"logger": "gunicorn.access", "process": '
    for _ in range(100):
        output = process.log.read_text(errors="replace")
        lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
        about = [line for line in lines if line.get("request_id") == request_id]
        if any(line["logger"] == "gunicorn.access" for line in about):
            break
        time.sleep(0.05)
    assert access in output
    assert lines and all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    assert {line["logger"] for line in about} == {"machinery.auth", "gunicorn.access"}, about
    assert key not in output
