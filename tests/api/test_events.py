"""/e: sending events through workflows and reading them back."""

import pytest
from factories import (
    SEED_MESSAGE,
    SEED_OUTPUTS,
    failing,
    field,
    register_example,
    service,
    workflow,
)


@pytest.fixture
def example(client, services):
    return register_example(client, services)


def test_the_seed_event_gives_the_seed_outputs(client, example):
    response = client.post("/e/process-text", json={"message": SEED_MESSAGE})
    assert response.status_code == 201
    body = response.json
    assert body["outputs"] == SEED_OUTPUTS
    assert body["status"] == "succeeded"
    assert body["workflow_id"] == example["workflow_id"]
    assert body["workflow"] == "process-text"
    assert len(body["event_id"]) == 24
    assert body["acked_at"] <= body["finished_at"]
    assert "message" not in body


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/e/process-text", {"message": SEED_MESSAGE}),
        ("/e/process-text", {"data": {"message": SEED_MESSAGE}}),
        ("/e", {"workflow": "process-text", "data": {"message": SEED_MESSAGE}}),
        ("/e/", {"workflow": "process-text", "data": {"message": SEED_MESSAGE}}),
    ],
)
def test_every_way_of_sending_an_event(client, example, path, body):
    response = client.post(path, json=body)
    assert response.status_code == 201, response.json
    assert response.json["outputs"] == SEED_OUTPUTS


def test_a_workflow_may_be_named_by_id(client, example):
    response = client.post(f"/e/{example['workflow_id']}", json={"message": SEED_MESSAGE})
    assert response.status_code == 201
    assert response.json["outputs"] == SEED_OUTPUTS


def test_each_step_receives_the_inputs_it_declares_from_the_running_data(client, services):
    client.post("/s", json=service("first", inputs=[field("a")], outputs=[field("b")]))
    client.post("/s", json=service("second", inputs=[field("a"), field("b")], outputs=[field("c")]))
    services.answer("http://first.example:5000/event", lambda p: {"b": p["a"] + "!"})
    services.answer("http://second.example:5000/event", lambda p: {"c": p["a"] + p["b"]})
    client.post(
        "/w",
        json=workflow(
            "chain", ["first", "second"], inputs=[field("a"), field("z")], outputs=[field("c")]
        ),
    )
    response = client.post("/e/chain", json={"a": "x", "z": "unused"})
    assert response.json["outputs"] == {"c": "xx!"}
    assert [payload for _, payload in services.calls] == [{"a": "x"}, {"a": "x", "b": "x!"}]


def test_without_declared_outputs_the_event_answers_all_its_running_data(client, services):
    client.post("/s", json=service(outputs=[field("message")]))
    services.answer("http://upper.example:5000/event", lambda p: {"message": "HI", "extra": 1})
    client.post("/w", json=workflow(outputs=[]))
    response = client.post("/e/process-text", json={"message": "hi"})
    assert response.json["outputs"] == {"message": "HI"}  # an undeclared answer is not merged


def test_declared_outputs_nothing_produced_are_absent(client, services):
    client.post("/s", json=service())
    services.answer("http://upper.example:5000/event", lambda p: {"message": "HI"})
    client.post("/w", json=workflow(outputs=[field("message"), field("never")]))
    assert client.post("/e/process-text", json={"message": "hi"}).json["outputs"] == {
        "message": "HI"
    }


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        ({}, {"message": ["Missing data for required field."]}),
        ({"message": 3}, {"message": ["Expected string, got int."]}),
        ({"message": None}, {"message": ["Expected string, got null."]}),
        (
            {"message": "x", "other": 1},
            {"other": ["Unknown field."]},
        ),
        ({"message": {"$gt": ""}}, {"message": ["Expected string, got object."]}),
    ],
)
def test_data_not_matching_the_inputs_is_422_per_field(client, example, services, data, errors):
    response = client.post("/e/process-text", json=data)
    assert response.status_code == 422
    assert response.json["errors"] == errors
    assert "process-text" in response.json["message"]
    assert services.calls == []
    assert client.get("/e?count=true").json["total"] == 0


