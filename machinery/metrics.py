"""Prometheus metrics: what the executor's listeners, the webhook deliveries and the store's
commands tell, and the queue as the store sees it when scraped.

Counters and histograms live in this process's default registry or, under gunicorn and beside it
in workers, in PROMETHEUS_MULTIPROC_DIR (prometheus_client's multiprocess mode: each process
writes its own files there, and a scrape adds them up; see docs/operations.md). The variable must
be set before prometheus_client is first imported: gunicorn.conf.py sets it in the master.

Labels hold names Machinery chose or was given at registration (workflow, service, status, kind,
store command): never event data, ids or addresses, so that their number stays bounded.
"""

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from pymongo import monitoring

from machinery.engine.executor import Listener, RunState
from machinery.language.model import Call

MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
# How long the queue's depth and age, read from the store, are kept before a scrape reads them
# again: scrapes from several Prometheus servers cost one query.
QUEUE_CACHE_S = 5.0

# Seconds: from a few milliseconds (a step on a fast service) to minutes (an event with retries).
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
STORE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)

EVENTS = Counter(
    "machinery_events", "Events ended, by workflow and final status.", ["workflow", "status"]
)
EVENT_DURATION = Histogram(
    "machinery_event_duration_seconds",
    "From an event's acceptance to its end, by workflow and final status.",
    ["workflow", "status"],
    buckets=DURATION_BUCKETS,
)
STEP_DURATION = Histogram(
    "machinery_step_duration_seconds",
    "How long each step took (every attempt and the waits between them), by workflow, service "
    "and outcome (succeeded, or the kind of failure).",
    ["workflow", "service", "outcome"],
    buckets=DURATION_BUCKETS,
)
SERVICE_CALLS = Counter(
    "machinery_service_calls",
    "Calls made to services (each attempt), by service, outcome and HTTP status ('none' when "
    "no answer came).",
    ["service", "outcome", "status_code"],
)
SERVICE_CALL_DURATION = Histogram(
    "machinery_service_call_duration_seconds",
    "How long each call to a service took, by service and outcome.",
    ["service", "outcome"],
    buckets=DURATION_BUCKETS,
)
RETRIES = Counter(
    "machinery_service_call_retries",
    "Calls made again after a failed attempt, by service.",
    ["service"],
)
WEBHOOK_DELIVERIES = Counter(
    "machinery_webhook_deliveries",
    "Webhook delivery attempts, by outcome (delivered, pending: tried again later, failed).",
    ["outcome"],
)
STORE_DURATION = Histogram(
    "machinery_store_operation_duration_seconds",
    "How long each command sent to the database took, by command and outcome.",
    ["command", "outcome"],
    buckets=STORE_BUCKETS,
)


@dataclass
class EventMetrics(Listener):
    """The metrics of one event's run: a listener `drive` adds for each event it runs."""

    workflow: str
    acked_at: datetime | None = None

    def on_attempt(self, call: Call, attempt: dict) -> None:
        outcome = attempt.get("outcome", "failed")
        kind = outcome if outcome == "succeeded" else attempt.get("error_kind") or outcome
        status = attempt.get("status_code")
        SERVICE_CALLS.labels(call.service, kind, str(status) if status else "none").inc()
        SERVICE_CALL_DURATION.labels(call.service, kind).observe(
            attempt.get("duration_ms", 0.0) / 1000
        )
        if attempt.get("attempt", 1) > 1:
            RETRIES.labels(call.service).inc()

    def on_step_end(self, record: dict, state: RunState) -> None:
        if "construct" in record:  # a parallel's or a map's end; its calls are counted
            return
        error = record.get("error")
        outcome = error["kind"] if error else "succeeded"
        STEP_DURATION.labels(self.workflow, record["service"], outcome).observe(
            (record.get("duration_ms") or 0.0) / 1000
        )

    def on_branch_step(self, record: dict) -> None:
        self.on_step_end(record, None)

    def on_event_end(self, state: RunState) -> None:
        EVENTS.labels(self.workflow, state.status).inc()
        if self.acked_at is not None:
            acked = self.acked_at if self.acked_at.tzinfo else self.acked_at.replace(tzinfo=UTC)
            elapsed = (datetime.now(UTC) - acked).total_seconds()
            EVENT_DURATION.labels(self.workflow, state.status).observe(max(elapsed, 0.0))


