"""OpenTelemetry spans: an event's run and each call it makes, in the trace the event continues,
the services receiving the call spans as their parents."""

import pytest
from factories import SEED_MESSAGE, build_app, failing, register_example, service

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)
from opentelemetry.trace import SpanKind, StatusCode  # noqa: E402

from machinery.telemetry import Telemetry  # noqa: E402

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


@pytest.fixture
def exported(app):
    exporter = InMemorySpanExporter()
    telemetry = Telemetry(exporter, batch=False)
    app.extensions["machinery.runtime"].telemetry = telemetry
    yield exporter
    telemetry.shutdown()


def spans_by_name(exporter):
    return {span.name: span for span in exporter.get_finished_spans()}


def test_the_event_and_its_calls_continue_the_callers_trace(client, services, exported):
    register_example(client, services)
    traceparent = f"00-{TRACE}-{CALLER_SPAN}-01"
    response = client.post(
        "/e/process-text", json={"message": SEED_MESSAGE}, headers={"traceparent": traceparent}
    )
    assert response.status_code == 201
    spans = spans_by_name(exported)
    event = spans["event process-text"]
    assert format(event.context.trace_id, "032x") == TRACE
    assert format(event.parent.span_id, "016x") == CALLER_SPAN
    assert event.attributes["machinery.event_id"] == response.json["event_id"]
    assert event.attributes["machinery.status"] == "succeeded"
    sent = [options.headers["traceparent"].split("-")[2] for options in services.options]
    for index, name in enumerate(("upper", "reverse", "space-counter")):
        call = spans[f"call {name}"]
        assert call.kind == SpanKind.CLIENT
        assert call.parent.span_id == event.context.span_id
        assert format(call.context.trace_id, "032x") == TRACE
        # The service's traceparent names this span as its parent.
        assert format(call.context.span_id, "016x") == sent[index]
        assert call.attributes["http.response.status_code"] == 200


def test_an_event_without_a_traceparent_is_the_trace_its_id_names(client, services, exported):
    register_example(client, services)
    response = client.post("/e/process-text", json={"message": SEED_MESSAGE})
    event = spans_by_name(exported)["event process-text"]
    assert event.parent is None
    expected = (response.json["event_id"] + "0" * 8)[:32]
    assert format(event.context.trace_id, "032x") == expected
    assert services.options[0].headers["traceparent"].split("-")[1] == expected


def test_a_failed_call_marks_its_span_and_the_events(client, services, exported):
    register_example(client, services)
    services.answer(service("reverse")["address"], failing("http_status", "down", 503))
    response = client.post("/e/process-text", json={"message": "x"})
    assert response.status_code == 502
    spans = spans_by_name(exported)
    assert spans["call reverse"].status.status_code == StatusCode.ERROR
    assert spans["call reverse"].attributes["http.response.status_code"] == 503
    assert spans["event process-text"].status.status_code == StatusCode.ERROR
    assert "call space-counter" not in spans


def test_export_is_off_unless_asked_for(services):
    app = build_app(services)
    try:
        assert app.extensions["machinery.runtime"].telemetry is None
    finally:
        app.extensions["machinery.store"].connection.close()
    on = build_app(services, OTEL_EXPORT="otlp")
    try:
        telemetry = on.extensions["machinery.runtime"].telemetry
        assert isinstance(telemetry, Telemetry)
        telemetry.shutdown()
    finally:
        on.extensions["machinery.store"].connection.close()
