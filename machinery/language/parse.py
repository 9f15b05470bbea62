"""Parsing definitions, once, into the model: `parse_workflow` and `parse_service`.

A workflow's `services` entry is a service name, or
`{"service": name, "input": {input: source}, "output": {name: path in the answer}}`, with
optional `timeout`, `retry` and `retry_non_idempotent`; or a construct holding lists of steps of
its own (`steps`), written like `services` and holding operations too:
`{"choice": [{"when": condition, "steps": [...]}, ...], "otherwise": [...]}`,
`{"parallel": [[...], [...]], "max_concurrency": n}`,
`{"map": {"items": path, "as": name, "steps": [...], "collect": name, "output": name,
"max_concurrency": n}}` and `{"wait": {"seconds": n}}` or `{"wait": {"until": path}}`. Any step
but a wait may have `"catch": [{"on": [kinds or HTTP statuses], "steps": [...], "error_as":
name}]`. A condition is `{"path": path, <test>: value}` (tests: exists, equals, not_equals, lt,
lte, gt, gte, in, is, starts_with, matches) or `{"and": [...]}`, `{"or": [...]}`, `{"not": c}`.

A source is a path into the running data (a string, see paths.py) or a literal: any JSON value
that is not a string, or `{"const": value}` for any value, strings included.

An operation is one of `set` ({name: source}), `rename` ({old: new}), `remove` ([names]) or
`pick` ([names]), with `after`: "inputs" (before the first step), a step index, or, when left
out, the end (after the last step, before the outputs are picked).

Definitions reaching the parser have passed the schema layer's shape checks (types of fields,
names); the parser decides what the language means and says where a definition breaks it.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import replace

from machinery import states
from machinery.language.functions import FUNCTIONS
from machinery.language.model import (
    NO_LIMITS,
    Apply,
    Block,
    Branch,
    Build,
    Call,
    Catcher,
    Choice,
    Condition,
    Field,
    Limits,
    Literal,
    Map,
    Operation,
    Parallel,
    Ref,
    RetryPolicy,
    Service,
    ServiceAuth,
    Source,
    SubWorkflow,
    Timeout,
    Wait,
    Workflow,
)
from machinery.language.paths import PathError, parse
from machinery.language.patterns import PatternError, compile_pattern
from machinery.language.types import TYPES, canonical_type

FIELD_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
ACTIONS = ("set", "rename", "remove", "pick")
ON_INPUTS = "inputs"


class DefinitionError(ValueError):
    """A definition that does not follow the language; `place` says where (`services[2]`)."""

    def __init__(self, message: str, place: str = ""):
        super().__init__(message)
        self.place = place


CONSTRUCT_KEYS = ("choice", "parallel", "map", "wait", "workflow")
CONDITION_TESTS = (
    "exists",
    "equals",
    "not_equals",
    "lt",
    "lte",
    "gt",
    "gte",
    "in",
    "is",
    "starts_with",
    "matches",
)


def parse_workflow(raw: Mapping, limits: Limits = NO_LIMITS) -> Workflow:
    """The model of a workflow definition; DefinitionError at the first place it breaks the
    language or the limits (a new definition is checked against the configured ones; a stored one
    is read with none)."""
    entries = raw["services"]
    declared = raw.get("operations")
    # Operations written in steps are numbered after those of `operations`.
    numbers = _Numbers(operations=len(declared) if isinstance(declared, list) else 0)
    numbers.limits = limits
    nodes = [
        parse_step(entry, f"services[{position}]", numbers)
        for position, entry in enumerate(entries)
    ]
    operations = parse_operations(declared, len(entries))
    return Workflow(
        name=raw["name"],
        steps=place_operations(nodes, operations),
        inputs=fields_of(raw.get("inputs", [])),
        outputs=fields_of(raw.get("outputs", [])),
        version=raw.get("version"),
        durability=raw.get("durability") or "step",
    )


def place_operations(nodes: list, operations: list[tuple[int, Operation]]) -> Block:
    """Steps and operations in the order they run: each operation after the step it names."""
    steps: list = [operation for after, operation in operations if after == -1]
    for position, node in enumerate(nodes):
        steps.append(node)
        steps.extend(operation for after, operation in operations if after == position)
    return tuple(steps)


class _Numbers:
    """Hands out call indexes (in the order calls are written) and operation numbers."""

    def __init__(self, operations: int = 0):
        self.calls = 0
        self.subworkflows = 0
        self.operations = operations
        self.limits = NO_LIMITS
        self.depth = 0  # the lists of steps the parser is in

    def call(self) -> int:
        self.calls += 1
        return self.calls - 1

    def operation(self) -> int:
        self.operations += 1
        return self.operations - 1


def step_numbers() -> _Numbers:
    """Fresh numbering, for parsing one step on its own."""
    return _Numbers()


def service_names(entries) -> list[str]:
    """The service each call of a workflow definition's `services` names, nested ones included,
    in order (entries not well formed are passed over: the parser says what is wrong)."""
    names: list[str] = []

    def visit(entry):
        if isinstance(entry, str):
            names.append(entry)
            return
        if not isinstance(entry, Mapping):
            return
        if isinstance(entry.get("service"), str):
            names.append(entry["service"])
        for block in raw_blocks(entry):
            for inner in block if isinstance(block, list) else []:
                visit(inner)

    for entry in entries if isinstance(entries, list) else []:
        visit(entry)
    return names


def raw_blocks(entry: Mapping) -> list:
    """The lists of steps a raw step holds (not checked: any may be malformed)."""
    blocks = []
    choice = entry.get("choice")
    if isinstance(choice, list):
        blocks += [b.get("steps") for b in choice if isinstance(b, Mapping)]
        blocks.append(entry.get("otherwise"))
    parallel = entry.get("parallel")
    if isinstance(parallel, list):
        blocks += parallel
    mapped = entry.get("map")
    if isinstance(mapped, Mapping):
        blocks.append(mapped.get("steps"))
    catch = entry.get("catch")
    if isinstance(catch, list):
        blocks += [c.get("steps") for c in catch if isinstance(c, Mapping)]
    return blocks


def parse_step(entry, place: str, numbers: _Numbers, nested: bool = False):
    """The node a `services` (or `steps`) entry describes, written at `place`."""
    try:
        if isinstance(entry, Mapping):
            constructs = [key for key in CONSTRUCT_KEYS if key in entry]
            if len(constructs) > 1 or (constructs and "service" in entry):
                raise DefinitionError(
                    "A step is one of a service call, choice, parallel, map or wait."
                )
            if constructs:
                return _construct(constructs[0], entry, place, numbers)
            if nested and any(action in entry for action in ACTIONS):
                return _inline_operation(entry, place, numbers)
        call = _call(entry, numbers.call(), place if nested else "")
        catch = _catchers(entry, place, numbers) if isinstance(entry, Mapping) else ()
        if catch:
            call = Call(**{**call.__dict__, "catch": catch})
        return call
    except PathError as error:
        raise DefinitionError(str(error), place) from None
    except DefinitionError as error:
        error.place = error.place or place
        raise


def parse_block(entries, place: str, numbers: _Numbers) -> Block:
    """The steps of a construct's list, written at `place` (`services[2].choice[0].steps`)."""
    if not isinstance(entries, list):
        raise DefinitionError("A list of steps.", place)
    limits = numbers.limits
    if len(entries) > limits.max_block_steps:
        raise DefinitionError(
            f"A list of steps holds at most {limits.max_block_steps} (MACHINERY_MAX_STEPS).", place
        )
    if numbers.depth >= limits.max_nesting:
        raise DefinitionError(
            f"Constructs nest at most {limits.max_nesting} deep (MACHINERY_MAX_NESTING).", place
        )
    numbers.depth += 1
    try:
        return tuple(
            parse_step(entry, f"{place}[{position}]", numbers, nested=True)
            for position, entry in enumerate(entries)
        )
    finally:
        numbers.depth -= 1


