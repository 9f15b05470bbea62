"""The parsed workflow language: frozen values that every pass (check, run, dry run, lineage)
walks. Nothing here knows HTTP, Flask or MongoDB.

A workflow is a block of nodes run in order: service calls (`Call`), the operations placed
between them (`Operation`), and the constructs that hold blocks of their own: `Choice` (the first
branch whose condition holds), `Parallel` (branches at once), `Map` (a block for each item of an
array) and `Wait` (a time to let pass). Any step but an operation or a wait may `catch` failures
of given kinds and go on with a fallback block. A service definition becomes a `Service`: where it
listens, what it takes and answers, and how to call it.

Every call has an `index`, unique in its workflow (the calls numbered in the order they are
written, so a straight workflow's are its steps' positions), and a `place`, where it is written
(`services[2].choice[1].steps[0]`).
"""

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from machinery import states

DEFAULT_RETRY_ON = frozenset({states.CONNECTION_ERROR, states.TIMEOUT, 429, 502, 503, 504})


@dataclass(frozen=True)
class Limits:
    """How large control flow may grow: checked when a workflow is saved (nesting, branches,
    steps in a list, concurrency, a wait's seconds) and when it runs (a map's items, the time a
    wait reads from the data)."""

    max_nesting: int = 8  # constructs inside constructs
    max_branches: int = 32  # a choice's or a parallel's
    max_block_steps: int = 100  # the steps of one list inside a construct
    max_concurrency: int = 64  # a parallel's or a map's max_concurrency
    max_map_items: int = 10_000
    max_wait_s: float = 366 * 24 * 3600.0


# What stored definitions are read with: they were checked against the limits when saved.
NO_LIMITS = Limits(
    max_nesting=10**6,
    max_branches=10**6,
    max_block_steps=10**6,
    max_concurrency=10**6,
    max_map_items=10**12,
    max_wait_s=float("inf"),
)


@dataclass(frozen=True)
class Field:
    """A declared input or output: its name, its type and whether it must be there; for an
    array, the type of its elements (`items`, a Field with no name) and, for an object, its
    fields (`fields`), when declared (None: untyped inside, checked only as a whole)."""

    name: str
    type: str
    required: bool = True
    items: "Field | None" = None
    fields: "tuple[Field, ...] | None" = None

    def field(self, name: str) -> "Field | None":
        """The declared field of this object of that name (None: not declared)."""
        return next((f for f in self.fields or () if f.name == name), None)


@dataclass(frozen=True)
class Ref:
    """A value taken from the running data at a path."""

    path: tuple[str, ...]


@dataclass(frozen=True)
class Literal:
    """A value written in the definition."""

    value: Any


@dataclass(frozen=True)
class Build:
    """A value built from sources: an object (`parts` maps names to sources) or an array (a
    tuple of sources)."""

    kind: str  # "object" or "array"
    parts: Any


@dataclass(frozen=True)
class Apply:
    """A typed function (language/functions.py) applied to sources."""

    function: str
    args: tuple


Source = Ref | Literal | Build | Apply


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
class Catcher:
    """What a step does when it fails in one of the kinds `on` names (empty: any kind), once
    its retries are spent: put the error in the running data under `error_as`, and run `steps`
    in its place."""

    on: frozenset
    steps: "Block"
    error_as: str = "error"
    first: int = 0  # the calls written before its steps (where its record sorts in the history)

    def catches(self, kind: str, status_code: int | None) -> bool:
        return (
            not self.on or kind in self.on or (status_code is not None and status_code in self.on)
        )


@dataclass(frozen=True)
class Call:
    """One step: call a service with inputs taken from the running data, and merge its answer.

    `index` numbers the call in its workflow; `input_map` maps service inputs to sources (an
    input left out is read by its own name); `output_map` maps names in the running data to paths
    in the answer (None: the service's declared outputs, by name).
    """

    index: int
    service: str
    input_map: Mapping[str, Source] = field(default_factory=dict)
    output_map: Mapping[str, tuple[str, ...]] | None = None
    timeout: Timeout | None = None
    retry: RetryPolicy | None = None  # None: the service's policy
    retry_non_idempotent: bool = False
    where: str = ""  # "": the top-level step of the same index
    catch: tuple[Catcher, ...] = ()

    @property
    def place(self) -> str:
        return self.where or f"services[{self.index}]"

    @property
    def nested(self) -> bool:
        return bool(self.where) and self.where != f"services[{self.index}]"


