"""Run an event, one step at a time: each call to `advance` runs the workflow from the state's
cursor through its next step, and returns the state to save.

The run state is all an event needs to go on after a crash: the running data, the cursor and,
once it ends, its status, outputs or error. The cursor is a path into the tree of blocks: the
position of the next node in the workflow's steps (an int, for a step at the top) or, inside a
construct, `(position, selector, position, ...)`, where a selector names the block entered
(`b1`: a choice's second branch, `otherwise`, `c0`: a step's first catch). A `choice` is entered
by its first branch whose condition holds; a `wait` leaves the event waiting until its time (the
cursor past it), holding nothing; a `parallel` or a `map` runs as one step: its branches (or
items) at once, each on a copy of the running data, their records told as they end, and the
state saved after all of them. A failed step goes, once its retries are spent, to the innermost
`catch` (the step's own, then those of the constructs around it) that takes its kind.

Listeners hear of every attempt, every step's end, waits and the event's end; the store,
webhooks and metrics are listeners, so the executor itself knows no store, no HTTP library and
no web framework.
"""

import secrets
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from machinery import states
from machinery.engine.conditions import holds, moment_of
from machinery.engine.failures import StepFailed
from machinery.engine.operations import apply, evaluate
from machinery.engine.retries import call_with_retries
from machinery.language.functions import FunctionError
from machinery.language.model import (
    NO_LIMITS,
    Call,
    CallSettings,
    Catcher,
    Choice,
    Field,
    Limits,
    Map,
    Operation,
    Parallel,
    Ref,
    Service,
    SubWorkflow,
    Wait,
    Workflow,
    blocks_of,
    call_settings,
)
from machinery.language.paths import Missing, format_path, resolve
from machinery.language.types import inner_problems, matches, type_of

__all__ = [
    "CallOptions",
    "Caller",
    "Listener",
    "Listeners",
    "RunState",
    "StepFailed",
    "advance",
    "contract_violations",
    "fail_step",
    "next_call",
    "run_to_end",
    "start",
]


CALLBACK = "callback"
# The header that gives a callback service the URL to post its result to.
CALLBACK_HEADER = "X-Machinery-Callback-Url"
# The header naming the item of a map a call is made for (its position; "3_0" in a map in a map).
ITEM_HEADER = "X-Machinery-Item"


@dataclass(frozen=True)
class CallOptions:
    """How to make one call: the headers to send, and (connect, read) timeouts if not default."""

    headers: Mapping[str, str]
    timeout: tuple[float | None, float | None] | None = None
    # False for a callback service, whose answer only acknowledges the call: any 2xx will do.
    expect_answer: bool = True


# caller(address, payload, options) -> (HTTP status, JSON object answered); raises StepFailed.
Caller = Callable[[str, dict, CallOptions], tuple[int, dict]]


Cursor = int | tuple


@dataclass(frozen=True)
class RunState:
    """Where an event is: what the store saves after every step."""

    status: str
    cursor: Cursor  # the next node to run: its position at the top, or its path (see above)
    running: dict  # the running data
    outputs: dict | None = None
    error: dict | None = None
    wake_at: float | None = None  # waiting at a wait: when it goes on (seconds since the epoch)

    @property
    def finished(self) -> bool:
        return self.status in states.FINAL_STATES


def start(data: Mapping) -> RunState:
    """The state of an event about to run its first step."""
    return RunState(status=states.RUNNING, cursor=0, running=dict(data))


def as_path(cursor) -> tuple:
    """A cursor as a path, whether stored as a position (an int) or a list."""
    if isinstance(cursor, int):
        return (cursor,)
    return tuple(cursor)


def as_cursor(path: tuple) -> Cursor:
    """A path as a cursor: a top-level position stays an int, as it always was stored."""
    return path[0] if len(path) == 1 else path


