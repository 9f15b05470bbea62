"""/w: composing registered services into workflows."""

import pytest
from factories import service, workflow


@pytest.fixture
def upper(client):
    return client.post("/s", json=service()).json


def test_register_answers_201_with_the_id(client, upper):
    response = client.post("/w", json=workflow())
    assert response.status_code == 201
    assert len(response.json["workflow_id"]) == 24
    assert response.json["services"] == ["upper"]
    assert response.json["operations"] == []


def test_a_service_may_repeat(client, upper):
    response = client.post("/w", json=workflow(services=["upper", "upper"]))
    assert response.status_code == 201
    assert response.json["services"] == ["upper", "upper"]


def test_unregistered_services_are_a_409_naming_each(client, upper):
    response = client.post("/w", json=workflow(services=["upper", "missing-b", "missing-a"]))
    assert response.status_code == 409
    assert response.json["missing_services"] == ["missing-a", "missing-b"]
    assert "missing-a" in response.json["message"]
    assert "missing-b" in response.json["message"]
    assert client.get("/w/process-text").status_code == 404


def test_registering_the_same_workflow_again_is_idempotent(client, upper):
    first = client.post("/w", json=workflow()).json
    again = client.post("/w", json=workflow())
    assert again.status_code == 201
    assert again.json["workflow_id"] == first["workflow_id"]


def test_another_definition_under_the_same_name_is_a_409(client, upper):
    client.post("/w", json=workflow())
    response = client.post("/w", json=workflow(services=["upper", "upper"]))
    assert response.status_code == 409
    assert "PUT /w/process-text" in response.json["message"]


@pytest.mark.parametrize(
    "operations",
    [[], {}, [{"set": {"copy": "message"}, "after": "inputs"}, {"pick": ["message"]}]],
)
def test_operations_are_kept_as_given(client, upper, operations):
    body = client.post("/w", json=workflow(operations=operations)).json
    assert body["operations"] == operations


@pytest.mark.parametrize(
    ("change", "field_name"),
    [
        ({"services": []}, "services"),
        ({"services": "upper"}, "services"),
        ({"services": ["bad name"]}, "services"),
        ({"operations": "none"}, "operations"),
        ({"operations": {"pick": ["a"]}}, "operations"),
        ({"operations": [{"pick": ["a"], "rename": {"a": "b"}}]}, "operations"),
        ({"operations": [{"pick": ["a"], "after": 3}]}, "operations"),
        ({"name": "white space"}, "name"),
        ({"inputs": [{"name": "x", "type": "blob"}]}, "inputs"),
    ],
)
def test_invalid_workflows_are_422(client, upper, change, field_name):
    response = client.post("/w", json={**workflow(), **change})
    assert response.status_code == 422
    assert field_name in response.json["errors"]


def test_get_list_put_delete(client, upper):
    created = client.post("/w", json=workflow()).json
    assert created.pop("warnings") == []
    assert client.get("/w/process-text").json == created
    assert client.get(f"/w/{created['workflow_id']}").json == created
    assert client.get("/w?count=true").json["total"] == 1
    replaced = client.put("/w/process-text", json=workflow(services=["upper", "upper"]))
    assert replaced.status_code == 200
    assert replaced.json["services"] == ["upper", "upper"]
    assert replaced.json["workflow_id"] == created["workflow_id"]
    assert client.delete("/w/process-text").status_code == 204
    assert client.get("/w/process-text").status_code == 404


def test_put_with_unregistered_services_is_a_409_and_changes_nothing(client, upper):
    client.post("/w", json=workflow())
    response = client.put("/w/process-text", json=workflow(services=["nope"]))
    assert response.status_code == 409
    assert response.json["missing_services"] == ["nope"]
    assert client.get("/w/process-text").json["services"] == ["upper"]


def test_unknown_workflows_are_404(client):
    assert client.get("/w/nothing").status_code == 404
    assert client.put("/w/nothing", json=workflow("nothing")).status_code == 404
    assert client.delete("/w/nothing").status_code == 404