def test_optional_inputs_may_be_left_out(client, services):
    client.post("/s", json=service())
    services.answer("http://upper.example:5000/event", lambda p: {"message": "HI"})
    inputs = [field("message"), field("lang", required=False)]
    client.post("/w", json=workflow(inputs=inputs))
    assert client.post("/e/process-text", json={"message": "hi"}).status_code == 201


@pytest.mark.parametrize(
    "body", ["[1, 2]", '"text"', "3", "null", '{"workflow": "process-text"}', '{"data": {}}']
)
def test_a_submission_without_workflow_and_data_object_is_422(client, example, body):
    response = client.post("/e", data=body, content_type="application/json")
    assert response.status_code == 422
    assert response.json["message"]


@pytest.mark.parametrize("body", ["[1, 2]", '"text"', "3", "null"])
def test_event_data_that_is_not_an_object_is_422(client, example, body):
    response = client.post("/e/process-text", data=body, content_type="application/json")
    assert response.status_code == 422


def test_an_unknown_workflow_is_404(client):
    response = client.post("/e/nothing", json={"message": "x"})
    assert response.status_code == 404
    assert "nothing" in response.json["message"]


@pytest.mark.parametrize(
    ("kind", "status_code", "http_status"),
    [
        ("connection_error", None, 502),
        ("http_status", 500, 502),
        ("invalid_response", 200, 502),
        ("timeout", None, 504),
    ],
)
def test_a_failing_step_fails_the_event_and_is_recorded(
    client, example, services, kind, status_code, http_status
):
    services.answer("http://reverse.example:5000/event", failing(kind, "it broke", status_code))
    response = client.post("/e/process-text", json={"message": SEED_MESSAGE})
    assert response.status_code == http_status
    body = response.json
    assert body["status"] == "failed"
    assert body["error"] == {
        "step": 1,
        "service": "reverse",
        "address": "http://reverse.example:5000/event",
        "kind": kind,
        "status_code": status_code,
        "attempts": 1,
        "message": "it broke",
    }
    assert body["message"] == "Step 1 (reverse) failed: it broke"
    assert [address for address, _ in services.calls] == [
        "http://upper.example:5000/event",
        "http://reverse.example:5000/event",
    ]
    stored = client.get(f"/e/{body['event_id']}").json
    assert stored["status"] == "failed"
    assert stored["error"] == body["error"]
    assert [step["service"] for step in stored["steps"]] == ["upper", "reverse"]
    assert stored["steps"][1]["error"] == {"kind": kind, "message": "it broke"}
    assert stored["steps"][1]["outputs"] is None


def test_the_stored_event_has_its_data_and_every_step(client, example):
    event = client.post("/e/process-text", json={"message": SEED_MESSAGE}).json
    stored = client.get(f"/e/{event['event_id']}")
    assert stored.status_code == 200
    body = stored.json
    assert body["data"] == {"message": SEED_MESSAGE}
    assert body["outputs"] == SEED_OUTPUTS
    steps = body["steps"]
    assert [(s["index"], s["service"], s["status_code"]) for s in steps] == [
        (0, "upper", 200),
        (1, "reverse", 200),
        (2, "space-counter", 200),
    ]
    assert steps[2]["outputs"] == {"space_count": 7}
    assert steps[0]["address"] == "http://upper.example:5000/event"
    assert all(step["duration_ms"] >= 0 and step["error"] is None for step in steps)


@pytest.mark.parametrize("ref", ["not-an-id", "000000000000000000000000", "6b09f0e0"])
def test_unknown_events_are_404(client, ref):
    response = client.get(f"/e/{ref}")
    assert response.status_code == 404
    assert response.json["message"]


