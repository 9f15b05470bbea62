"""The workflow language, parsed: steps with their mappings, operations, and the plan an event runs.

A workflow's `services` entry is a service name, or
`{"service": name, "input": {input: source}, "output": {name: path in the answer}}`.
A source is a path into the running data (a string, see paths.py) or a literal: any JSON value
that is not a string, or `{"const": value}` for any value, strings included.

An operation is one of `set` ({name: source}), `rename` ({old: new}), `remove` ([names]) or
`pick` ([names]), with `after`: "inputs" (before the first step), a step index, or, when left
out, the end (after the last step, before the outputs are picked).
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from machinery.engine.paths import parse
from machinery.engine.retries import RetryPolicy

FIELD_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
ACTIONS = ("set", "rename", "remove", "pick")
ON_INPUTS = "inputs"


class DefinitionError(ValueError):
    """A workflow definition that does not follow the language."""


@dataclass(frozen=True)
class Ref:
    """A value taken from the running data at a path."""

    path: tuple[str, ...]


@dataclass(frozen=True)
class Literal:
    value: Any


Source = Ref | Literal


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    required: bool = True


@dataclass(frozen=True)
class Step:
    """One call: the service, where it listens, what it takes and answers, and the mappings."""

    service: str
    address: str
    inputs: tuple[str, ...]
    outputs: tuple[Field, ...] = ()
    optional_inputs: frozenset[str] = frozenset()
    input_map: Mapping[str, Source] = field(default_factory=dict)
    output_map: Mapping[str, tuple[str, ...]] | None = None
    version: int | None = None
    timeout: tuple[float, float] | None = None  # (connect, read); None: the caller's default
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    repeatable: bool = False  # whether a request that may have reached the service may be resent


@dataclass(frozen=True)
class Operation:
    """A change of the running data after step `after` (-1: on the inputs)."""

    after: int
    action: str
    argument: Any


@dataclass(frozen=True)
class Plan:
    """What an event runs: steps, operations, and the names it answers (empty: all the data)."""

    steps: tuple[Step, ...]
    outputs: tuple[str, ...] = ()
    operations: tuple[Operation, ...] = ()

    def operations_after(self, index: int) -> list[Operation]:
        return [operation for operation in self.operations if operation.after == index]


def parse_source(value) -> Source:
    """A mapping value: a path when it is a string, a literal otherwise."""
    if isinstance(value, str):
        return Ref(parse(value))
    if isinstance(value, dict):
        if set(value) != {"const"}:
            raise DefinitionError(
                'An object here is a literal written {"const": value}; '
                "a string is a path into the running data."
            )
        return Literal(value["const"])
    return Literal(value)


def parse_step(entry) -> tuple[str, dict[str, Source], dict[str, tuple[str, ...]] | None]:
    """(service name, input mapping, output mapping or None) of a `services` entry."""
    if isinstance(entry, str):
        return entry, {}, None
    if not isinstance(entry.get("service"), str):
        raise DefinitionError('A step object names its service: {"service": name, ...}.')
    inputs = {name: parse_source(value) for name, value in (entry.get("input") or {}).items()}
    output = entry.get("output")
    if output is None:
        return entry["service"], inputs, None
    _names("The output mapping", output)
    if not all(isinstance(path, str) for path in output.values()):
        raise DefinitionError("An output mapping maps names to paths in the answer (strings).")
    return entry["service"], inputs, {name: parse(path) for name, path in output.items()}


def service_names(entries) -> list[str]:
    """The service each `services` entry calls, in order."""
    return [entry if isinstance(entry, str) else entry["service"] for entry in entries]


def parse_operations(operations, steps: int) -> tuple[Operation, ...]:
    """The operations of a definition (`[]` and `{}` mean none), placed on step indexes."""
    if not operations:
        return ()
    if not isinstance(operations, list):
        raise DefinitionError("operations is a list of operations.")
    return tuple(_operation(number, op, steps) for number, op in enumerate(operations))


def _operation(number: int, operation, steps: int) -> Operation:
    where = f"Operation {number}"
    if not isinstance(operation, dict):
        raise DefinitionError(f"{where} is an object.")
    actions = [action for action in ACTIONS if action in operation]
    unknown = set(operation) - set(ACTIONS) - {"after"}
    if len(actions) != 1 or unknown:
        raise DefinitionError(f"{where} has exactly one of {', '.join(ACTIONS)}, and 'after'.")
    after = operation.get("after", steps - 1)
    if after == ON_INPUTS:
        after = -1
    elif not isinstance(after, int) or isinstance(after, bool) or not 0 <= after < steps:
        raise DefinitionError(
            f"{where}: 'after' is \"inputs\" or a step index from 0 to {steps - 1}."
        )
    action = actions[0]
    argument = operation[action]
    if action in ("set", "rename"):
        if not isinstance(argument, dict) or not argument:
            raise DefinitionError(f"{where}: {action} takes a non-empty object.")
        _names(where, argument)
        if action == "set":
            argument = {name: parse_source(value) for name, value in argument.items()}
        else:
            _names(where, argument.values())
    elif not isinstance(argument, list) or not argument:
        raise DefinitionError(f"{where}: {action} takes a non-empty list of names.")
    else:
        _names(where, argument)
    return Operation(after=after, action=action, argument=argument)


def _names(where: str, names) -> None:
    for name in names:
        if not isinstance(name, str) or not FIELD_NAME.match(name):
            raise DefinitionError(f"{where}: {name!r} is not a field name.")


def fields_of(declared: list[dict]) -> tuple[Field, ...]:
    return tuple(Field(f["name"], f["type"], f.get("required", True)) for f in declared)


def parse_timeout(spec) -> tuple[float, float] | None:
    """(connect, read) seconds from a `timeout`: a number (both) or {"connect", "read"}."""
    if spec is None:
        return None
    if isinstance(spec, int | float):
        return float(spec), float(spec)
    return spec.get("connect"), spec.get("read")


def call_options(service: Mapping, entry) -> dict:
    """A step's timeout, retry policy and retry safety: the service's, overridden by the step."""
    step = entry if isinstance(entry, Mapping) else {}
    service_timeout = parse_timeout(service.get("timeout")) or (None, None)
    step_timeout = parse_timeout(step.get("timeout")) or (None, None)
    connect = step_timeout[0] if step_timeout[0] is not None else service_timeout[0]
    read = step_timeout[1] if step_timeout[1] is not None else service_timeout[1]
    return {
        "timeout": None if connect is None and read is None else (connect, read),
        "retry": RetryPolicy.from_spec(step.get("retry", service.get("retry"))),
        "repeatable": bool(service.get("idempotent") or step.get("retry_non_idempotent")),
    }


def build_plan(workflow: Mapping, services: Mapping[str, Mapping]) -> Plan:
    """The plan of a workflow, given the definitions of the services it calls, by name."""
    steps = []
    for entry in workflow["services"]:
        name, input_map, output_map = parse_step(entry)
        service = services[name]
        steps.append(
            Step(
                service=name,
                address=service["address"],
                inputs=tuple(f["name"] for f in service["inputs"]),
                optional_inputs=frozenset(
                    f["name"] for f in service["inputs"] if not f.get("required", True)
                ),
                outputs=fields_of(service["outputs"]),
                input_map=input_map,
                output_map=output_map,
                version=service.get("version"),
                **call_options(service, entry),
            )
        )
    return Plan(
        steps=tuple(steps),
        outputs=tuple(f["name"] for f in workflow["outputs"]),
        operations=parse_operations(workflow.get("operations"), len(steps)),
    )