@dataclass(frozen=True)
class Operation:
    """A change of the running data: set, rename, remove or pick."""

    number: int
    action: str
    argument: Any
    where: str = ""  # "": in the workflow's `operations`, by its number

    @property
    def place(self) -> str:
        return self.where or f"operations[{self.number}]"


@dataclass(frozen=True)
class Condition:
    """A test of the running data: `op` on the value at `path` against `value` ("exists",
    "equals", "not_equals", "lt", "lte", "gt", "gte", "in", "is", "starts_with", "matches"), or
    "and", "or", "not" of `parts`."""

    op: str
    path: tuple[str, ...] = ()
    value: Any = None
    parts: tuple["Condition", ...] = ()


@dataclass(frozen=True)
class Branch:
    when: Condition
    steps: "Block"


@dataclass(frozen=True)
class Choice:
    """Run the steps of the first branch whose condition holds, else `otherwise`."""

    where: str
    branches: tuple[Branch, ...]
    otherwise: "Block" = ()
    catch: tuple[Catcher, ...] = ()
    first: int = 0  # the calls written before it (where its record sorts in the history)

    @property
    def place(self) -> str:
        return self.where


@dataclass(frozen=True)
class Parallel:
    """Run the branches at once (at most `max_concurrency` together), each on a copy of the
    running data, and merge what each one adds or changes."""

    where: str
    branches: tuple["Block", ...]
    max_concurrency: int = 8
    catch: tuple[Catcher, ...] = ()
    first: int = 0

    @property
    def place(self) -> str:
        return self.where


@dataclass(frozen=True)
class Map:
    """Run `steps` for each item of the array at `items` (at most `max_concurrency` at once),
    each on a copy of the running data with the item under `item_as`; put under `output` the
    array of each run's `collect` value (or, with no `collect`, of what each run added)."""

    where: str
    items: tuple[str, ...]
    steps: "Block"
    output: str
    item_as: str = "item"
    collect: str | None = None
    max_concurrency: int = 8
    catch: tuple[Catcher, ...] = ()
    first: int = 0

    @property
    def place(self) -> str:
        return self.where


@dataclass(frozen=True)
class Wait:
    """Let time pass, holding nothing: `seconds`, or until the time at `until` (an ISO 8601
    date and time, or seconds since the epoch)."""

    where: str
    seconds: float | None = None
    until: tuple[str, ...] | None = None
    first: int = 0

    @property
    def place(self) -> str:
        return self.where


@dataclass(frozen=True)
class SubWorkflow:
    """Run another registered workflow (`callee`, at `version`, pinned when this one was saved)
    on inputs mapped from the running data, as one step, and merge its outputs (all of them by
    name, or those `output_map` maps). `number` tells its runs' records apart (`w<number>`)."""

    where: str
    workflow: str
    version: int | None
    number: int
    input_map: Mapping[str, "Source"] = field(default_factory=dict)
    output_map: Mapping[str, tuple[str, ...]] | None = None
    catch: tuple[Catcher, ...] = ()
    first: int = 0
    callee: "Workflow | None" = field(default=None, compare=False)

    @property
    def place(self) -> str:
        return self.where


Node = Call | Operation | Choice | Parallel | Map | Wait | SubWorkflow
Block = tuple[Node, ...]
CONSTRUCTS = (Choice, Parallel, Map, Wait, SubWorkflow)


def blocks_of(node) -> list[tuple[str, Block]]:
    """The blocks a node holds, each with its selector (how a cursor names it)."""
    held: list[tuple[str, Block]] = []
    if isinstance(node, Choice):
        held += [(f"b{k}", branch.steps) for k, branch in enumerate(node.branches)]
        held.append(("otherwise", node.otherwise))
    elif isinstance(node, Parallel):
        held += [(f"p{k}", branch) for k, branch in enumerate(node.branches)]
    elif isinstance(node, Map):
        held.append(("map", node.steps))
    held += [(f"c{k}", catcher.steps) for k, catcher in enumerate(getattr(node, "catch", ()))]
    return held


def walk_calls(block: Block):
    """Every call of a block, nested ones included, in the order they are written."""
    for node in block:
        if isinstance(node, Call):
            yield node
        for _, inner in blocks_of(node):
            yield from walk_calls(inner)


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
        """Every call, nested ones included, in the order they are written."""
        return tuple(walk_calls(self.steps))

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
