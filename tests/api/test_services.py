"""/s: registering, reading, replacing and removing services."""

import pytest
from factories import field, service, workflow


def test_register_answers_201_with_the_id_name_and_date(client):
    response = client.post("/s", json=service())
    assert response.status_code == 201
    body = response.json
    assert len(body["service_id"]) == 24
    assert body["name"] == "upper"
    assert body["created_at"].endswith("+00:00")
    assert body["inputs"] == [
        {"name": "message", "type": "string", "description": "", "required": True}
    ]


def test_registering_the_same_definition_again_is_idempotent(client):
    first = client.post("/s", json=service()).json
    again = client.post("/s", json=service())
    assert again.status_code == 201
    assert again.json["service_id"] == first["service_id"]
    assert client.get("/s?count=true").json["total"] == 1


def test_the_same_name_with_another_definition_is_a_conflict_pointing_at_put(client):
    client.post("/s", json=service())
    response = client.post("/s", json=service(address="http://elsewhere:1/event"))
    assert response.status_code == 409
    assert "PUT /s/upper" in response.json["message"]
    assert client.get("/s/upper").json["address"] == "http://upper.example:5000/event"


@pytest.mark.parametrize(
    ("alias", "canonical"), [("integer", "int"), ("number", "float"), ("boolean", "bool")]
)
def test_type_aliases_are_stored_canonically(client, alias, canonical):
    definition = service(outputs=[field("value", alias)])
    body = client.post("/s", json=definition).json
    assert body["outputs"][0]["type"] == canonical


@pytest.mark.parametrize(
    ("change", "field_name"),
    [
        ({"name": ""}, "name"),
        ({"name": "has space"}, "name"),
        ({"name": "x" * 65}, "name"),
        ({"name": 7}, "name"),
        ({"address": "ftp://host/file"}, "address"),
        ({"address": "/relative/path"}, "address"),
        ({"address": "not a url"}, "address"),
        ({"inputs": [{"name": "message", "type": "text"}]}, "inputs"),
        ({"inputs": [{"type": "string"}]}, "inputs"),
        ({"inputs": "message"}, "inputs"),
        ({"outputs": [field("a"), field("a")]}, "outputs"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
def test_invalid_definitions_are_422_naming_the_field(client, change, field_name):
    response = client.post("/s", json={**service(), **change})
    assert response.status_code == 422
    assert field_name in response.json["errors"]
    assert response.json["message"]


def test_missing_fields_are_each_reported(client):
    response = client.post("/s", json={})
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"name", "address"}


def test_get_by_name_or_id(client):
    created = client.post("/s", json=service()).json
    assert client.get("/s/upper").json == created
    assert client.get(f"/s/{created['service_id']}").json == created


@pytest.mark.parametrize("ref", ["nothing", "000000000000000000000000", "$gt", "a.b"])
def test_unknown_services_are_404(client, ref):
    response = client.get(f"/s/{ref}")
    assert response.status_code == 404
    assert ref in response.json["message"]


def test_list_is_paginated_by_name(client):
    for name in ("c", "a", "b"):
        client.post("/s", json=service(name))
    first = client.get("/s?page_size=2&count=true").json
    assert [item["name"] for item in first["items"]] == ["a", "b"]
    assert (first["page"], first["page_size"], first["total"]) == (1, 2, 3)
    second = client.get("/s?page=2&page_size=2").json
    assert [item["name"] for item in second["items"]] == ["c"]


@pytest.mark.parametrize("query", ["page=0", "page=x", "page_size=0", "page_size=101"])
def test_bad_page_arguments_are_422(client, query):
    assert client.get(f"/s?{query}").status_code == 422


def test_put_replaces_the_definition_keeping_id_and_creation_date(client):
    created = client.post("/s", json=service()).json
    replaced = client.put("/s/upper", json={**service(), "address": "http://new:1/event"})
    assert replaced.status_code == 200
    assert replaced.json["address"] == "http://new:1/event"
    assert replaced.json["service_id"] == created["service_id"]
    assert replaced.json["created_at"] == created["created_at"]
    assert client.get("/s/upper").json["address"] == "http://new:1/event"


def test_put_may_leave_the_name_out_but_not_rename(client):
    client.post("/s", json=service())
    definition = service()
    del definition["name"]
    assert client.put("/s/upper", json=definition).status_code == 200
    renamed = client.put("/s/upper", json={**definition, "name": "lower"})
    assert renamed.status_code == 422
    assert "name" in renamed.json["errors"]


def test_put_on_an_unknown_service_is_404(client):
    assert client.put("/s/nothing", json=service("nothing")).status_code == 404


def test_delete_removes_the_service(client):
    client.post("/s", json=service())
    assert client.delete("/s/upper").status_code == 204
    assert client.get("/s/upper").status_code == 404
    assert client.delete("/s/upper").status_code == 404


def test_a_service_a_workflow_uses_cannot_be_deleted(client):
    client.post("/s", json=service())
    client.post("/w", json=workflow())
    response = client.delete("/s/upper")
    assert response.status_code == 409
    assert response.json["workflows"] == ["process-text"]
    assert client.get("/s/upper").status_code == 200