def _construct(kind: str, entry: Mapping, place: str, numbers: _Numbers):
    allowed = {kind, "catch"} | ({"otherwise"} if kind == "choice" else set())
    allowed |= {"max_concurrency"} if kind == "parallel" else set()
    allowed |= {"version", "input", "output"} if kind == "workflow" else set()
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise DefinitionError(f"A {kind} step takes no {', '.join(map(repr, unknown))}.", place)
    first = numbers.calls
    if kind == "wait":
        if "catch" in entry:
            raise DefinitionError("A wait cannot fail, so it has no catch.", place)
        return replace(_wait(entry["wait"], place, numbers.limits), first=first)
    if kind == "workflow":
        node = _subworkflow(entry, place, numbers)
    elif kind == "choice":
        node = _choice(entry, place, numbers)
    elif kind == "parallel":
        node = _parallel(entry, place, numbers)
    else:
        node = _map(entry["map"], place, numbers)
    return replace(node, catch=_catchers(entry, place, numbers), first=first)


def _subworkflow(entry: Mapping, place: str, numbers: _Numbers) -> SubWorkflow:
    name, version = entry["workflow"], entry.get("version")
    if not isinstance(name, str) or not name:
        raise DefinitionError("workflow names a registered workflow.", place)
    if version is not None and (
        isinstance(version, bool) or not isinstance(version, int) or version < 1
    ):
        raise DefinitionError("A workflow's version is a whole number from 1.", place)
    mapping = _call(
        {"service": name, **{k: entry[k] for k in ("input", "output") if k in entry}}, 0
    )
    numbers.subworkflows += 1
    return SubWorkflow(
        where=place,
        workflow=name,
        version=version,
        number=numbers.subworkflows - 1,
        input_map=mapping.input_map,
        output_map=mapping.output_map,
    )


