"""Request ids, trace context, the request each step sent, and log lines that say what they
concern."""

import io
import json
import logging

from factories import SEED_MESSAGE, build_app, register_example, service, workflow

from machinery import logs

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE}-00f067aa0ba902b7-01"


def test_a_request_id_is_echoed_or_made(client):
    sent = client.get("/healthcheck", headers={"X-Request-Id": "req-42.a"})
    assert sent.headers["X-Request-Id"] == "req-42.a"
    made = client.get("/healthcheck")
    assert len(made.headers["X-Request-Id"]) == 32
    unusable = client.get("/healthcheck", headers={"X-Request-Id": "two words"})
    assert unusable.headers["X-Request-Id"] != "two words"
    refused = client.get("/nowhere", headers={"X-Request-Id": "req-43"})
    assert refused.status_code == 404 and refused.headers["X-Request-Id"] == "req-43"


def test_services_continue_the_callers_trace_with_new_spans(client, services):
    register_example(client, services)
    headers = {"traceparent": TRACEPARENT, "X-Request-Id": "req-7"}
    response = client.post("/e/process-text", json={"message": SEED_MESSAGE}, headers=headers)
    assert response.status_code == 201
    sent = [options.headers for options in services.options]
    assert len(sent) == 3
    spans = set()
    for call in sent:
        version, trace, span, flags = call["traceparent"].split("-")
        assert (version, trace, flags) == ("00", TRACE, "01")
        spans.add(span)
        assert call["X-Request-Id"] == "req-7"
    assert len(spans) == 3 and "00f067aa0ba902b7" not in spans
    event = client.get(f"/e/{response.json['event_id']}").json
    assert event["trace_id"] == TRACE
    assert event["request_id"] == "req-7"


def test_without_a_valid_traceparent_the_event_is_its_own_trace(client, services):
    register_example(client, services)
    invalid = f"00-{'0' * 32}-00f067aa0ba902b7-01"
    response = client.post(
        "/e/process-text", json={"message": SEED_MESSAGE}, headers={"traceparent": invalid}
    )
    event_id = response.json["event_id"]
    for options in services.options:
        assert options.headers["traceparent"].split("-")[1] == (event_id + "0" * 8)[:32]


def test_each_step_keeps_the_request_it_sent(client, services):
    register_example(client, services)
    response = client.post("/e/process-text", json={"message": SEED_MESSAGE})
    steps = client.get(f"/e/{response.json['event_id']}").json["steps"]
    first = steps[0]["request"]
    assert first["body"] == {"message": SEED_MESSAGE}
    assert first["headers"]["X-Machinery-Step"] == "0"
    assert first["headers"]["traceparent"].startswith("00-")
    assert steps[1]["request"]["body"] == {"message": SEED_MESSAGE.upper()}


def test_a_large_request_is_recorded_by_its_size(services):
    app = build_app(services, MAX_CONTENT_LENGTH=1024 * 1024)
    client = app.test_client()
    assert client.post("/s", json=service("upper")).status_code == 201
    assert client.post("/w", json=workflow("shout", services=["upper"])).status_code == 201
    services.answer(service("upper")["address"], lambda p: {"message": "ok"})
    big = "x" * 70_000  # beyond the 64 KiB a record keeps
    response = client.post("/e/shout", json={"message": big})
    assert response.status_code == 201
    (step,) = client.get(f"/e/{response.json['event_id']}").json["steps"]
    assert step["request"]["body"] is None
    assert step["request"]["body_omitted"] == {"bytes": 70_014, "limit": 65536}
    app.extensions["machinery.store"].connection.close()


def test_json_log_lines_say_which_request_event_workflow_step_and_service(client, services):
    register_example(client, services)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    handler.addFilter(logs.AddContext())
    logger = logging.getLogger("machinery.orchestrator")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        response = client.post(
            "/e/process-text",
            json={"message": "secret-data-123"},
            headers={"X-Request-Id": "req-9", "traceparent": TRACEPARENT},
        )
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert "secret-data-123" not in stream.getvalue()
    steps = [line for line in lines if "step" in line]
    assert [(line["step"], line["service"]) for line in steps] == [
        (0, "upper"),
        (1, "reverse"),
        (2, "space-counter"),
    ]
    for line in lines:
        assert line["request_id"] == "req-9"
        assert line["trace_id"] == TRACE
        assert line["event_id"] == response.json["event_id"]
        assert line["workflow"] == "process-text"
        assert {"time", "level", "logger", "message"} <= set(line)
    assert lines[-1]["message"] == "Event succeeded"
