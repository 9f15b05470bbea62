"""Typed workflows through the API: flow checks, lineage, versions, impact, dry runs, contracts."""

import pytest
from factories import SEED_MESSAGE, SEED_OUTPUTS, field, register_example, service, workflow


@pytest.fixture
def example(client, services):
    return register_example(client, services)


def test_an_input_nothing_satisfies_is_refused_with_the_exact_problem(client):
    client.post("/s", json=service("counter", inputs=[field("text")], outputs=[]))
    response = client.post("/w", json=workflow("w", ["counter"], inputs=[field("message")]))
    assert response.status_code == 422
    problem = response.json["problems"][0]
    assert problem["message"] == (
        "Step 0 (counter): input 'text' (string) can be satisfied by nothing: 'text' is not in "
        "the running data here, which holds message (string, workflow input)."
    )
    assert problem["code"] == "unsatisfied"
    assert (problem["step"], problem["service"], problem["field"]) == (0, "counter", "text")
    assert problem["available"] == {"message": {"type": "string", "from": "workflow input"}}
    assert response.json["message"].startswith("The data of workflow 'w' cannot flow: 1 problem.")
    assert client.get("/w/w").status_code == 404


def test_a_type_that_does_not_fit_is_refused(client):
    client.post("/s", json=service("count", outputs=[field("n", "int")]))
    client.post("/s", json=service("shout", inputs=[field("n")]))
    response = client.post("/w", json=workflow("w", ["count", "shout"]))
    assert response.status_code == 422
    assert response.json["problems"][0]["message"] == (
        "Step 1 (shout): input 'n' expects string, but 'n' is int "
        "(from output 'n' of step 0 (count))."
    )


def test_an_int_fits_a_float(client):
    client.post("/s", json=service("count", outputs=[field("n", "int")]))
    client.post("/s", json=service("half", inputs=[field("n", "float")], outputs=[]))
    assert client.post("/w", json=workflow("w", ["count", "half"])).status_code == 201


def test_outputs_nothing_produces_are_warnings_and_absent_from_events(client, services):
    client.post("/s", json=service())
    services.answer("http://upper.example:5000/event", lambda p: {"message": "HI"})
    outputs = [field("message"), field("space_count", "int")]
    response = client.post("/w", json=workflow(outputs=outputs))
    assert response.status_code == 201
    assert response.json["warnings"] == [
        {
            "output": "space_count",
            "message": "Workflow output 'space_count' is produced by nothing; "
            "events will not have it.",
        }
    ]
    event = client.post("/e/process-text", json={"message": "hi"}).json
    assert event["outputs"] == {"message": "HI"}


def test_mappings_keep_one_answer_from_overwriting_another(client, services):
    """The seed example, where space-counter answers `message` as the original did."""
    for name, transform, outputs in (
        ("upper", lambda p: {"message": p["message"].upper()}, [field("message")]),
        ("reverse", lambda p: {"message": p["message"][::-1]}, [field("message")]),
        ("counter", lambda p: {"message": p["message"].count(" ")}, [field("message", "int")]),
    ):
        client.post("/s", json=service(name, outputs=outputs))
        services.answer(f"http://{name}.example:5000/event", transform)
    steps = ["upper", "reverse", {"service": "counter", "output": {"space_count": "message"}}]
    outputs = [field("message"), field("space_count", "int")]
    assert client.post("/w", json=workflow(services=steps, outputs=outputs)).status_code == 201
    event = client.post("/e/process-text", json={"message": SEED_MESSAGE}).json
    assert event["outputs"] == SEED_OUTPUTS


def test_input_mappings_take_paths_and_literals(client, services):
    client.post(
        "/s",
        json=service("greet", inputs=[field("name"), field("greeting")], outputs=[field("text")]),
    )
    services.answer(
        "http://greet.example:5000/event", lambda p: {"text": f"{p['greeting']} {p['name']}"}
    )
    step = {"service": "greet", "input": {"name": "user.name", "greeting": {"const": "Hello"}}}
    definition = workflow(
        "greeting", [step], inputs=[field("user", "object")], outputs=[field("text")]
    )
    assert client.post("/w", json=definition).status_code == 201
    event = client.post("/e/greeting", json={"user": {"name": "Ada"}}).json
    assert event["outputs"] == {"text": "Hello Ada"}
    lineage = client.get("/w/greeting/lineage").json
    assert lineage["steps"][0]["inputs"] == {
        "name": {"from": "input", "field": "user", "path": "user.name"},
        "greeting": {"from": "literal", "value": "Hello"},
    }
    assert lineage["outputs"] == {
        "text": {"from": "step", "step": 0, "service": "greet", "field": "text"}
    }