def subworkflow_refs(entries) -> list[tuple[str, int | None]]:
    """The workflows (name, version or None) a definition's steps call, nested ones included
    (entries not well formed are passed over)."""
    found: list[tuple[str, int | None]] = []

    def visit(entry):
        if not isinstance(entry, Mapping):
            return
        if isinstance(entry.get("workflow"), str):
            found.append((entry["workflow"], entry.get("version")))
        for block in raw_blocks(entry):
            for inner in block if isinstance(block, list) else []:
                visit(inner)

    for entry in entries if isinstance(entries, list) else []:
        visit(entry)
    return found


def pin_subworkflows(entries, current: Callable[[str], int | None]) -> None:
    """Write into each sub-workflow step without a version the version `current` gives (the
    current one when the calling workflow is saved), in place."""

    def visit(entry):
        if not isinstance(entry, dict):
            return
        if isinstance(entry.get("workflow"), str) and entry.get("version") is None:
            version = current(entry["workflow"])
            if version is not None:
                entry["version"] = version
        for block in raw_blocks(entry):
            for inner in block if isinstance(block, list) else []:
                visit(inner)

    for entry in entries if isinstance(entries, list) else []:
        visit(entry)


def _branches(count: int, place: str, numbers: _Numbers) -> None:
    if count > numbers.limits.max_branches:
        raise DefinitionError(
            f"A choice or a parallel has at most {numbers.limits.max_branches} branches "
            "(MACHINERY_MAX_BRANCHES).",
            place,
        )


def _choice(entry: Mapping, place: str, numbers: _Numbers) -> Choice:
    branches = entry["choice"]
    if not isinstance(branches, list) or not branches:
        raise DefinitionError(
            'choice is a non-empty list of {"when": condition, "steps": [...]}.', place
        )
    _branches(len(branches), place, numbers)
    parsed = []
    for k, branch in enumerate(branches):
        where = f"{place}.choice[{k}]"
        if not isinstance(branch, Mapping) or set(branch) != {"when", "steps"}:
            raise DefinitionError('A branch is {"when": condition, "steps": [...]}.', where)
        condition = parse_condition(branch["when"], f"{where}.when")
        parsed.append(Branch(condition, parse_block(branch["steps"], f"{where}.steps", numbers)))
    otherwise = entry.get("otherwise", [])
    return Choice(
        where=place,
        branches=tuple(parsed),
        otherwise=parse_block(otherwise, f"{place}.otherwise", numbers),
    )


