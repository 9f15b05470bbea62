"""The parsed workflow language: frozen values that every pass (check, run, dry run, lineage)
walks. Nothing here knows HTTP, Flask or MongoDB.

A workflow is a block of nodes run in order: service calls (`Call`) and the operations placed
between them (`Operation`). A service definition becomes a `Service`: where it listens, what it
takes and answers, and how to call it.
"""

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from machinery import states

DEFAULT_RETRY_ON = frozenset({states.CONNECTION_ERROR, states.TIMEOUT, 429, 502, 503, 504})


@dataclass(frozen=True)
class Field:
    """A declared input or output: its name, its type and whether it must be there."""

    name: str
    type: str
    required: bool = True


@dataclass(frozen=True)
class Ref:
    """A value taken from the running data at a path."""

    path: tuple[str, ...]


@dataclass(frozen=True)
class Literal:
    """A value written in the definition."""

    value: Any


Source = Ref | Literal


@dataclass(frozen=True)
class RetryPolicy:
    """When and how to call a service again, in the manner of Step Functions' Retry."""

    max_attempts: int = 1
    interval: float = 1.0
    backoff_rate: float = 2.0
    max_delay: float = 30.0
    jitter: bool = True
    on: frozenset = DEFAULT_RETRY_ON

    @classmethod
    def from_spec(cls, spec: Mapping | None) -> "RetryPolicy":
        """The policy a definition's `retry` object describes (none: a single attempt)."""
        if not spec:
            return cls()
        names = ("max_attempts", "interval", "backoff_rate", "max_delay", "jitter")
        values = {key: spec[key] for key in names if key in spec}
        if "on" in spec:
            values["on"] = frozenset(spec["on"])
        return cls(**values)

    def retries(self, kind: str, status_code: int | None) -> bool:
        """Whether a failure of this kind (and HTTP status) is one the policy retries."""
        if kind == states.HTTP_STATUS:
            return status_code in self.on
        return kind in self.on

    def delay(self, attempt: int, retry_after: float | None = None, draw=random.uniform) -> float:
        """How long to wait after the given attempt (counted from 1) failed."""
        base = min(self.interval * self.backoff_rate ** (attempt - 1), self.max_delay)
        wait = draw(0, base) if self.jitter else base
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_delay))
        return wait


Timeout = tuple[float | None, float | None]  # (connect, read); None: the caller's default


@dataclass(frozen=True)
class ServiceAuth:
    """How a service is authenticated: a secret, by name, sent as a bearer token, in a header
    of its own (`name`) or with basic authentication (`username`)."""

    type: str
    secret: str
    name: str | None = None
    username: str | None = None

    def spec(self) -> dict:
        return {k: v for k, v in vars(self).items() if v is not None}


@dataclass(frozen=True)
class Service:
    """A registered service, at one version."""

    name: str
    address: str
    inputs: tuple[Field, ...] = ()
    outputs: tuple[Field, ...] = ()
    version: int | None = None
    timeout: Timeout | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    idempotent: bool = False
    # "request": its answer is the step's result; "callback": it acknowledges the call, and
    # posts the result later to the callback URL it was given.
    mode: str = "request"
    auth: ServiceAuth | None = None

    def input(self, name: str) -> Field | None:
        return next((f for f in self.inputs if f.name == name), None)


@dataclass(frozen=True)
class Call:
    """One step: call a service with inputs taken from the running data, and merge its answer.

    `index` is the step's position among the workflow's steps; `input_map` maps service inputs
    to sources (an input left out is read by its own name); `output_map` maps names in the
    running data to paths in the answer (None: the service's declared outputs, by name).
    """

    index: int
    service: str
    input_map: Mapping[str, Source] = field(default_factory=dict)
    output_map: Mapping[str, tuple[str, ...]] | None = None
    timeout: Timeout | None = None
    retry: RetryPolicy | None = None  # None: the service's policy
    retry_non_idempotent: bool = False

    @property
    def place(self) -> str:
        return f"services[{self.index}]"


@dataclass(frozen=True)
class Operation:
    """A change of the running data: set, rename, remove or pick."""

    number: int
    action: str
    argument: Any

    @property
    def place(self) -> str:
        return f"operations[{self.number}]"


Node = Call | Operation
Block = tuple[Node, ...]


@dataclass(frozen=True)
class Workflow:
    """A workflow definition, parsed: its nodes in the order they run, and its contract."""

    name: str
    steps: Block
    inputs: tuple[Field, ...] = ()
    outputs: tuple[Field, ...] = ()
    version: int | None = None
    # "step": the run state saved after every step; "event": once, when the event ends.
    durability: str = "step"

    @property
    def calls(self) -> tuple[Call, ...]:
        return tuple(node for node in self.steps if isinstance(node, Call))

    @property
    def service_names(self) -> list[str]:
        """The services the workflow calls, once each, in order of first call."""
        return list(dict.fromkeys(call.service for call in self.calls))


@dataclass(frozen=True)
class CallSettings:
    """How one call is made: the service's settings, overridden by the step's."""

    timeout: Timeout | None
    retry: RetryPolicy
    repeatable: bool  # whether a request that may have reached the service may be sent again


def call_settings(call: Call, service: Service) -> CallSettings:
    connect, read = service.timeout or (None, None)
    if call.timeout is not None:
        connect = call.timeout[0] if call.timeout[0] is not None else connect
        read = call.timeout[1] if call.timeout[1] is not None else read
    return CallSettings(
        timeout=None if connect is None and read is None else (connect, read),
        retry=call.retry or service.retry,
        repeatable=service.idempotent or call.retry_non_idempotent,
    )