def test_operations_shape_the_running_data(client, services):
    client.post("/s", json=service())
    services.answer("http://upper.example:5000/event", lambda p: {"message": p["message"].upper()})
    operations = [
        {"after": "inputs", "set": {"original": "message"}},
        {"rename": {"message": "shout"}},
        {"set": {"lang": {"const": "en"}}},
    ]
    outputs = [field("original"), field("shout"), field("lang")]
    definition = workflow(outputs=outputs, operations=operations)
    response = client.post("/w", json=definition)
    assert response.status_code == 201, response.json
    event = client.post("/e/process-text", json={"message": "hi"}).json
    assert event["outputs"] == {"original": "hi", "shout": "HI", "lang": "en"}


def test_a_service_answer_breaking_its_contract_fails_the_step(client, example, services):
    services.answer("http://space-counter.example:5000/event", lambda p: {"space_count": "7"})
    response = client.post("/e/process-text", json={"message": SEED_MESSAGE})
    assert response.status_code == 502
    error = response.json["error"]
    assert error["kind"] == "contract_violation"
    assert error["message"] == "output 'space_count' is string, expected int."
    stored = client.get(f"/e/{response.json['event_id']}").json
    assert stored["steps"][2]["outputs"] == {"space_count": "7"}


def test_a_missing_declared_output_fails_the_step(client, example, services):
    services.answer("http://space-counter.example:5000/event", lambda p: {})
    response = client.post("/e/process-text", json={"message": SEED_MESSAGE})
    assert response.json["error"]["message"] == "output 'space_count' (int) is missing."


def test_put_makes_a_new_version_and_the_old_stays_readable(client, example):
    changed = workflow(services=["upper", "space-counter"], outputs=[field("space_count", "int")])
    replaced = client.put("/w/process-text", json=changed)
    assert replaced.status_code == 200
    assert replaced.json["version"] == 2
    assert client.get("/w/process-text").json["services"] == ["upper", "space-counter"]
    old = client.get("/w/process-text?version=1").json
    assert old["services"] == ["upper", "reverse", "space-counter"]
    assert old["workflow_id"] == example["workflow_id"]
    versions = client.get("/w/process-text/versions").json
    assert [v["version"] for v in versions] == [1, 2]
    assert client.get("/w/process-text?version=3").status_code == 404
    event = client.post("/e/process-text", json={"message": "a b"}).json
    assert event["workflow_version"] == 2


def test_an_event_runs_on_the_definitions_current_when_it_was_accepted(
    client, app, example, services
):
    repository = app.extensions["machinery.store"].services
    moved = {**service("reverse"), "address": "http://moved.example:5000/event"}

    def upper_then_move_reverse(payload):
        repository.replace("reverse", moved)
        return {"message": payload["message"].upper()}

    services.answer("http://upper.example:5000/event", upper_then_move_reverse)
    event = client.post("/e/process-text", json={"message": SEED_MESSAGE})
    assert event.status_code == 201
    assert event.json["outputs"] == SEED_OUTPUTS
    steps = client.get(f"/e/{event.json['event_id']}").json["steps"]
    assert steps[1]["address"] == "http://reverse.example:5000/event"
    assert steps[1]["service_version"] == 1
    assert client.get("/s/reverse").json["version"] == 2


def test_a_breaking_service_change_is_refused_naming_each_broken_workflow(client, example):
    broken = service("space-counter", outputs=[field("count", "int")])
    response = client.put("/s/space-counter", json=broken)
    assert response.status_code == 409
    [entry] = response.json["workflows"]
    assert entry["workflow"] == "process-text"
    assert entry["lost_outputs"][0]["output"] == "space_count"
    assert client.get("/s/space-counter").json["version"] == 1

    impact = client.post("/s/space-counter/impact", json=broken)
    assert impact.status_code == 200
    assert impact.json["compatible"] is False
    assert client.get("/s/space-counter").json["version"] == 1

    forced = client.put("/s/space-counter?force=true", json=broken)
    assert forced.status_code == 200
    assert forced.json["version"] == 2


