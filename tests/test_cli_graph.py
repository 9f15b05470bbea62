"""machinery-cli graph: a workflow's graph read from a running Machinery, written to a file."""

import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

import pytest
import requests
from click.testing import CliRunner
from factories import register_example

from machinery import cli


class Answer:
    """A requests.Response-like view of a Flask test client's response."""

    def __init__(self, response):
        self.status_code = response.status_code
        self.ok = response.status_code < 400
        self.text = response.get_data(as_text=True)
        self.json = lambda: response.json


@pytest.fixture
def machinery(client, services, monkeypatch):
    """requests.get answered by the test app, as a running Machinery would."""
    register_example(client, services)
    asked = []

    def get(url, params=None, headers=None, timeout=None):
        asked.append((url, params, headers))
        return Answer(client.get(urlsplit(url).path, query_string=params, headers=headers))

    monkeypatch.setattr(cli.requests, "get", get)
    return asked


def test_graph_writes_the_svg_to_a_file(machinery, tmp_path):
    target = tmp_path / "process-text.svg"
    result = CliRunner().invoke(
        cli.cli, ["graph", "process-text", "-o", str(target), "--url", "http://m.example:5000"]
    )
    assert result.exit_code == 0, result.output
    root = ET.fromstring(target.read_text())
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert machinery[0][0] == "http://m.example:5000/w/process-text/graph"


def test_graph_prints_mermaid_with_a_key(machinery):
    result = CliRunner().invoke(
        cli.cli, ["graph", "process-text", "--format", "mermaid", "--api-key", "k"]
    )
    assert result.exit_code == 0
    assert result.output.startswith("flowchart TD")
    assert machinery[0][2] == {"Authorization": "Bearer k"}


def test_graph_of_an_unknown_workflow_fails_with_the_message(machinery):
    result = CliRunner().invoke(cli.cli, ["graph", "nothing"])
    assert result.exit_code == 1
    assert "HTTP 404" in result.output


def test_graph_says_when_machinery_cannot_be_reached(monkeypatch):
    def refuse(*args, **kwargs):
        raise requests.ConnectionError("refused")

    monkeypatch.setattr(cli.requests, "get", refuse)
    result = CliRunner().invoke(cli.cli, ["graph", "x", "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 1
    assert "Cannot reach Machinery" in result.output