class Listener:
    """What hears of an event's progress. Each method may raise to stop the run (a lost lease)."""

    def on_attempt(self, call: Call, attempt: dict) -> None:
        """An attempt at a step's call ended (it is in the step's record too)."""

    def on_step_end(self, record: dict, state: RunState) -> None:
        """A step ended, succeeded or failed: its record, and the state after it."""

    def on_step_wait(self, record: dict, state: RunState) -> None:
        """A callback service acknowledged its call: the step waits for the result it posts."""

    def on_branch_step(self, record: dict) -> None:
        """A step inside a parallel or a map ended (its state is saved after the whole)."""

    def on_mark(self, record: dict) -> None:
        """A construct's record that no state is saved for: the branch a choice took, a wait
        begun, a catch entered, a construct ended inside a parallel or a map. It is kept with
        the next state saved."""

    def on_wait(self, state: RunState) -> None:
        """The event reached a wait: it waits until `state.wake_at`, holding nothing."""

    def on_event_end(self, state: RunState) -> None:
        """The event ended: succeeded or failed."""


@dataclass
class Listeners(Listener):
    """Several listeners, told in order (the store first: later ones hear of what is kept)."""

    listeners: list[Listener] = field(default_factory=list)

    def on_attempt(self, call, attempt):
        for listener in self.listeners:
            listener.on_attempt(call, attempt)

    def on_step_end(self, record, state):
        for listener in self.listeners:
            listener.on_step_end(record, state)

    def on_step_wait(self, record, state):
        for listener in self.listeners:
            listener.on_step_wait(record, state)

    def on_branch_step(self, record):
        for listener in self.listeners:
            listener.on_branch_step(record)

    def on_mark(self, record):
        for listener in self.listeners:
            listener.on_mark(record)

    def on_wait(self, state):
        for listener in self.listeners:
            listener.on_wait(state)

    def on_event_end(self, state):
        for listener in self.listeners:
            listener.on_event_end(state)