def test_events_are_listed_newest_first_and_filtered(client, example, services):
    first = client.post("/e/process-text", json={"message": "a b"}).json
    services.answer("http://upper.example:5000/event", failing("http_status", "down", 503))
    second = client.post("/e/process-text", json={"message": "c d"}).json
    listed = client.get("/e?count=true").json
    assert [item["event_id"] for item in listed["items"]] == [
        second["event_id"],
        first["event_id"],
    ]
    assert listed["total"] == 2
    assert "steps" not in listed["items"][0]
    failed = client.get("/e?status=failed").json
    assert [item["event_id"] for item in failed["items"]] == [second["event_id"]]
    by_name = client.get("/e?workflow=process-text&status=succeeded").json
    assert [item["event_id"] for item in by_name["items"]] == [first["event_id"]]
    by_id = client.get(f"/e?workflow={example['workflow_id']}&count=true").json
    assert by_id["total"] == 2
    assert client.get("/e?workflow=other&count=true").json["total"] == 0
    assert client.get("/e?page=2&page_size=1").json["items"][0]["event_id"] == first["event_id"]


def test_an_unknown_status_filter_is_422(client):
    response = client.get("/e?status=exploded")
    assert response.status_code == 422
    assert "status" in response.json["errors"]


def test_events_stay_readable_after_their_workflow_is_deleted(client, example):
    event = client.post("/e/process-text", json={"message": "a b"}).json
    assert client.delete("/w/process-text").status_code == 204
    assert client.get(f"/e/{event['event_id']}").json["outputs"] == {
        "message": "B A",
        "space_count": 1,
    }
    assert client.get("/e?workflow=process-text&count=true").json["total"] == 1


def test_the_stored_steps_and_the_failure_say_how_many_attempts(client, services):
    retry = {"max_attempts": 2, "interval": 0, "on": [503]}
    definition = {**service(), "idempotent": True, "retry": retry}
    assert client.post("/s", json=definition).status_code == 201
    client.post("/w", json=workflow())
    services.answer("http://upper.example:5000/event", failing("http_status", "busy", 503))
    response = client.post("/e/process-text", json={"message": "x"})
    assert response.status_code == 502
    assert response.json["error"]["attempts"] == 2
    assert response.json["message"] == "Step 0 (upper) failed: busy (after 2 attempts)"
    steps = client.get(f"/e/{response.json['event_id']}").json["steps"]
    assert [a["attempt"] for a in steps[0]["attempts"]] == [1, 2]
    assert {a["outcome"] for a in steps[0]["attempts"]} == {"failed"}
    assert steps[0]["attempts"][0]["error_kind"] == "http_status"
    headers = [options.headers for options in services.options]
    assert headers[0]["Idempotency-Key"] == headers[1]["Idempotency-Key"]
    assert headers[0]["X-Machinery-Event-Id"] == response.json["event_id"]


def test_a_service_shows_its_call_settings(client):
    definition = {**service(), "idempotent": True, "timeout": 2.5, "retry": {"max_attempts": 4}}
    body = client.post("/s", json=definition).json
    assert body["idempotent"] is True
    assert body["timeout"] == 2.5
    assert body["retry"]["max_attempts"] == 4
    assert body["retry"]["interval"] == 1.0


@pytest.mark.parametrize(
    "change",
    [
        {"timeout": 0},
        {"timeout": "soon"},
        {"timeout": {"read": -1}},
        {"retry": {"max_attempts": 0}},
        {"retry": {"on": [200]}},
        {"retry": {"on": ["sometimes"]}},
        {"retry": {"backoff_rate": 0.5}},
        {"idempotent": "yes"},
    ],
)
def test_bad_call_settings_are_422(client, change):
    response = client.post("/s", json={**service(), **change})
    assert response.status_code == 422
    assert set(change) <= set(response.json["errors"])


@pytest.mark.parametrize(
    ("query", "status"),
    [("?async=true", 202), ("?async=false", 201), ("?async=1", 422), ("?async=yes", 422)],
)
def test_async_in_the_query_is_true_or_false(client, services, query, status):
    register_example(client, services)
    response = client.post(f"/e/process-text{query}", json={"message": "hi"})
    assert response.status_code == status, response.json