def test_a_type_change_breaks_the_workflows_that_read_it(client, services):
    client.post("/s", json=service("upper"))
    client.post("/s", json=service("reverse"))
    client.post("/w", json=workflow(services=["upper", "reverse"]))
    response = client.put("/s/upper", json=service("upper", outputs=[field("message", "int")]))
    assert response.status_code == 409
    problem = response.json["workflows"][0]["problems"][0]
    assert problem["message"] == (
        "Step 1 (reverse): input 'message' expects string, but 'message' is int "
        "(from output 'message' of step 0 (upper))."
    )


def test_a_compatible_service_change_goes_through(client, example):
    moved = {
        **service("space-counter", outputs=[field("space_count", "int"), field("extra", "bool")]),
        "address": "http://new.example/event",
    }
    impact = client.post("/s/space-counter/impact", json=moved).json
    assert impact == {
        "service": "space-counter",
        "compatible": True,
        "workflows": [
            {
                "workflow": "process-text",
                "version": 1,
                "compatible": True,
                "problems": [],
                "lost_outputs": [],
            }
        ],
    }
    assert client.put("/s/space-counter", json=moved).status_code == 200


def test_a_dry_run_calls_no_service_and_stores_no_event(client, example, services):
    response = client.post("/w/process-text/dry-run", json={})
    assert response.status_code == 200
    body = response.json
    assert body["status"] == "succeeded"
    assert body["data"] == {"message": "input.message"}
    assert [step["request"] for step in body["steps"]] == [
        {"message": "input.message"},
        {"message": "upper.message"},
        {"message": "reverse.message"},
    ]
    assert body["outputs"] == {"message": "reverse.message", "space_count": 1}
    assert all(step["sampled"] for step in body["steps"])
    assert services.calls == []
    assert client.get("/e?count=true").json["total"] == 0


def test_a_dry_run_uses_supplied_answers_and_data(client, example):
    request = {
        "data": {"message": "a b c"},
        "samples": {"0": {"message": "A B C"}, "reverse": {"message": "C B A"}},
    }
    body = client.post("/w/process-text/dry-run", json=request).json
    assert body["outputs"] == {"message": "C B A", "space_count": 1}
    assert [step["sampled"] for step in body["steps"]] == [False, False, True]


def test_a_dry_run_shows_a_supplied_answer_breaking_the_contract(client, example):
    request = {"samples": {"2": {"space_count": "many"}}}
    body = client.post("/w/process-text/dry-run", json=request).json
    assert body["status"] == "failed"
    assert body["error"]["kind"] == "contract_violation"


def test_a_dry_run_of_an_unsaved_definition(client, example):
    definition = workflow("draft", ["upper", "upper"], outputs=[field("message")])
    response = client.post("/w/dry-run", json={"workflow": definition, "data": {"message": "x"}})
    assert response.status_code == 200
    assert response.json["outputs"] == {"message": "upper.message"}
    assert client.get("/w/draft").status_code == 404


def test_a_dry_run_of_a_definition_that_cannot_flow_is_422(client, example):
    definition = workflow("draft", ["space-counter", "upper"], inputs=[field("other")])
    response = client.post("/w/dry-run", json={"workflow": definition})
    assert response.status_code == 422
    assert response.json["problems"]


def test_a_dry_run_of_a_retried_step_keeps_each_answer_on_its_step(client, services):
    retry = {"max_attempts": 2, "interval": 0, "on": ["invalid_response"]}
    client.post("/s", json={**service(), "idempotent": True, "retry": retry})
    client.post("/s", json=service("reverse"))
    client.post("/w", json=workflow(services=["upper", "reverse"], outputs=[field("message")]))
    body = client.post("/w/process-text/dry-run", json={"samples": {"0": "not an object"}}).json
    assert body["status"] == "failed"
    assert [step["index"] for step in body["steps"]] == [0, 0]
    assert body["error"]["attempts"] == 2


def test_an_optional_value_feeding_a_required_input_is_a_warning(client):
    client.post("/s", json=service())
    inputs = [field("message", required=False)]
    response = client.post("/w", json=workflow(inputs=inputs))
    assert response.status_code == 201
    assert response.json["warnings"] == [
        {
            "step": 0,
            "service": "upper",
            "field": "message",
            "message": "Step 0 (upper): input 'message' is required, but 'message' may be "
            "absent (from workflow input, which is optional).",
        }
    ]