def event_metrics(event: dict) -> EventMetrics:
    """The metrics listener of a stored event (see Runtime.event_listeners)."""
    return EventMetrics(event.get("workflow", ""), event.get("acked_at"))


def count_webhook_attempt(outcome: str) -> None:
    WEBHOOK_DELIVERIES.labels(outcome).inc()


class StoreLatency(monitoring.CommandListener):
    """Times every command pymongo sends, by command name."""

    def started(self, event) -> None:
        pass

    def succeeded(self, event) -> None:
        STORE_DURATION.labels(event.command_name, "succeeded").observe(event.duration_micros / 1e6)

    def failed(self, event) -> None:
        STORE_DURATION.labels(event.command_name, "failed").observe(event.duration_micros / 1e6)


_store_latency_lock = threading.Lock()
_store_latency_installed = False


def time_store_commands() -> None:
    """Time the commands of every MongoDB client this process makes from now on (once)."""
    global _store_latency_installed
    with _store_latency_lock:
        if not _store_latency_installed:
            monitoring.register(StoreLatency())
            _store_latency_installed = True


# queue() -> (events queued, the acceptance time of the oldest of them or None).
QueueReader = Callable[[], tuple[int, datetime | None]]


@dataclass(eq=False)  # hashed by identity: a registry keeps it in a dict
class QueueGauges:
    """The queue's depth and the age of its oldest event, read from the store at most every
    QUEUE_CACHE_S seconds."""

    read: QueueReader
    cache_s: float = QUEUE_CACHE_S
    clock: Callable[[], float] = time.monotonic
    _cached: tuple[float, int, datetime | None] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def current(self) -> tuple[int, float]:
        """(events queued, seconds the oldest has waited: 0 with none)."""
        with self._lock:
            now = self.clock()
            if self._cached is None or now - self._cached[0] >= self.cache_s:
                self._cached = (now, *self.read())
            _, depth, oldest = self._cached
        if oldest is None:
            return depth, 0.0
        oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
        return depth, max((datetime.now(UTC) - oldest).total_seconds(), 0.0)

    def collect(self):
        depth, age = self.current()
        yield GaugeMetricFamily("machinery_queue_depth", "Events queued, not yet claimed.", depth)
        yield GaugeMetricFamily(
            "machinery_queue_oldest_age_seconds",
            "How long the oldest queued event has waited to be claimed (0 with none).",
            age,
        )


class _ThisProcess:
    """This process's default registry, as one collector of a scrape's registry."""

    def collect(self):
        yield from REGISTRY.collect()


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_VARIABLE) or None


def scraped_registry(queue: QueueGauges | None) -> CollectorRegistry:
    """What a scrape reads: with PROMETHEUS_MULTIPROC_DIR, the sum of every process's metrics in
    it (live and dead), else this process's; and the queue."""
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_dir():
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    if queue is not None:
        registry.register(queue)
    return registry


def exposition(queue: QueueGauges | None) -> tuple[bytes, str]:
    """What GET /metrics answers: (body, content type)."""
    return generate_latest(scraped_registry(queue)), CONTENT_TYPE_LATEST


def serve_metrics(host: str, port: int, queue: QueueGauges | None) -> None:
    """Answer scrapes on host:port from a thread of this process (a worker's own endpoint)."""
    start_http_server(port, host, registry=scraped_registry(queue))


def prepare_multiprocess_dir(path: str) -> None:
    """Make the directory, emptied of the files of an earlier run (a scrape would add them)."""
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        if name.endswith(".db"):
            os.remove(os.path.join(path, name))


def mark_process_dead(pid: int) -> None:
    """A process of the multiprocess directory exited: its live gauges are dropped."""
    if multiprocess_dir():
        multiprocess.mark_process_dead(pid)
