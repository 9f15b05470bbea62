"""Parsing definitions, once, into the model: `parse_workflow` and `parse_service`.

A workflow's `services` entry is a service name, or
`{"service": name, "input": {input: source}, "output": {name: path in the answer}}`, with
optional `timeout`, `retry` and `retry_non_idempotent`. A source is a path into the running data
(a string, see paths.py) or a literal: any JSON value that is not a string, or `{"const": value}`
for any value, strings included.

An operation is one of `set` ({name: source}), `rename` ({old: new}), `remove` ([names]) or
`pick` ([names]), with `after`: "inputs" (before the first step), a step index, or, when left
out, the end (after the last step, before the outputs are picked).

Definitions reaching the parser have passed the schema layer's shape checks (types of fields,
names); the parser decides what the language means and says where a definition breaks it.
"""

import re
from collections.abc import Mapping

from machinery.language.model import (
    Block,
    Call,
    Field,
    Literal,
    Operation,
    Ref,
    RetryPolicy,
    Service,
    ServiceAuth,
    Source,
    Timeout,
    Workflow,
)
from machinery.language.paths import PathError, parse

FIELD_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
ACTIONS = ("set", "rename", "remove", "pick")
ON_INPUTS = "inputs"


class DefinitionError(ValueError):
    """A definition that does not follow the language; `place` says where (`services[2]`)."""

    def __init__(self, message: str, place: str = ""):
        super().__init__(message)
        self.place = place


def parse_workflow(raw: Mapping) -> Workflow:
    """The model of a workflow definition; DefinitionError at the first place it breaks."""
    entries = raw["services"]
    calls = [parse_call(entry, index) for index, entry in enumerate(entries)]
    operations = parse_operations(raw.get("operations"), len(calls))
    return Workflow(
        name=raw["name"],
        steps=place_operations(calls, operations),
        inputs=fields_of(raw.get("inputs", [])),
        outputs=fields_of(raw.get("outputs", [])),
        version=raw.get("version"),
        durability=raw.get("durability") or "step",
    )


def place_operations(calls: list[Call], operations: list[tuple[int, Operation]]) -> Block:
    """Calls and operations in the order they run: each operation after the step it names."""
    steps: list = [operation for after, operation in operations if after == -1]
    for call in calls:
        steps.append(call)
        steps.extend(operation for after, operation in operations if after == call.index)
    return tuple(steps)


def parse_service(raw: Mapping) -> Service:
    """The model of a service definition."""
    return Service(
        name=raw["name"],
        address=raw["address"],
        inputs=fields_of(raw.get("inputs", [])),
        outputs=fields_of(raw.get("outputs", [])),
        version=raw.get("version"),
        timeout=parse_timeout(raw.get("timeout")),
        retry=RetryPolicy.from_spec(raw.get("retry")),
        idempotent=bool(raw.get("idempotent")),
        mode=raw.get("mode") or "request",
        auth=ServiceAuth(**raw["auth"]) if raw.get("auth") else None,
    )


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


def parse_call(entry, index: int) -> Call:
    """The step a `services` entry describes."""
    place = f"services[{index}]"
    try:
        return _call(entry, index)
    except PathError as error:
        raise DefinitionError(str(error), place) from None
    except DefinitionError as error:
        error.place = error.place or place
        raise


def _call(entry, index: int) -> Call:
    if isinstance(entry, str):
        return Call(index=index, service=entry)
    if not isinstance(entry, Mapping) or not isinstance(entry.get("service"), str):
        raise DefinitionError('A step object names its service: {"service": name, ...}.')
    inputs = {name: parse_source(value) for name, value in (entry.get("input") or {}).items()}
    output = entry.get("output")
    output_map = None
    if output is not None:
        _names("The output mapping", output)
        if not all(isinstance(path, str) for path in output.values()):
            raise DefinitionError("An output mapping maps names to paths in the answer (strings).")
        output_map = {name: parse(path) for name, path in output.items()}
    return Call(
        index=index,
        service=entry["service"],
        input_map=inputs,
        output_map=output_map,
        timeout=parse_timeout(entry.get("timeout")),
        retry=RetryPolicy.from_spec(entry["retry"]) if entry.get("retry") else None,
        retry_non_idempotent=bool(entry.get("retry_non_idempotent")),
    )


def parse_operations(operations, steps: int) -> list[tuple[int, Operation]]:
    """The operations of a definition (`[]` and `{}` mean none), each with the index of the step
    it follows (-1: the inputs)."""
    if not operations:
        return []
    if not isinstance(operations, list):
        raise DefinitionError("operations is a list of operations.", "operations")
    parsed = []
    for number, operation in enumerate(operations):
        try:
            parsed.append(_operation(number, operation, steps))
        except PathError as error:
            raise DefinitionError(f"Operation {number}: {error}", f"operations[{number}]") from None
        except DefinitionError as error:
            error.place = f"operations[{number}]"
            raise
    return parsed


def _operation(number: int, operation, steps: int) -> tuple[int, Operation]:
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
    return after, Operation(number=number, action=action, argument=argument)


def _names(where: str, names) -> None:
    for name in names:
        if not isinstance(name, str) or not FIELD_NAME.match(name):
            raise DefinitionError(f"{where}: {name!r} is not a field name.")


def fields_of(declared) -> tuple[Field, ...]:
    return tuple(Field(f["name"], f["type"], f.get("required", True)) for f in declared)


def parse_timeout(spec) -> Timeout | None:
    """(connect, read) seconds from a `timeout`: a number (both) or {"connect", "read"}."""
    if spec is None:
        return None
    if isinstance(spec, int | float):
        return float(spec), float(spec)
    return spec.get("connect"), spec.get("read")
