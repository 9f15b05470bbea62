"""GET /metrics: what events, steps, service calls, retries, webhooks and the store did."""

from factories import SEED_MESSAGE, build_app, failing, register_example, service, workflow
from metrics_text import value

from machinery.metrics import QueueGauges, StoreLatency

UPPER = service("upper")["address"]


def scrape(client) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    return response.get_data(as_text=True)


def test_a_succeeded_event_counts_its_event_steps_and_calls(client, services):
    register_example(client, services)
    before = scrape(client)
    assert client.post("/e/process-text", json={"message": SEED_MESSAGE}).status_code == 201
    after = scrape(client)

    def grew(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("machinery_events_total", workflow="process-text", status="succeeded") == 1
    assert (
        grew("machinery_event_duration_seconds_count", workflow="process-text", status="succeeded")
        == 1
    )
    for name in ("upper", "reverse", "space-counter"):
        labels = {"workflow": "process-text", "service": name, "outcome": "succeeded"}
        assert grew("machinery_step_duration_seconds_count", **labels) == 1
        assert (
            grew(
                "machinery_service_calls_total",
                service=name,
                outcome="succeeded",
                status_code="200",
            )
            == 1
        )
        assert (
            grew("machinery_service_call_duration_seconds_count", service=name, outcome="succeeded")
            == 1
        )


def test_a_failed_step_counts_by_kind_and_retries_count(client, services):
    assert (
        client.post(
            "/s",
            json={
                **service("upper"),
                "retry": {"max_attempts": 3, "interval": 0.1, "on": [503]},
                "idempotent": True,
            },
        ).status_code
        == 201
    )
    assert client.post("/w", json=workflow("shout", services=["upper"])).status_code == 201
    services.answer(UPPER, failing("http_status", "unavailable", 503))
    app = client.application
    app.extensions["machinery.runtime"].sleep = lambda seconds: None
    before = scrape(client)
    response = client.post("/e/shout", json={"message": "hi"})
    assert response.status_code == 502
    after = scrape(client)

    def grew(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("machinery_events_total", workflow="shout", status="failed") == 1
    assert (
        grew(
            "machinery_service_calls_total",
            service="upper",
            outcome="http_status",
            status_code="503",
        )
        == 3
    )
    assert grew("machinery_service_call_retries_total", service="upper") == 2
    assert (
        grew(
            "machinery_step_duration_seconds_count",
            workflow="shout",
            service="upper",
            outcome="http_status",
        )
        == 1
    )


def test_the_queue_depth_and_age_come_from_the_store(client, services):
    register_example(client, services)
    headers = {"Prefer": "respond-async"}
    for _ in range(2):
        response = client.post("/e/process-text", json={"message": "x"}, headers=headers)
        assert response.status_code == 202
    text = scrape(client)
    assert value(text, "machinery_queue_depth") == 2
    assert value(text, "machinery_queue_oldest_age_seconds") >= 0


def test_a_queued_event_cancelled_counts_as_cancelled(client, services):
    register_example(client, services)
    queued = client.post(
        "/e/process-text", json={"message": "x"}, headers={"Prefer": "respond-async"}
    )
    before = scrape(client)
    cancelled = client.post(f"/e/{queued.json['event_id']}/cancel")
    assert cancelled.json["status"] == "cancelled"
    after = scrape(client)
    labels = {"workflow": "process-text", "status": "cancelled"}
    grown = value(after, "machinery_events_total", **labels) - value(
        before, "machinery_events_total", **labels
    )
    assert grown == 1


def test_the_queue_is_read_again_only_after_the_cache_time():
    reads = []
    now = [100.0]

    def read():
        reads.append(now[0])
        return len(reads), None

    gauges = QueueGauges(read, cache_s=5.0, clock=lambda: now[0])
    assert gauges.current() == (1, 0.0)
    now[0] += 4.9
    assert gauges.current() == (1, 0.0)
    now[0] += 0.1
    assert gauges.current() == (2, 0.0)


def test_store_commands_are_timed_by_command():
    from prometheus_client import REGISTRY

    listener = StoreLatency()

    class Command:
        command_name = "find"
        duration_micros = 1500

    before = (
        REGISTRY.get_sample_value(
            "machinery_store_operation_duration_seconds_count",
            {"command": "find", "outcome": "succeeded"},
        )
        or 0
    )
    listener.succeeded(Command())
    after = REGISTRY.get_sample_value(
        "machinery_store_operation_duration_seconds_count",
        {"command": "find", "outcome": "succeeded"},
    )
    assert after == before + 1


def test_metrics_need_a_management_key():
    app = build_app(MANAGEMENT_KEYS=["m" * 20], CONSUMER_KEYS=["c" * 20])
    try:
        client = app.test_client()
        assert client.get("/metrics").status_code == 401
        consumer = client.get("/metrics", headers={"Authorization": "Bearer " + "c" * 20})
        assert consumer.status_code == 403
        assert "message" in consumer.json
        management = client.get("/metrics", headers={"Authorization": "Bearer " + "m" * 20})
        assert management.status_code == 200
    finally:
        app.extensions["machinery.store"].connection.close()


def test_unknown_query_parameters_are_refused(client):
    response = client.get("/metrics?name[]=x")
    assert response.status_code == 422
    assert "message" in response.json