def _parallel(entry: Mapping, place: str, numbers: _Numbers) -> Parallel:
    branches = entry["parallel"]
    if not isinstance(branches, list) or len(branches) < 2:
        raise DefinitionError("parallel is a list of at least two lists of steps.", place)
    _branches(len(branches), place, numbers)
    return Parallel(
        where=place,
        branches=tuple(
            parse_block(branch, f"{place}.parallel[{k}]", numbers)
            for k, branch in enumerate(branches)
        ),
        max_concurrency=_concurrency(
            entry.get("max_concurrency", _default_concurrency(numbers)), place, numbers.limits
        ),
    )


def _map(spec, place: str, numbers: _Numbers) -> Map:
    if not isinstance(spec, Mapping):
        raise DefinitionError('map is {"items": path, "steps": [...], "output": name, ...}.', place)
    known = {"items", "steps", "output", "as", "collect", "max_concurrency"}
    unknown = sorted(set(spec) - known)
    if unknown or not {"items", "steps", "output"} <= set(spec):
        raise DefinitionError(
            "map takes items (a path to an array), steps and output (the name of the array of "
            "results), and may take as, collect and max_concurrency.",
            place,
        )
    if not isinstance(spec["items"], str):
        raise DefinitionError("map's items is a path into the running data.", place)
    for key in ("output", "as", "collect"):
        if key in spec:
            _names(f"map's {key}", [spec[key]])
    return Map(
        where=place,
        items=parse(spec["items"]),
        steps=parse_block(spec["steps"], f"{place}.map.steps", numbers),
        output=spec["output"],
        item_as=spec.get("as", "item"),
        collect=spec.get("collect"),
        max_concurrency=_concurrency(
            spec.get("max_concurrency", _default_concurrency(numbers)), place, numbers.limits
        ),
    )


def _wait(spec, place: str, limits: Limits) -> Wait:
    if not isinstance(spec, Mapping) or len(spec) != 1 or not {"seconds", "until"} & set(spec):
        raise DefinitionError('wait is {"seconds": n} or {"until": path}.', place)
    if "seconds" in spec:
        seconds = spec["seconds"]
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise DefinitionError("wait's seconds is a number, 0 or more.", place)
        if seconds > limits.max_wait_s:
            raise DefinitionError(
                f"A wait lasts at most {limits.max_wait_s:g} seconds (MACHINERY_MAX_WAIT_S).",
                place,
            )
        return Wait(where=place, seconds=float(seconds))
    if not isinstance(spec["until"], str):
        raise DefinitionError("wait's until is a path to a time in the running data.", place)
    return Wait(where=place, until=parse(spec["until"]))


def _default_concurrency(numbers: _Numbers) -> int:
    """8 at once, unless the limit is lower."""
    return min(8, numbers.limits.max_concurrency)


def _concurrency(value, place: str, limits: Limits) -> int:
    highest = limits.max_concurrency
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= highest:
        raise DefinitionError(
            f"max_concurrency is a whole number from 1 to {highest} (MACHINERY_MAX_CONCURRENCY).",
            place,
        )
    return value


