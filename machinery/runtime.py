"""What runs events, built without the web stack: the store, the outbound caller with its
address policy, the catalog of parsed definitions, the leases, the listeners, the limits, and
how webhooks are delivered.

The API builds one per process (create_app); a worker builds the same, and imports no Flask.
"""

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from machinery.callbacks import CallbackTokens
from machinery.catalog import Catalog
from machinery.config import CALLBACK_TIMEOUT_S, WEBHOOK_DEADLINE_S
from machinery.credentials import Secrets
from machinery.engine.addresses import AddressPolicy
from machinery.engine.executor import Caller, Listener
from machinery.engine.http import HttpCaller
from machinery.language.model import Limits
from machinery.leases import LeaseKeeper
from machinery.metrics import QueueGauges, event_metrics
from machinery.store import Store

# post(address, body, headers) -> the 2xx status; raises StepFailed (see HttpCaller.post).
Poster = Callable[[str, bytes, Mapping[str, str]], int]


@dataclass(frozen=True)
class WebhookPolicy:
    """How webhooks are delivered (see machinery/webhooks.py)."""

    secrets: tuple[str, ...] = field(default=(), repr=False)  # never shown
    deadline_s: float = WEBHOOK_DEADLINE_S
    retry_s: float = 5.0
    # How long a claimed delivery is held: longer than one attempt may take (connect, headers,
    # body), so that no other worker sends it meanwhile; after it, a worker that died is replaced.
    lease_s: float = 75.0


@dataclass
class Runtime:
    store: Store
    caller: Caller
    policy: AddressPolicy
    catalog: Catalog
    leases: LeaseKeeper
    callbacks: CallbackTokens = field(default_factory=lambda: CallbackTokens(None, ()))
    lease_s: float = 30.0
    idempotency_wait_s: float = 60.0
    # How long a callback service's step waits for its result when the step sets no read timeout.
    callback_timeout_s: float = CALLBACK_TIMEOUT_S
    listeners: list[Listener] = field(default_factory=list)
    # Listeners made for each event run, from the stored event (metrics: its workflow, its age).
    event_listeners: list[Callable[[dict], Listener]] = field(default_factory=list)
    # The queue's depth and age, as /metrics shows them.
    queue: QueueGauges | None = None
    # Where the secrets services' auth names are read from.
    secrets: Secrets = field(default_factory=Secrets)
    # OpenTelemetry spans (machinery/telemetry.py), when exported; None: off.
    telemetry: Any = None
    sleep: Callable[[float], None] = time.sleep
    # Set when the process is stopping: events are given back between two steps.
    stopping: threading.Event = field(default_factory=threading.Event)
    # Called when an event is queued: wakes the workers of this process at once.
    wake_workers: Callable[[], None] | None = None
    webhooks: WebhookPolicy = field(default_factory=WebhookPolicy)
    # How webhooks are POSTed: the caller's, with its address guard and timeouts.
    post: Poster | None = None
    limits: Limits = field(default_factory=Limits)

    def notify_workers(self) -> None:
        if self.wake_workers is not None:
            self.wake_workers()


def build_runtime(config: Mapping, store: Store, policy: AddressPolicy | None = None) -> Runtime:
    """The runtime the settings describe, over an open store."""
    policy = policy or AddressPolicy(config["ALLOWED_HOSTS"], config["DENIED_NETWORKS"])
    caller = HttpCaller(
        config["CONNECT_TIMEOUT"],
        config["READ_TIMEOUT"],
        policy=policy,
        max_response_bytes=config["MAX_RESPONSE_BYTES"],
    )
    lease_s = config.get("LEASE_S", 30.0)
    webhooks = WebhookPolicy(
        secrets=tuple(config.get("WEBHOOK_SECRETS", ())),
        deadline_s=config.get("WEBHOOK_DEADLINE_S", WEBHOOK_DEADLINE_S),
        retry_s=config.get("WEBHOOK_RETRY_S", 5.0),
        lease_s=config["CONNECT_TIMEOUT"] + 2 * config["READ_TIMEOUT"] + 10.0,
    )
    telemetry = None
    if config.get("OTEL_EXPORT") == "otlp":
        from machinery.telemetry import Telemetry

        telemetry = Telemetry()
    return Runtime(
        store=store,
        telemetry=telemetry,
        caller=caller,
        policy=policy,
        catalog=Catalog(store),
        leases=LeaseKeeper(store, lease_s),
        callbacks=CallbackTokens(
            config.get("PUBLIC_URL"), tuple(config.get("CALLBACK_SECRETS", ()))
        ),
        callback_timeout_s=config.get("CALLBACK_TIMEOUT_S", CALLBACK_TIMEOUT_S),
        lease_s=lease_s,
        idempotency_wait_s=config.get("IDEMPOTENCY_WAIT_S", 60.0),
        webhooks=webhooks,
        post=caller.post,
        event_listeners=[event_metrics],
        queue=QueueGauges(lambda: store.events.queue()),
        secrets=Secrets(config.get("SECRETS_DIR")),
        limits=limits_of(config),
    )


def limits_of(config: Mapping) -> Limits:
    """The control-flow limits the settings set (the defaults where they set none)."""
    default = Limits()
    return Limits(
        max_nesting=config.get("MAX_NESTING", default.max_nesting),
        max_branches=config.get("MAX_BRANCHES", default.max_branches),
        max_block_steps=config.get("MAX_STEPS", default.max_block_steps),
        max_concurrency=config.get("MAX_CONCURRENCY", default.max_concurrency),
        max_map_items=config.get("MAX_MAP_ITEMS", default.max_map_items),
        max_wait_s=config.get("MAX_WAIT_S", default.max_wait_s),
    )
