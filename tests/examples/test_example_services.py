"""Tests of the example services and of the definitions that describe them."""

import importlib.util
import json
from functools import cache
from pathlib import Path
from typing import NamedTuple

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DEFINITIONS = EXAMPLES / "definitions"


class Example(NamedTuple):
    """What one example service should be: its registered name, port, definition, URL variable."""

    name: str
    port: int
    definition: str
    url_variable: str


# By folder under examples/services.
SERVICES = {
    "upper": Example("upper", 5001, "service-upper.json", "UPPER_URL"),
    "reverse": Example("reverse", 5002, "service-reverse.json", "REVERSE_URL"),
    "space_counter": Example(
        "space-counter", 5003, "service-space-counter.json", "SPACE_COUNTER_URL"
    ),
}
SEED_OUTPUTS = {"message": "! GNINROM EHT NI ESIR LLIW NUS EHT", "space_count": 7}


@cache
def load_app(folder: str):
    """Import examples/services/<folder>/app.py under a name of its own and return its app."""
    path = EXAMPLES / "services" / folder / "app.py"
    spec = importlib.util.spec_from_file_location(f"example_{folder}_app", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app


def read_definition(file_name: str) -> dict:
    return json.loads((DEFINITIONS / file_name).read_text())


@pytest.fixture(params=sorted(SERVICES))
def folder(request) -> str:
    return request.param


@pytest.fixture
def client(folder):
    return load_app(folder).test_client()


@pytest.mark.parametrize(
    ("folder", "message", "expected"),
    [
        ("upper", "The Sun will rise", {"message": "THE SUN WILL RISE"}),
        ("upper", "", {"message": ""}),
        ("reverse", "The Sun will rise", {"message": "esir lliw nuS ehT"}),
        ("reverse", "été ok", {"message": "ko été"}),
        ("space_counter", "The Sun will rise", {"space_count": 3}),
        ("space_counter", "no_space", {"space_count": 0}),
    ],
)
def test_event_answers_the_transformed_message(folder, message, expected):
    response = load_app(folder).test_client().post("/event", json={"message": message})
    assert response.status_code == 200
    assert response.get_json() == expected


def test_event_ignores_fields_it_does_not_declare(client):
    response = client.post("/event", json={"message": "a b", "other": 1})
    assert response.status_code == 200
    assert "other" not in response.get_json()


def test_seed_event_runs_through_the_process_text_workflow():
    workflow = read_definition("workflow-process-text.json")
    folders = {example.name: folder for folder, example in SERVICES.items()}
    data = read_definition("event-process-text.json")
    for service_name in workflow["services"]:
        app = load_app(folders[service_name])
        declared = [field["name"] for field in app.test_client().get("/infos").get_json()["inputs"]]
        response = app.test_client().post("/event", json={name: data[name] for name in declared})
        assert response.status_code == 200
        data |= response.get_json()
    outputs = {field["name"]: data[field["name"]] for field in workflow["outputs"]}
    assert outputs == SEED_OUTPUTS


@pytest.mark.parametrize(
    "body",
    [
        {"json": {}},
        {"json": {"text": "hello"}},
        {"json": {"message": 42}},
        {"json": {"message": None}},
        {"json": {"message": True}},
        {"json": {"message": ["hello"]}},
        {"json": ["hello"]},
        {"json": "hello"},
        {"data": "{not json", "content_type": "application/json"},
        {"data": '{"message": "hello"}', "content_type": "text/plain"},
        {},
    ],
    ids=[
        "empty-object",
        "missing-message",
        "int-message",
        "null-message",
        "bool-message",
        "list-message",
        "json-list",
        "json-string",
        "invalid-json",
        "not-application-json",
        "no-body",
    ],
)
def test_event_rejects_a_bad_body_with_a_json_400(client, body):
    response = client.post("/event", **body)
    assert response.status_code == 400
    assert response.is_json
    assert isinstance(response.get_json()["message"], str)


def test_event_names_the_faulty_field(client):
    assert "message" in client.post("/event", json={}).get_json()["message"]
    assert "message" in client.post("/event", json={"message": 1}).get_json()["message"]


def test_healthcheck_answers_204_without_a_body(client):
    response = client.get("/healthcheck")
    assert response.status_code == 204
    assert response.data == b""


def test_infos_describe_the_service(client, folder):
    response = client.get("/infos")
    assert response.status_code == 200
    infos = response.get_json()
    assert set(infos) == {"name", "description", "inputs", "outputs"}
    assert infos["name"] == SERVICES[folder].name
    assert infos["description"]
    assert [field["name"] for field in infos["inputs"]] == ["message"]
    for field in infos["inputs"] + infos["outputs"]:
        assert set(field) == {"name", "type", "description"}
        assert field["type"] in {"string", "int"}


def test_definition_matches_the_service(client, folder):
    example = SERVICES[folder]
    definition = read_definition(example.definition)
    infos = client.get("/infos").get_json()
    assert set(definition) == {"name", "address", "inputs", "outputs"}
    assert definition["name"] == example.name
    default_url = f"http://127.0.0.1:{example.port}"
    assert definition["address"] == f"${{{example.url_variable}:-{default_url}}}/event"
    assert definition["inputs"] == infos["inputs"]
    assert definition["outputs"] == infos["outputs"]


def test_workflow_definition_declares_the_seed_outputs():
    workflow = read_definition("workflow-process-text.json")
    assert workflow["name"] == "process-text"
    assert workflow["services"] == ["upper", "reverse", "space-counter"]
    assert workflow["operations"] == []
    assert [(f["name"], f["type"]) for f in workflow["inputs"]] == [("message", "string")]
    assert [(f["name"], f["type"]) for f in workflow["outputs"]] == [
        ("message", "string"),
        ("space_count", "int"),
    ]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("get", "/unknown", 404),
        ("post", "/unknown", 404),
        ("get", "/event", 405),
        ("put", "/event", 405),
        ("post", "/healthcheck", 405),
        ("delete", "/infos", 405),
    ],
)
def test_unknown_routes_and_methods_answer_json(client, method, path, status):
    response = getattr(client, method)(path)
    assert response.status_code == status
    assert response.is_json
    assert isinstance(response.get_json()["message"], str)