def _catchers(entry: Mapping, place: str, numbers: _Numbers) -> tuple[Catcher, ...]:
    spec = entry.get("catch")
    if spec is None:
        return ()
    if not isinstance(spec, list) or not spec:
        raise DefinitionError('catch is a list of {"on": [...], "steps": [...]}.', place)
    catchers = []
    for k, catcher in enumerate(spec):
        where = f"{place}.catch[{k}]"
        if not isinstance(catcher, Mapping) or "steps" not in catcher:
            raise DefinitionError('A catch is {"on": [kinds], "steps": [...]}.', where)
        unknown = sorted(set(catcher) - {"on", "steps", "error_as"})
        if unknown:
            raise DefinitionError(f"A catch takes no {', '.join(map(repr, unknown))}.", where)
        on = catcher.get("on", [])
        if not isinstance(on, list) or not all(_catchable(kind) for kind in on):
            raise DefinitionError(
                "A catch's on lists failure kinds ("
                + ", ".join(states.FAILURE_KINDS)
                + ") or HTTP statuses (400 to 599); left out, it catches every failure.",
                where,
            )
        error_as = catcher.get("error_as", "error")
        _names("A catch's error_as", [error_as])
        catchers.append(
            Catcher(
                first=numbers.calls,
                on=frozenset(on),
                steps=parse_block(catcher["steps"], f"{where}.steps", numbers),
                error_as=error_as,
            )
        )
    return tuple(catchers)


def _catchable(kind) -> bool:
    if isinstance(kind, str):
        return kind in states.FAILURE_KINDS
    return isinstance(kind, int) and not isinstance(kind, bool) and 400 <= kind <= 599


def parse_condition(spec, place: str) -> Condition:
    """The condition a `when` describes."""
    if not isinstance(spec, Mapping):
        raise DefinitionError("A condition is an object.", place)
    for combinator in ("and", "or"):
        if combinator in spec:
            parts = spec[combinator]
            if set(spec) != {combinator} or not isinstance(parts, list) or not parts:
                raise DefinitionError(f"{combinator} takes a non-empty list of conditions.", place)
            return Condition(
                combinator,
                parts=tuple(
                    parse_condition(part, f"{place}.{combinator}[{k}]")
                    for k, part in enumerate(parts)
                ),
            )
    if "not" in spec:
        if set(spec) != {"not"}:
            raise DefinitionError("not takes one condition.", place)
        return Condition("not", parts=(parse_condition(spec["not"], f"{place}.not"),))
    tests = [key for key in spec if key != "path"]
    if "path" not in spec or len(tests) != 1 or tests[0] not in CONDITION_TESTS:
        raise DefinitionError(
            'A condition is {"path": path, <test>: value}, with one test of: '
            + ", ".join(CONDITION_TESTS)
            + '; or {"and": [...]}, {"or": [...]}, {"not": condition}.',
            place,
        )
    if not isinstance(spec["path"], str):
        raise DefinitionError("A condition's path is a path into the running data.", place)
    test, value = tests[0], spec[tests[0]]
    try:
        path = parse(spec["path"])
    except PathError as error:
        raise DefinitionError(str(error), place) from None
    _check_test_value(test, value, place)
    if test == "is":
        value = canonical_type(value) if value != "null" else "null"
    return Condition(test, path=path, value=value)


def _check_test_value(test: str, value, place: str) -> None:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if test == "exists" and not isinstance(value, bool):
        raise DefinitionError("exists takes true or false.", place)
    if test in ("lt", "lte", "gt", "gte") and not (number or isinstance(value, str)):
        raise DefinitionError(f"{test} compares with a number or a string.", place)
    if test == "in" and not isinstance(value, list):
        raise DefinitionError("in takes a list of values.", place)
    if test in ("starts_with", "matches") and not isinstance(value, str):
        raise DefinitionError(f"{test} takes a string.", place)
    if test == "is":
        try:
            if value != "null":
                canonical_type(value)
        except (ValueError, TypeError):
            raise DefinitionError(f"is takes a type: {', '.join(TYPES)} or null.", place) from None
    if test == "matches":
        try:
            compile_pattern(value)
        except PatternError as error:
            raise DefinitionError(
                f"matches takes a regular expression in RE2's syntax (no backreferences, no "
                f"lookaround): {error}.",
                place,
            ) from None


