"""The client commands (get, describe, send, export, import) and machinery/client.py, against the
API served in-process through a requests adapter."""

import json

import pytest
import requests
from click.testing import CliRunner
from factories import SEED_MESSAGE, SEED_OUTPUTS, build_app, failing, register_example, service
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from machinery import cli
from machinery import client as client_module

URL = "http://machinery.test"


class FlaskAdapter(BaseAdapter):
    """Hands each request to a Flask test client, as if sent over the network."""

    def __init__(self, app):
        super().__init__()
        self.test_client = app.test_client()

    def send(self, request, **kwargs):
        path = request.path_url
        answer = self.test_client.open(
            path, method=request.method, headers=dict(request.headers), data=request.body
        )
        response = requests.Response()
        response.status_code = answer.status_code
        response.headers = CaseInsensitiveDict(answer.headers)
        response._content = answer.get_data()
        response.url = request.url
        response.request = request
        return response

    def close(self):
        pass


@pytest.fixture
def api(services, monkeypatch):
    app = build_app(services, MANAGEMENT_KEYS=["k" * 24])
    adapter = FlaskAdapter(app)

    def session():
        made = requests.sessions.Session()
        made.mount(URL, adapter)
        return made

    monkeypatch.setattr(client_module.requests, "Session", session)
    monkeypatch.setenv("MACHINERY_URL", URL)
    monkeypatch.setenv("MACHINERY_API_KEY", "k" * 24)
    yield app
    app.extensions["machinery.store"].connection.close()


@pytest.fixture
def example(api, services):
    test_client = api.test_client()
    test_client.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + "k" * 24
    register_example(test_client, services)
    return api


def run(*args, input=None):
    return CliRunner().invoke(cli.cli, list(args), input=input, catch_exceptions=False)


def test_get_lists_services_as_a_table_and_as_json(example):
    table = run("get", "services")
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert lines[0].split() == ["NAME", "VERSION", "ADDRESS", "MODE", "IDEMPOTENT"]
    assert [line.split()[0] for line in lines[1:]] == ["reverse", "space-counter", "upper"]
    listed = json.loads(run("get", "workflows", "-o", "json").output)
    assert [w["name"] for w in listed] == ["process-text"]


def test_send_answers_the_event_and_get_events_lists_it(example):
    sent = run(
        "send", "process-text", "--data", json.dumps({"message": SEED_MESSAGE}), "-o", "json"
    )
    assert sent.exit_code == 0, sent.output
    event = json.loads(sent.output)
    assert event["outputs"] == SEED_OUTPUTS
    events = run("get", "events", "--workflow", "process-text")
    assert event["event_id"] in events.output and "succeeded" in events.output
    described = run("describe", "event", event["event_id"])
    assert "status: succeeded" in described.output


def test_send_reads_data_from_a_file_and_exits_1_when_the_event_fails(example, services, tmp_path):
    services.answer(service("upper")["address"], failing("http_status", "down", 503))
    data = tmp_path / "event.json"
    data.write_text(json.dumps({"message": "hi"}))
    result = run("send", "process-text", "--data", f"@{data}")
    assert result.exit_code == 1
    assert "status: failed" in result.output


def test_send_async_queues_the_event(example):
    result = run("send", "process-text", "-d", '{"message": "x"}', "--async", "-o", "json")
    assert result.exit_code == 0
    assert json.loads(result.output)["status"] == "queued"


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (("send", "process-text", "-d", "{not json"), 2, "not JSON"),
        (("send", "process-text", "-d", "[1]"), 2, "JSON object"),
        (("send", "process-text", "-d", "{}", "--wait", "5"), 2, "--async"),
        (("send", "nowhere", "-d", "{}"), 3, "HTTP 404"),
        (("send", "process-text", "-d", '{"message": 3}'), 3, "HTTP 422"),
        (("describe", "service", "nowhere"), 3, "HTTP 404"),
        (("get", "services", "--status", "failed"), 2, "filter events only"),
    ],
)
def test_bad_requests_exit_with_a_clear_status(example, args, code, says):
    result = CliRunner().invoke(cli.cli, list(args))
    assert result.exit_code == code, result.output
    assert says in result.output


def test_a_wrong_key_is_refused_with_status_3(example):
    result = CliRunner().invoke(cli.cli, ["get", "services", "--api-key", "wrong-key-123"])
    assert result.exit_code == 3
    assert "HTTP 401" in result.output


def test_an_unreachable_api_exits_with_status_4(monkeypatch):
    monkeypatch.delenv("MACHINERY_API_KEY", raising=False)
    result = CliRunner().invoke(cli.cli, ["get", "services", "--url", "http://127.0.0.1:1"])
    assert result.exit_code == 4
    assert "Cannot reach Machinery" in result.output


def test_export_then_import_into_an_empty_machinery(example, services, tmp_path, monkeypatch):
    path = tmp_path / "export.json"
    assert run("export", "--file", str(path)).exit_code == 0
    exported = json.loads(path.read_text())
    assert sorted(s["name"] for s in exported["services"]) == ["reverse", "space-counter", "upper"]
    assert "service_id" not in exported["services"][0]
    assert "version" not in exported["workflows"][0]

    empty = build_app(services, MANAGEMENT_KEYS=["k" * 24])
    try:
        adapter = FlaskAdapter(empty)

        def session():
            made = requests.sessions.Session()
            made.mount(URL, adapter)
            return made

        monkeypatch.setattr(client_module.requests, "Session", session)
        imported = run("import", str(path))
        assert imported.exit_code == 0, imported.output
        assert imported.output.splitlines() == [
            "registered service reverse",
            "registered service space-counter",
            "registered service upper",
            "registered workflow process-text",
        ]
        again = run("import", str(path))
        assert again.exit_code == 0
        sent = run(
            "send", "process-text", "-d", json.dumps({"message": SEED_MESSAGE}), "-o", "json"
        )
        assert json.loads(sent.output)["outputs"] == SEED_OUTPUTS
    finally:
        empty.extensions["machinery.store"].connection.close()


def test_the_client_commands_import_no_store_nor_web_stack():
    import subprocess
    import sys

    probe = (
        "import sys, machinery.cli\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('flask', 'werkzeug', 'marshmallow')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


def test_the_help_lists_client_and_administration_commands_apart():
    text = run("--help").output
    client, _, admin = text.partition("Administration:")
    for name in ("get", "describe", "send", "export", "import", "apply"):
        assert f"  {name} " in client
    for name in ("init-db", "interrupt-stale", "worker", "routes"):
        assert f"  {name} " in admin
