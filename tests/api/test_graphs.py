"""GET /w/<name>/graph and /e/<id>/graph: the seed example drawn in every format."""

import xml.etree.ElementTree as ET

import pytest
from factories import SEED_MESSAGE, build_app, failing, register_example, service, workflow

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def example(client, services):
    return register_example(client, services)


def test_the_json_graph_has_a_node_per_step_and_edges_labelled_with_fields(client, example):
    response = client.get("/w/process-text/graph")
    assert response.status_code == 200
    graph = response.json
    assert graph["workflow"] == "process-text"
    assert [(n["id"], n["label"]) for n in graph["nodes"]] == [
        ("inputs", "inputs"),
        ("step-0", "upper"),
        ("step-1", "reverse"),
        ("step-2", "space-counter"),
        ("outputs", "outputs"),
    ]
    edges = {(e["source"], e["target"]): e for e in graph["edges"]}
    assert edges["inputs", "step-0"] == {
        "source": "inputs",
        "target": "step-0",
        "control": True,
        "fields": ["message"],
    }
    assert edges["step-0", "step-1"]["fields"] == ["message"]
    assert edges["step-1", "step-2"]["fields"] == ["message"]
    # The reversed message skips space-counter on its way to the outputs.
    assert edges["step-1", "outputs"] == {
        "source": "step-1",
        "target": "outputs",
        "control": False,
        "fields": ["message"],
    }
    assert edges["step-2", "outputs"]["fields"] == ["space_count"]
    assert edges["step-2", "outputs"]["control"] is True


def test_mermaid_and_dot_are_text_naming_every_step_and_field(client, example):
    mermaid = client.get("/w/process-text/graph?format=mermaid")
    assert mermaid.status_code == 200
    assert mermaid.mimetype == "text/plain"
    text = mermaid.get_data(as_text=True)
    assert text.startswith("flowchart TD\n")
    assert 'n1["upper<br/>step 0"]' in text
    assert 'n0 -->|"message"| n1' in text
    assert 'n2 -.->|"message"| n4' in text
    dot = client.get("/w/process-text/graph?format=dot")
    assert dot.status_code == 200
    assert dot.mimetype == "text/vnd.graphviz"
    text = dot.get_data(as_text=True)
    assert text.startswith('digraph "process-text" {')
    assert '"step-2" -> "outputs" [label="space_count"];' in text
    assert '"step-1" -> "outputs" [label="message", style=dashed];' in text


def test_the_svg_is_xml_with_a_box_per_node(client, example):
    response = client.get("/w/process-text/graph?format=svg")
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    root = ET.fromstring(response.data)
    assert root.tag == f"{SVG}svg"
    boxes = root.findall(f".//{SVG}g[@data-node]")
    assert [box.get("data-node") for box in boxes] == [
        "inputs",
        "step-0",
        "step-1",
        "step-2",
        "outputs",
    ]
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert {"upper", "reverse", "space-counter", "space_count", "message"} <= set(texts)


def test_a_graph_at_a_version(client, example):
    replaced = workflow(services=["upper"], outputs=[{"name": "message", "type": "string"}])
    assert client.put("/w/process-text", json=replaced).status_code == 200
    now = client.get("/w/process-text/graph").json
    then = client.get("/w/process-text/graph?version=1").json
    assert [n["label"] for n in now["nodes"]] == ["inputs", "upper", "outputs"]
    assert len(then["nodes"]) == 5 and then["version"] == 1


def test_a_name_that_looks_like_markup_never_reaches_a_graph(client):
    definition = service('<script>alert("x")</script>')
    response = client.post("/s", json=definition)
    assert response.status_code == 422
    assert "name" in response.json["errors"]


@pytest.mark.parametrize("route", ["/w/process-text/graph", "/e/{event}/graph"])
@pytest.mark.parametrize("format", ["png", "", "SVG"])
def test_a_bad_format_is_a_422_with_a_message(client, services, example, route, format):
    event = client.post("/e/process-text", json={"message": SEED_MESSAGE}).json
    response = client.get(route.format(event=event["event_id"]) + f"?format={format}")
    assert response.status_code == 422
    assert "format" in response.json["message"]
    assert response.json["errors"]["format"]


def test_unknown_workflows_and_events_are_404(client):
    assert client.get("/w/nothing/graph").status_code == 404
    assert client.get("/e/0123456789abcdef01234567/graph").status_code == 404


def test_an_event_graph_colours_each_step_by_its_outcome(client, services, example):
    services.answer("http://reverse.example:5000/event", failing("http_status", "no", 500))
    event = client.post("/e/process-text", json={"message": SEED_MESSAGE}).json
    assert event["status"] == "failed"
    graph = client.get(f"/e/{event['event_id']}/graph").json
    assert graph["event"] == {"event_id": event["event_id"], "status": "failed"}
    steps = {n["label"]: n for n in graph["nodes"] if n["kind"] == "call"}
    assert steps["upper"]["outcome"] == "succeeded"
    assert steps["upper"]["attempts"] == 1
    assert steps["upper"]["duration_ms"] >= 0
    assert steps["reverse"]["outcome"] == "failed"
    assert steps["space-counter"]["outcome"] == "not_reached"
    svg = client.get(f"/e/{event['event_id']}/graph?format=svg")
    root = ET.fromstring(svg.data)
    failed = root.find(f".//{SVG}g[@data-node='step-1']")
    assert "failed" in failed.get("class")
    assert failed.find(f"{SVG}rect").get("stroke") == "#c62828"


def test_a_succeeded_event_graph(client, services, example):
    event = client.post("/e/process-text", json={"message": SEED_MESSAGE}).json
    graph = client.get(f"/e/{event['event_id']}/graph").json
    outcomes = [n.get("outcome") for n in graph["nodes"] if n["kind"] == "call"]
    assert outcomes == ["succeeded"] * 3
    text = client.get(f"/e/{event['event_id']}/graph?format=mermaid").get_data(as_text=True)
    assert "style n1 fill:#d8f0dc,stroke:#2e7d32" in text


def test_graphs_take_the_keys_their_resources_take(services):
    app = build_app(services, MANAGEMENT_KEYS=["m" * 20], CONSUMER_KEYS=["c" * 20])
    client = app.test_client()
    management = {"Authorization": "Bearer " + "m" * 20}
    consumer = {"Authorization": "Bearer " + "c" * 20}
    definition = service("upper")
    services.answer(definition["address"], lambda p: {"message": p["message"].upper()})
    assert client.post("/s", json=definition, headers=management).status_code == 201
    assert client.post("/w", json=workflow(), headers=management).status_code == 201
    event = client.post("/e/process-text", json={"message": "a"}, headers=consumer).json
    for path in ("/w/process-text/graph?format=svg", f"/e/{event['event_id']}/graph"):
        assert client.get(path).status_code == 401
        assert client.get(path, headers=consumer).status_code == 200
    app.extensions["machinery.store"].connection.close()