def _inline_operation(entry: Mapping, place: str, numbers: _Numbers) -> Operation:
    if "after" in entry:
        raise DefinitionError("An operation in a list of steps runs where it is: no after.", place)
    _, operation = _operation(numbers.operation(), {**entry, "after": 0}, 1)
    return Operation(
        number=operation.number, action=operation.action, argument=operation.argument, where=place
    )


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


SOURCE_FORMS = (
    'a path (a string), a literal ({"const": value}, or any JSON value but a string or an '
    'object), {"object": {name: source, ...}}, {"array": [source, ...]} or '
    '{"fn": name, "args": [source, ...]}'
)
MAX_TEMPLATE_DEPTH = 16


def parse_source(value, depth: int = 0) -> Source:
    """A mapping value: a path when it is a string, a literal, a built object or array, or a
    function applied to sources."""
    if isinstance(value, str):
        return Ref(parse(value))
    if not isinstance(value, dict):
        return Literal(value)
    if depth >= MAX_TEMPLATE_DEPTH:
        raise DefinitionError(f"A value is built at most {MAX_TEMPLATE_DEPTH} levels deep.")
    keys = set(value)
    if keys == {"const"}:
        return Literal(value["const"])
    if keys == {"object"} and isinstance(value["object"], dict):
        parts = value["object"]
        for name in parts:
            if not isinstance(name, str) or not name:
                raise DefinitionError("An object's names are non-empty strings.")
        return Build("object", {name: parse_source(v, depth + 1) for name, v in parts.items()})
    if keys == {"array"} and isinstance(value["array"], list):
        return Build("array", tuple(parse_source(v, depth + 1) for v in value["array"]))
    if "fn" in keys and keys <= {"fn", "args"}:
        return _apply(value, depth)
    raise DefinitionError(
        f"An object here is one of: {SOURCE_FORMS}; a string is a path into the running data."
    )


def _apply(value: dict, depth: int) -> Apply:
    name, args = value["fn"], value.get("args", [])
    function = FUNCTIONS.get(name) if isinstance(name, str) else None
    if function is None:
        raise DefinitionError(
            f"{name!r} is not a function; the functions are: {', '.join(sorted(FUNCTIONS))}."
        )
    if not isinstance(args, list):
        raise DefinitionError(f"{name}'s args is a list of sources.")
    too_many = not function.variadic and len(args) > len(function.params)
    if len(args) < function.required or too_many:
        raise DefinitionError(f"{name} takes {function.arity()}, not {len(args)}.")
    return Apply(name, tuple(parse_source(arg, depth + 1) for arg in args))


def parse_call(entry, index: int) -> Call:
    """The call a top-level `services` entry describes (the shape of a step object)."""
    place = f"services[{index}]"
    try:
        return _call(entry, index)
    except PathError as error:
        raise DefinitionError(str(error), place) from None
    except DefinitionError as error:
        error.place = error.place or place
        raise


def _call(entry, index: int, where: str = "") -> Call:
    if isinstance(entry, str):
        return Call(index=index, service=entry, where=where)
    if not isinstance(entry, Mapping) or not isinstance(entry.get("service"), str):
        raise DefinitionError(
            'A step names its service ({"service": name, ...}) or is a choice, parallel, map '
            "or wait."
        )
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
        where=where,
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
    return tuple(field_of(f, f["name"]) for f in declared)


def field_of(spec: Mapping, name: str = "") -> Field:
    """A declared field, with the types inside it (an array's `items`, an object's `fields`)."""
    items = spec.get("items")
    inner = spec.get("fields")
    return Field(
        name,
        spec["type"],
        spec.get("required", True),
        items=None if items is None else field_of(items),
        fields=None if inner is None else fields_of(inner),
    )


def parse_timeout(spec) -> Timeout | None:
    """(connect, read) seconds from a `timeout`: a number (both) or {"connect", "read"}."""
    if spec is None:
        return None
    if isinstance(spec, int | float):
        return float(spec), float(spec)
    return spec.get("connect"), spec.get("read")