def advance(
    workflow: Workflow,
    services: Mapping[str, Service],
    state: RunState,
    caller: Caller,
    listener: Listener,
    *,
    event_id: str = "",
    may_have_been_sent: bool = False,
    recorded: dict | None = None,
    callback_url: Callable[[Call], str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    instance: str = "",
    waits: bool = True,
    clock: Callable[[], float] = time.time,
    limits: Limits = NO_LIMITS,
    replay: Mapping | None = None,
    branches: Mapping[str, str] | None = None,
) -> RunState:
    """Run the operations at the cursor and the next step (a call, a wait, or a parallel or a
    map as a whole), and the operations after it.

    `may_have_been_sent`: the process that ran this state before died, so the call at the cursor
    may have reached its service; it is made again only where that is safe (an idempotent
    service, or a step allowing it), otherwise the step fails as interrupted.
    `recorded`: the record of the call at the cursor, kept by a process that died before it
    saved the state after it (or the result a callback service posted); a succeeded step's
    answer is used, its service not called again.
    `callback_url(call)`: the URL a callback service posts its result to (it raises StepFailed
    when none can be made); the step then waits (status `waiting`). None: callback services'
    answers are taken as their results (a dry run).
    `instance`: which run of a map's steps this is (`3`, `3_0` in a map in a map): it tells
    the records and the idempotency keys of one item's calls from another's.
    `waits`: False to let a wait's time pass at once (a dry run).
    `limits`: the most items a map takes and the longest a wait waits for a time in the data.
    `replay`: the records of calls already made in this run, by (call index, instance): a
    parallel or a map resumed after a crash takes their answers instead of calling again, and
    makes again only the calls without one that may be repeated.
    """
    if state.finished:
        return state
    run = _Run(workflow, services, caller, listener, event_id, callback_url, sleep, instance)
    run.waits, run.clock, run.limits = waits, clock, limits
    run.replay = replay or {}
    run.branches = branches or {}
    path, running = run.settle(as_path(state.cursor), state.running, enter=True)
    if path is None:
        finished = _succeed(workflow, RunState(states.RUNNING, len(workflow.steps), running))
        listener.on_event_end(finished)
        return finished
    node = run.node_at(path)
    if isinstance(node, Call):
        return run.call(node, path, running, may_have_been_sent, recorded)
    if isinstance(node, Wait):
        return run.wait(node, path, running)
    return run.fan_out(node, path, running, may_have_been_sent)


def run_to_end(
    workflow: Workflow,
    services: Mapping[str, Service],
    state: RunState,
    caller: Caller,
    listener: Listener,
    *,
    may_have_been_sent: bool = False,
    recorded: dict | None = None,
    **options,
) -> RunState:
    """Advance until the event ends (the loop a dry run is); what is said of the call at the
    cursor (`may_have_been_sent`, `recorded`) holds for the first advance only."""
    first = {"may_have_been_sent": may_have_been_sent, "recorded": recorded}
    while not state.finished and state.status != states.WAITING:
        state = advance(workflow, services, state, caller, listener, **first, **options)
        first = {}
    return state


def fail_step(
    workflow: Workflow,
    services: Mapping[str, Service],
    state: RunState,
    failure: StepFailed,
    listener: Listener,
    record: dict | None = None,
) -> RunState:
    """Fail the step at the event's cursor with a failure found outside a call (a callback that
    never came, an event cut off); `record`: what is known of the step so far. A catch around
    it that takes the failure's kind goes on from there."""
    run = _Run(workflow, services, None, listener, "", None, time.sleep, "")
    path, running = run.settle(as_path(state.cursor), state.running, enter=True)
    if path is None:
        path = (len(workflow.steps) - 1,)
    node = run.node_at(path)
    if isinstance(node, Call):
        service = services[node.service]
        record = {**_record(node, service, ""), **(record or {})}
        attempts = record.get("attempts") or []
        return run.fail_call(node, service, record, failure, attempts, path, running)
    return run.fail(path, _failure_error(failure, node), running)


def next_call(workflow: Workflow, cursor) -> Call | None:
    """The call the event at this cursor makes next, past the operations before it (None: the
    next step is no call, or none is left)."""
    run = _Run(workflow, {}, None, Listener(), "", None, time.sleep, "")
    path = as_path(cursor)
    while True:
        block, position = run.block_at(path)
        if position >= len(block):
            return None
        node = block[position]
        if not isinstance(node, Operation):
            return node if isinstance(node, Call) else None
        path = path[:-1] + (position + 1,)


def request_headers(event_id: str, index: int, instance: str = "") -> dict[str, str]:
    """What every call says about itself: the event and step, a key stable across retries (and
    told apart between a map's items), and a W3C traceparent whose trace is the event (a new
    span each attempt)."""
    trace_id = (event_id + "0" * 32)[:32] if event_id else secrets.token_hex(16)
    key = f"{event_id}-{index}" + (f"-{instance}" if instance else "")
    headers = {
        "Idempotency-Key": key,
        "X-Machinery-Event-Id": event_id,
        "X-Machinery-Step": str(index),
        "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01",
    }
    if instance:
        headers[ITEM_HEADER] = instance
    return headers


def step_payload(call: Call, service: Service, running: dict) -> dict:
    """What a step's service receives: each input it declares, mapped or taken by name.

    An optional input that finds nothing is left out; a required one fails the step
    (missing_input) before its service is called.
    """
    payload = {}
    for spec in service.inputs:
        source = call.input_map.get(spec.name) or Ref((spec.name,))
        try:
            payload[spec.name] = evaluate(source, running)
        except Missing as missing:
            if not spec.required:
                continue
            raise StepFailed(
                states.MISSING_INPUT,
                f"input {spec.name!r} is required, but {missing.args[0]!r} is not in "
                "the running data.",
                sent=False,
            ) from None
        except FunctionError as error:
            raise StepFailed(
                states.INVALID_DATA, f"input {spec.name!r} cannot be computed: {error}", sent=False
            ) from None
    return payload


def merge_answer(call: Call, service: Service, running: dict, answer: dict) -> dict:
    """The running data with a step's answer: its declared outputs (what the checker proved),
    or only what its output mapping names. The whole answer stays on the step's record."""
    merged = dict(running)
    if call.output_map is None:
        for output in service.outputs:
            if output.name in answer:
                merged[output.name] = answer[output.name]
        return merged
    for name, path in call.output_map.items():
        try:
            merged[name] = resolve(answer, path)
        except Missing:
            merged.pop(name, None)
    return merged


def contract_violations(declared: tuple[Field, ...], answer: dict) -> list[str]:
    """How an answer breaks the outputs its service declares (empty when it keeps to them)."""
    violations = []
    for output in declared:
        if output.name not in answer:
            if output.required:
                violations.append(f"output {output.name!r} ({output.type}) is missing")
        elif not matches(output.type, answer[output.name]):
            violations.append(
                f"output {output.name!r} is {type_of(answer[output.name])}, expected {output.type}"
            )
        else:
            inner = inner_problems(output, answer[output.name], output.name)
            violations.extend(f"output {problem}" for problem in inner)
    return violations


def failure_message(error: dict) -> str:
    """Why an event failed, in one sentence."""
    if "step" not in error:  # cut off as a whole (interrupt-stale), not by one of its steps
        return f"The event failed ({error['kind']}): {error['message']}"
    return f"Step {error['step']} ({error['service']}) failed: {error['message']}"


def _record(call: Call, service: Service, instance: str) -> dict:
    record = {
        "index": call.index,
        "service": call.service,
        "address": service.address,
        "started_at": datetime.now(UTC),
    }
    if call.nested:
        record["place"] = call.place
    if instance:
        record["instance"] = instance
    if service.version is not None:
        record["service_version"] = service.version
    return record


def _succeed(workflow: Workflow, state: RunState) -> RunState:
    names = [output.name for output in workflow.outputs]
    running = state.running
    outputs = {name: running[name] for name in names if name in running} if names else running
    return replace(state, status=states.SUCCEEDED, outputs=outputs)


class _Run:
    """One advance: the workflow, what it calls and who hears of it, and the walk of its tree."""

    def __init__(
        self, workflow, services, caller, listener, event_id, callback_url, sleep, instance
    ):
        self.workflow = workflow
        self.services = services
        self.caller = caller
        self.listener = listener
        self.event_id = event_id
        self.callback_url = callback_url
        self.sleep = sleep
        self.instance = instance
        self.waits = True
        self.clock = time.time
        self.limits = NO_LIMITS
        self.replay: Mapping = {}
        self.branches: Mapping[str, str] = {}  # a dry run's: the branch to take, by place

    # The tree: a path is (position, selector, position, ...).

    def block_at(self, path: tuple):
        block = self.workflow.steps
        for level in range(0, len(path) - 1, 2):
            block = dict(blocks_of(block[path[level]]))[path[level + 1]]
        return block, path[-1]

    def node_at(self, path: tuple):
        block, position = self.block_at(path)
        return block[position]

    def settle(self, path: tuple, running: dict, enter: bool) -> tuple[tuple | None, dict]:
        """Apply the operations from the path on, leaving the blocks that end and (with `enter`)
        entering the choices met: (the path of the next step, or None at the end; the data)."""
        while True:
            block, position = self.block_at(path)
            if position >= len(block):
                if len(path) == 1:
                    return None, running
                path = path[:-3] + (path[-3] + 1,)
                continue
            node = block[position]
            if isinstance(node, Operation):
                running = apply(node, running)
                path = path[:-1] + (position + 1,)
            elif enter and isinstance(node, Choice):
                selector = self.branches.get(node.place) or _chosen(node, running)
                self.mark(node, branch=_branch_name(selector))
                path = path + (selector, 0)
            else:
                return path, running

    def state_after(self, path: tuple, running: dict) -> RunState:
        """The state once the step at `path` is done: at the next one, or the event's end."""
        following, running = self.settle(path[:-1] + (path[-1] + 1,), running, enter=False)
        if following is None:
            return _succeed(
                self.workflow, RunState(states.RUNNING, len(self.workflow.steps), running)
            )
        return RunState(states.RUNNING, as_cursor(following), running)

    def mark(self, node, started: datetime | None = None, **details) -> dict:
        """Tell the record of a construct (or a catch) that has no state of its own saved."""
        record = _construct_record(node, self.instance, started, **details)
        self.listener.on_mark(record)
        return record

    def told(self, record: dict | None, after: RunState) -> RunState:
        if record is not None:
            self.listener.on_step_end(record, after)
        if after.finished:
            self.listener.on_event_end(after)
        return after

    # Steps.

    def call(self, call: Call, path, running, may_have_been_sent, recorded) -> RunState:
        service = self.services[call.service]
        settings = call_settings(call, service)
        record = _record(call, service, self.instance)
        replayed = self.replay.get((call.index, self.instance))
        if replayed is not None and replayed.get("error") is None:
            # made before the crash, in this run, and recorded: its answer, not a new call
            return self.state_after(path, merge_answer(call, service, running, replayed["outputs"]))
        if recorded is not None and recorded.get("error") is None:
            merged = merge_answer(call, service, running, recorded["outputs"])
            return self.told(recorded, self.state_after(path, merged))
        if may_have_been_sent and not settings.repeatable:
            failure = StepFailed(
                states.INTERRUPTED,
                "the event was cut off while this step may have been calling the service, "
                "which is not idempotent: it is not called again (redrive the event to do so)",
            )
            return self.fail_call(call, service, record, failure, [], path, running)
        attempts: list[dict] = []
        started = time.perf_counter()
        status_code, answer = None, None
        waits = service.mode == CALLBACK and self.callback_url is not None
        try:
            payload = step_payload(call, service, running)
            headers = {CALLBACK_HEADER: self.callback_url(call)} if waits else {}
            attempt = _attempt(
                self.caller,
                call,
                service.address,
                settings,
                payload,
                (self.event_id, self.instance),
                attempts,
                self.listener,
                headers,
            )
            status_code, answer = call_with_retries(
                attempt, settings.retry, settings.repeatable, self.sleep
            )
            if waits:
                record.update(
                    duration_ms=_elapsed_ms(started),
                    status_code=status_code,
                    outputs=None,
                    error=None,
                    attempts=attempts,
                )
                waiting = RunState(states.WAITING, as_cursor(path), running)
                self.listener.on_step_wait(record, waiting)
                return waiting
            violations = contract_violations(service.outputs, answer)
            if violations:
                raise StepFailed(
                    states.CONTRACT_VIOLATION, "; ".join(violations) + ".", status_code
                )
        except StepFailed as failure:
            record.update(duration_ms=_elapsed_ms(started), outputs=answer)
            return self.fail_call(call, service, record, failure, attempts, path, running)
        record.update(
            duration_ms=_elapsed_ms(started),
            status_code=status_code,
            outputs=answer,
            error=None,
            attempts=attempts,
        )
        merged = merge_answer(call, service, running, answer)
        return self.told(record, self.state_after(path, merged))

    def wait(self, node: Wait, path, running) -> RunState:
        if node.seconds is not None:
            wake_at = self.clock() + node.seconds
        else:
            try:
                wake_at = moment_of(resolve(running, node.until))
            except Missing:
                wake_at = None
            if wake_at is None:
                failure = StepFailed(
                    states.INVALID_DATA,
                    f"the wait's until, {format_path(node.until)!r}, is not a date and time "
                    "(ISO 8601) or a number of seconds since the epoch in the running data",
                )
                return self.fail(path, _failure_error(failure, node), running)
        if wake_at - self.clock() > self.limits.max_wait_s:
            failure = StepFailed(
                states.INVALID_DATA,
                f"the wait's until, {format_path(node.until)!r}, is more than "
                f"{self.limits.max_wait_s:g} seconds away (MACHINERY_MAX_WAIT_S)",
            )
            return self.fail(path, _failure_error(failure, node), running)
        after = path[:-1] + (path[-1] + 1,)
        if not self.waits or wake_at <= self.clock():
            self.mark(node, outcome=states.SUCCEEDED, wake_at=_moment(wake_at))
            return self.state_after(path, running)
        self.mark(node, outcome=states.WAITING, wake_at=_moment(wake_at), duration_ms=None)
        waiting = RunState(states.WAITING, as_cursor(after), running, wake_at=wake_at)
        self.listener.on_wait(waiting)
        return waiting

    def fan_out(self, node, path, running, may_have_been_sent) -> RunState:
        """A parallel's branches, or a map's items, each run to its end; the state after all.
        Resumed after a crash (`may_have_been_sent`), the calls recorded in this run are not
        made again, and one without a record is made only where that is safe."""
        if isinstance(node, SubWorkflow):
            return self.call_workflow(node, path, running, may_have_been_sent)
        started, clock = datetime.now(UTC), time.perf_counter()
        if isinstance(node, Parallel):
            runs = [(branch, dict(running), self.instance) for branch in node.branches]
            size = {"branches": len(runs)}
        else:
            try:
                items = resolve(running, node.items)
            except Missing:
                items = None
            if not isinstance(items, list):
                failure = StepFailed(
                    states.INVALID_DATA,
                    f"the map's items, {format_path(node.items)!r}, is "
                    f"{'not in the running data' if items is None else type_of(items)}, "
                    "not an array",
                )
                return self.fail(path, _failure_error(failure, node), running)
            if len(items) > self.limits.max_map_items:
                failure = StepFailed(
                    states.INVALID_DATA,
                    f"the map's items, {format_path(node.items)!r}, are {len(items)}, more than "
                    f"the {self.limits.max_map_items} a map takes (MACHINERY_MAX_MAP_ITEMS)",
                )
                return self.fail(path, _failure_error(failure, node), running)
            prefix = f"{self.instance}_" if self.instance else ""
            runs = [
                (node.steps, {**running, node.item_as: item}, f"{prefix}{number}")
                for number, item in enumerate(items)
            ]
            size = {"item_count": len(runs)}
        ended = self.run_all(node, runs, resumed=may_have_been_sent)
        record = _construct_record(node, self.instance, started, clock, **size)
        failed = [state for state in ended if state.status == states.FAILED]
        if failed:
            error = {**failed[0].error, "within": node.place}
            return self.fail(path, error, running, _failed_construct(record, error))
        if isinstance(node, Parallel):
            merged = dict(running)
            for state in ended:
                merged.update(_changes(running, state.running))
                for name in running:
                    if name not in state.running:
                        merged.pop(name, None)
        else:
            results = [
                state.running.get(node.collect)
                if node.collect
                else {
                    k: v for k, v in _changes(running, state.running).items() if k != node.item_as
                }
                for state in ended
            ]
            merged = {**running, node.output: results}
        # Its calls' records were told as they ended; its own comes with the state after it.
        return self.told(record, self.state_after(path, merged))

    def call_workflow(self, node: SubWorkflow, path, running, resumed) -> RunState:
        """Run the workflow a step calls on the inputs mapped to it, as one step; merge its
        outputs (or those the step maps), or fail with its failure."""
        callee = node.callee
        started, clock = datetime.now(UTC), time.perf_counter()
        data = {}
        for spec in callee.inputs:
            source = node.input_map.get(spec.name) or Ref((spec.name,))
            try:
                data[spec.name] = evaluate(source, running)
            except Missing as missing:
                if not spec.required:
                    continue
                failure = StepFailed(
                    states.MISSING_INPUT,
                    f"input {spec.name!r} of workflow {node.workflow!r} is required, but "
                    f"{missing.args[0]!r} is not in the running data.",
                )
                return self.fail(path, _failure_error(failure, node), running)
            except FunctionError as error:
                failure = StepFailed(
                    states.INVALID_DATA,
                    f"input {spec.name!r} of workflow {node.workflow!r} cannot be computed: "
                    f"{error}",
                )
                return self.fail(path, _failure_error(failure, node), running)
        prefix = f"{self.instance}_" if self.instance else ""
        (ended,) = self.run_all(node, [(callee, data, f"{prefix}w{node.number}")], resumed=resumed)
        record = _construct_record(
            node, self.instance, started, clock, callee=callee.name, callee_version=callee.version
        )
        if ended.status == states.FAILED:
            error = {**ended.error, "within": node.place, "workflow": node.workflow}
            return self.fail(path, error, running, _failed_construct(record, error))
        outputs = ended.outputs or {}
        merged = dict(running)
        if node.output_map is None:
            merged.update({f.name: outputs[f.name] for f in callee.outputs if f.name in outputs})
        else:
            for name, source in node.output_map.items():
                try:
                    merged[name] = resolve(outputs, source)
                except Missing:
                    merged.pop(name, None)
        return self.told(record, self.state_after(path, merged))

    def run_all(self, node, runs, resumed: bool = False) -> list[RunState]:
        """Run each block on its data at once (at most the node's max_concurrency together); when
        one fails, the others stop before their next step."""
        stop = threading.Event()
        lock = threading.Lock()

        def run_one(block, data, instance) -> RunState:
            # a block of this workflow's, or the workflow a step calls
            if isinstance(block, Workflow):
                inner, called = block, block.name
            else:
                inner, called = Workflow(self.workflow.name, steps=block), None
            listener = _BranchListener(self.listener, lock, called)
            state = RunState(states.RUNNING, 0, data)
            while not state.finished:
                if stop.is_set():
                    return replace(state, status=states.CANCELLED)
                state = advance(
                    inner,
                    self.services,
                    state,
                    self.caller,
                    listener,
                    event_id=self.event_id,
                    sleep=self.sleep,
                    instance=instance,
                    waits=False,
                    clock=self.clock,
                    limits=self.limits,
                    may_have_been_sent=resumed,
                    replay=self.replay,
                    branches=self.branches,
                )
                if state.status == states.WAITING:  # refused when the workflow is saved
                    state = replace(state, status=states.RUNNING)
            if state.status == states.FAILED:
                stop.set()
            return state

        if not runs:
            return []
        if len(runs) == 1:  # a sub-workflow, or a map of one item: no thread needed
            return [run_one(*runs[0])]
        with ThreadPoolExecutor(max_workers=min(node.max_concurrency, len(runs))) as pool:
            futures = [pool.submit(run_one, *run) for run in runs]
            return [future.result() for future in futures]

    # Failures.

    def fail_call(self, call, service, record, failure: StepFailed, attempts, path, running):
        message = failure.message
        if len(attempts) > 1:
            message += f" (after {len(attempts)} attempts)"
        record.setdefault("duration_ms", 0.0)
        record.setdefault("outputs", None)
        record.update(
            status_code=failure.status_code,
            error={"kind": failure.kind, "message": message},
            attempts=attempts,
        )
        error = {
            "step": call.index,
            "service": call.service,
            "address": service.address,
            "kind": failure.kind,
            "status_code": failure.status_code,
            "attempts": len(attempts),
            "message": message,
        }
        if call.nested:
            error["place"] = call.place
        if self.instance:
            error["instance"] = self.instance
        return self.fail(path, error, running, record)

    def fail(self, path, error: dict, running: dict, record: dict | None = None) -> RunState:
        """Go on at the innermost catch around the failed step that takes its kind, or end the
        event as failed."""
        for level in range(len(path) - 1, -1, -2):
            inside_catch = level + 1 < len(path) and str(path[level + 1]).startswith("c")
            node = self.node_at(path[: level + 1])
            for number, catcher in enumerate(() if inside_catch else getattr(node, "catch", ())):
                if catcher.catches(error["kind"], error.get("status_code")):
                    if record is not None:
                        record["caught"] = True
                    self.mark(
                        catcher,
                        place=f"{node.place}.catch[{number}]",
                        caught_error=_caught(error),
                    )
                    caught = {**running, catcher.error_as: _caught(error)}
                    target = path[: level + 1] + (f"c{number}", 0)
                    following, caught = self.settle(target, caught, enter=False)
                    if following is None:
                        after = _succeed(
                            self.workflow,
                            RunState(states.RUNNING, len(self.workflow.steps), caught),
                        )
                    else:
                        after = RunState(states.RUNNING, as_cursor(following), caught)
                    if record is None:  # a construct's own failure (not a call's)
                        record = _failed_construct(_construct_record(node, self.instance), error)
                        record["caught"] = True
                    return self.told(record, after)
        failed = RunState(states.FAILED, as_cursor(path), running, error=error)
        if record is not None:
            self.listener.on_step_end(record, failed)
        self.listener.on_event_end(failed)
        return failed


class _BranchListener(Listener):
    """What a parallel's branch or a map's item tells: its attempts and its steps' records,
    one thread at a time, to the event's listener; its end is the construct's to tell."""

    def __init__(self, listener: Listener, lock: threading.Lock, workflow: str | None = None):
        self.listener = listener
        self.lock = lock
        self.workflow = workflow  # the workflow a step calls, whose steps these are

    def on_attempt(self, call, attempt):
        with self.lock:
            self.listener.on_attempt(call, attempt)

    def on_step_end(self, record, state):
        if "construct" in record:  # a construct inside ended: nothing to replay after a crash
            self.on_mark(record)
            return
        self.on_branch_step(record)

    def on_branch_step(self, record):
        if self.workflow is not None:
            record.setdefault("workflow", self.workflow)
        with self.lock:
            self.listener.on_branch_step(record)

    def on_mark(self, record):
        if self.workflow is not None:
            record.setdefault("workflow", self.workflow)
        with self.lock:
            self.listener.on_mark(record)


def _chosen(node: Choice, running: dict) -> str:
    for number, branch in enumerate(node.branches):
        if holds(branch.when, running):
            return f"b{number}"
    return "otherwise"


def _branch_name(selector: str) -> str:
    """A choice's branch as the definition names it: `choice[1]`, or `otherwise`."""
    return f"choice[{selector[1:]}]" if selector.startswith("b") else selector


_KINDS = {
    Choice: "choice",
    Parallel: "parallel",
    Map: "map",
    Wait: "wait",
    SubWorkflow: "workflow",
    Catcher: "catch",
}


def _construct_record(
    node, instance: str = "", started: datetime | None = None, clock: float | None = None, **details
) -> dict:
    """A construct's record in the event's history: what it is, where it is written (`first`:
    the calls written before it, which orders it among the steps' records), when it began, how
    long it took and how it ended, and what it did (`details`: the branch taken, the items...)."""
    record = {
        "construct": _KINDS[type(node)],
        "place": getattr(node, "place", ""),
        "first": node.first,
        "started_at": started or datetime.now(UTC),
        "duration_ms": 0.0 if clock is None else _elapsed_ms(clock),
        "outcome": states.SUCCEEDED,
        "error": None,
    }
    if instance:
        record["instance"] = instance
    record.update(details)
    return record


def _failed_construct(record: dict, error: dict) -> dict:
    record.update(outcome=states.FAILED, error={"kind": error["kind"], "message": error["message"]})
    return record


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _changes(before: dict, after: dict) -> dict:
    """What a branch added to the data, or changed in it."""
    return {
        name: value
        for name, value in after.items()
        if name not in before or before[name] is not value and before[name] != value
    }


def _caught(error: dict) -> dict:
    """The error a catch puts in the running data."""
    keys = ("kind", "message", "step", "service", "status_code", "place")
    return {key: error[key] for key in keys if key in error}


def _failure_error(failure: StepFailed, node) -> dict:
    """The error of a step that failed with no call of its own (a construct's)."""
    error = {
        "kind": failure.kind,
        "status_code": failure.status_code,
        "attempts": 0,
        "message": failure.message,
    }
    if node is not None:
        error["place"] = node.place
    return error


def _attempt(
    caller: Caller,
    call: Call,
    address: str,
    settings: CallSettings,
    payload: dict,
    scope: tuple[str, str],
    log: list,
    listener: Listener,
    headers: Mapping[str, str],
):
    """One attempt at a step's call, noted in the log (and told to the listener) however it
    ends."""

    def attempt(number: int) -> tuple[int, dict]:
        entry = {"attempt": number, "started_at": datetime.now(UTC)}
        started = time.perf_counter()
        options = CallOptions(
            headers={**request_headers(scope[0], call.index, scope[1]), **headers},
            timeout=settings.timeout,
            expect_answer=CALLBACK_HEADER not in headers,
        )
        try:
            status_code, answer = caller(address, payload, options)
        except StepFailed as failure:
            entry.update(
                duration_ms=_elapsed_ms(started),
                outcome="failed",
                status_code=failure.status_code,
                error_kind=failure.kind,
                error=failure.message,
            )
            log.append(entry)
            listener.on_attempt(call, entry)
            raise
        entry.update(duration_ms=_elapsed_ms(started), outcome="succeeded", status_code=status_code)
        log.append(entry)
        listener.on_attempt(call, entry)
        return status_code, answer

    return attempt


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
