"""What the checker proves is what runs: declared outputs only, required inputs present, and
operations and lineage that keep to the documented language."""

import pytest
from factories import field, service, workflow

UPPER = "http://upper.example:5000/event"


def test_a_plain_step_merges_only_the_outputs_its_service_declares(client, services):
    client.post("/s", json=service("upper", outputs=[field("message")]))
    client.post("/s", json=service("count", inputs=[field("n", "int")], outputs=[]))
    services.answer(UPPER, lambda p: {"message": "HI", "n": "not a number", "extra": [1]})
    services.answer("http://count.example:5000/event", lambda p: {})
    definition = workflow(services=["upper", "count"], inputs=[field("message"), field("n", "int")])
    assert client.post("/w", json=definition).status_code == 201
    response = client.post("/e/process-text", json={"message": "hi", "n": 4})
    assert response.status_code == 201, response.json
    # The undeclared `n` of upper's answer does not overwrite the declared int input.
    assert services.calls[1] == ("http://count.example:5000/event", {"n": 4})
    assert response.json["outputs"] == {"message": "HI", "n": 4}
    stored = client.get(f"/e/{response.json['event_id']}").json
    assert stored["steps"][0]["outputs"] == {"message": "HI", "n": "not a number", "extra": [1]}


def test_a_required_input_whose_path_finds_nothing_fails_the_step(client, services):
    client.post("/s", json=service("charge", inputs=[field("amount", "float")], outputs=[]))
    step = {"service": "charge", "input": {"amount": "user.orders.9.amount"}}
    definition = workflow("charge-last", [step], inputs=[field("user", "object")])
    assert client.post("/w", json=definition).status_code == 201
    response = client.post("/e/charge-last", json={"user": {"orders": []}})
    assert response.status_code == 502
    error = response.json["error"]
    assert error["kind"] == "missing_input"
    assert error["step"] == 0
    assert error["message"] == (
        "input 'amount' is required, but 'user.orders.9.amount' is not in the running data."
    )
    assert error["attempts"] == 0
    assert services.calls == []  # the service is never called without what it requires
    stored = client.get(f"/e/{response.json['event_id']}").json
    assert stored["steps"][0]["error"]["kind"] == "missing_input"


def test_an_optional_input_whose_path_finds_nothing_is_left_out(client, services):
    inputs = [field("amount", "float"), field("note", required=False)]
    client.post("/s", json=service("charge", inputs=inputs, outputs=[]))
    services.answer("http://charge.example:5000/event", lambda p: {})
    step = {"service": "charge", "input": {"amount": 3.5, "note": "user.note"}}
    definition = workflow("charge", [step], inputs=[field("user", "object")])
    assert client.post("/w", json=definition).status_code == 201
    response = client.post("/e/charge", json={"user": {}})
    assert response.status_code == 201, response.json
    assert services.calls == [("http://charge.example:5000/event", {"amount": 3.5})]


@pytest.mark.parametrize("after", [-1, -2, 1, "start", True])
def test_an_operation_placed_anywhere_but_inputs_or_a_step_index_is_refused(client, after):
    client.post("/s", json=service())
    operations = [{"set": {"lang": {"const": "en"}}, "after": after}]
    response = client.post("/w", json=workflow(operations=operations))
    assert response.status_code == 422
    assert response.json["errors"]["operations"] == [
        "Operation 0: 'after' is \"inputs\" or a step index from 0 to 0."
    ]


def test_lineage_keeps_the_path_read_through_a_set(client):
    client.post("/s", json=service("label", inputs=[field("city")], outputs=[]))
    operations = [{"set": {"city": "user.address.city"}, "after": "inputs"}]
    definition = workflow(
        "where", ["label"], inputs=[field("user", "object")], operations=operations
    )
    assert client.post("/w", json=definition).status_code == 201
    lineage = client.get("/w/where/lineage").json
    assert lineage["steps"][0]["inputs"] == {
        "city": {"from": "input", "field": "user", "path": "user.address.city"}
    }


def test_a_rename_of_a_missing_name_lists_everything_there_before_the_rename(client):
    client.post("/s", json=service("upper", inputs=[], outputs=[]))
    operations = [{"rename": {"message": "text", "nope": "other"}, "after": "inputs"}]
    response = client.post("/w", json=workflow(operations=operations))
    assert response.status_code == 422
    (problem,) = response.json["problems"]
    assert problem["field"] == "nope"
    assert set(problem["available"]) == {"message"}
