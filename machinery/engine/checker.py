"""Checking, when a workflow is saved, that its data will flow: every input fed, every type fitting.

The walk follows the steps in order with what the running data is known to hold at each point:
the workflow's inputs first, then what each step's outputs (or output mapping) add, and what the
operations change. Values inside an object or an array have no declared type: a path into one is
accepted here, and their types are only checked when the data is there.

Every path is walked: after a `choice`, a name is known if every branch (`otherwise` included)
provides it, and otherwise only to optional inputs; after a step with a `catch`, likewise for
the normal path and each fallback. `parallel` branches must not write the same name; a `map`'s
steps see the item, and leave only the array of results. A callback service or a wait cannot
run inside a parallel or a map (their branches hold a thread until they end).
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import singledispatchmethod

from machinery.language.functions import FUNCTIONS, fits_param
from machinery.language.model import (
    Apply,
    Build,
    Call,
    Choice,
    Field,
    Literal,
    Map,
    Operation,
    Parallel,
    Ref,
    Service,
    Source,
    SubWorkflow,
    Wait,
    Workflow,
    blocks_of,
)
from machinery.language.paths import format_path
from machinery.language.types import fits, matches, spec_fits, type_of

UNSATISFIED = "unsatisfied"
TYPE_MISMATCH = "type_mismatch"
IMPOSSIBLE_PATH = "impossible_path"
UNKNOWN_INPUT = "unknown_input"
INVALID = "invalid_definition"
CONFLICT = "conflicting_writes"
NOT_IN_BRANCHES = "not_in_branches"


@dataclass(frozen=True)
class Known:
    """What the running data is known to hold under one name, and where it came from."""

    type: str | None  # None: inside an object or array, not declared
    origin: dict
    optional: bool = False
    # Provided on some paths only (after a choice or a catch): which ones, in words.
    partial: str | None = None
    spec: Field | None = None  # the declared field, for the types inside it


@dataclass
class Analysis:
    problems: list[dict] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)
    lineage: dict = field(default_factory=lambda: {"steps": [], "outputs": {}})

    @property
    def ok(self) -> bool:
        return not self.problems


def describe(origin: dict) -> str:
    """Where a value comes from, in words."""
    source = origin["from"]
    if source == "input":
        return "workflow input"
    if source == "step":
        return f"output {origin['field']!r} of step {origin['step']} ({origin['service']})"
    if source == "literal":
        return "a literal"
    if source == "map":
        return f"the map at {origin['place']}" + (" (its item)" if origin.get("item") else "")
    if source == "catch":
        return f"the error caught at {origin['place']}"
    if source == "workflow":
        return f"output {origin['field']!r} of workflow {origin['workflow']} ({origin['place']})"
    if source == "object":
        return "the object built"
    if source == "array":
        return "the array built"
    if source == "function":
        return f"function {origin['function']}"
    return f"operation {origin['operation']}"


def check_workflow(workflow: Workflow, services: Mapping[str, Service]) -> Analysis:
    """Walk the workflow's steps and say what will not flow (problems) or not be there (warnings).

    `services` holds the definition of every service the workflow calls, by name.
    """
    return _Walk(workflow, services).run()


class _Walk:
    def __init__(self, workflow: Workflow, services: Mapping[str, Service]):
        self.workflow = workflow
        self.services = services
        self.analysis = Analysis()
        self.known = {
            f.name: Known(f.type, {"from": "input", "field": f.name}, not f.required, spec=f)
            for f in workflow.inputs
        }

    def run(self) -> Analysis:
        self.block(self.workflow.steps)
        self._outputs()
        return self.analysis

    def block(self, nodes) -> None:
        for node in nodes:
            catchers = getattr(node, "catch", ())
            before = dict(self.known)
            self.visit(node)
            if not catchers:
                continue
            outcomes = [(f"the normal path of {node.place}", self.known)]
            for number, catcher in enumerate(catchers):
                origin = {"from": "catch", "place": node.place}
                self.known = {**before, catcher.error_as: Known("object", origin)}
                self.block(catcher.steps)
                outcomes.append((f"{node.place}.catch[{number}]", self.known))
            self.known = _joined(outcomes)

    @singledispatchmethod
    def visit(self, node) -> None:
        raise TypeError(f"The checker does not know {type(node).__name__} nodes.")

    @visit.register
    def _call(self, call: Call) -> None:
        index, name = call.index, call.service
        service = self.services[name]
        where = f"Step {index} ({name}{', at ' + call.place if call.nested else ''})"
        lineage = {"index": index, "service": name, "inputs": {}}
        if call.nested:
            lineage["place"] = call.place
        self.analysis.lineage["steps"].append(lineage)
        declared = {f.name: f for f in service.inputs}
        for unknown in sorted(set(call.input_map) - set(declared)):
            self._problem(
                UNKNOWN_INPUT,
                f"{where}: the input mapping names {unknown!r}, which {name} does not take "
                f"(it takes: {', '.join(declared) or 'nothing'}).",
                step=index,
                service=name,
                field=unknown,
            )
        for field_name, spec in declared.items():
            source = call.input_map.get(field_name, Ref((field_name,)))
            context = {"step": index, "service": name, "field": field_name}
            origin = self._feed(where, f"input {field_name!r}", spec, source, context)
            lineage["inputs"][field_name] = origin
        self._add_outputs(index, name, service, call.output_map)

    def _feed(self, where, what, spec: Field, source: Source, context) -> dict | None:
        """Check that a source can feed a declared field; return where its value comes from."""
        expected = spec.type
        if isinstance(source, Literal):
            if not matches(expected, source.value):
                self._problem(
                    TYPE_MISMATCH,
                    f"{where}: {what} expects {expected}, but the literal "
                    f"{json.dumps(source.value)} is {type_of(source.value)}.",
                    expected=expected,
                    found=type_of(source.value),
                    **context,
                )
            return {"from": "literal", "value": source.value}
        if isinstance(source, Build | Apply):
            known = self._computed(where, what, source, context)
            if known is None:
                return None
            if not fits(known.type, expected):
                self._problem(
                    TYPE_MISMATCH,
                    f"{where}: {what} expects {expected}, but {describe(known.origin)} gives "
                    f"{known.type}.",
                    expected=expected,
                    found=known.type,
                    origin=known.origin,
                    **context,
                )
            else:
                mismatch = spec_fits(known.spec, spec)
                if mismatch:
                    self._problem(
                        TYPE_MISMATCH,
                        f"{where}: {what} expects {expected} of the declared shape, but "
                        f"{describe(known.origin)} does not fit it: {mismatch}.",
                        expected=expected,
                        origin=known.origin,
                        **context,
                    )
            return known.origin
        known = self._resolve(where, what, source.path, context)
        text = format_path(source.path)
        if known is None:
            if spec.required:
                self._problem(
                    UNSATISFIED,
                    f"{where}: {what} ({expected}) can be satisfied by nothing: {text!r} is not "
                    f"in the running data here, which holds {self._available_text()}.",
                    expected=expected,
                    source=text,
                    available=self._available(),
                    **context,
                )
            return None
        if not fits(known.type, expected):
            self._problem(
                TYPE_MISMATCH,
                f"{where}: {what} expects {expected}, but {text!r} is {known.type} "
                f"(from {describe(known.origin)}).",
                expected=expected,
                found=known.type,
                source=text,
                origin=known.origin,
                **context,
            )
        mismatch = fits(known.type, expected) and spec_fits(known.spec, spec)
        if mismatch:
            self._problem(
                TYPE_MISMATCH,
                f"{where}: {what} expects {expected} of the declared shape, but {text!r} "
                f"(from {describe(known.origin)}) does not fit it: {mismatch}.",
                expected=expected,
                source=text,
                origin=known.origin,
                **context,
            )
        if known.partial and spec.required:
            self._problem(
                NOT_IN_BRANCHES,
                f"{where}: {what} ({expected}) is required, but {text!r} is not there on every "
                f"path: it comes only from {known.partial}.",
                expected=expected,
                source=text,
                **context,
            )
        elif known.optional and spec.required:
            self.analysis.warnings.append(
                {
                    **context,
                    "message": f"{where}: {what} is required, but {text!r} may be absent "
                    f"(from {describe(known.origin)}, which is optional).",
                }
            )
        return {**known.origin, "path": text} if len(source.path) > 1 else known.origin

    def _computed(self, where, what, source: Source, context) -> Known | None:
        """What a source is known to give, built objects and arrays and function results
        included (None, with the problem reported, when a path in it finds nothing)."""
        if isinstance(source, Literal):
            return Known(type_of(source.value), {"from": "literal", "value": source.value})
        if isinstance(source, Ref):
            known = self._resolve(where, what, source.path, context)
            text = format_path(source.path)
            if known is None:
                self._problem(
                    UNSATISFIED,
                    f"{where}: {what} reads {text!r}, which is not in the running data here, "
                    f"which holds {self._available_text()}.",
                    source=text,
                    available=self._available(),
                    **context,
                )
                return None
            origin = {**known.origin, "path": text} if len(source.path) > 1 else known.origin
            return replace(known, origin=origin)
        if isinstance(source, Build):
            if source.kind == "object":
                parts = {
                    name: self._computed(where, f"{what} (at {name!r})", part, context)
                    for name, part in source.parts.items()
                }
                typed = all(k is not None and k.type for k in parts.values())
                spec = Field(
                    "",
                    "object",
                    fields=tuple(
                        replace(k.spec, name=n) if k.spec else Field(n, k.type)
                        for n, k in parts.items()
                    )
                    if typed
                    else None,
                )
                origin = {
                    "from": "object",
                    "parts": {n: k and k.origin for n, k in parts.items()},
                }
                return Known("object", origin, spec=spec)
            items = [
                self._computed(where, f"{what} (at {number})", part, context)
                for number, part in enumerate(source.parts)
            ]
            types = {k.type if k is not None else None for k in items}
            element = Field("", types.pop()) if len(types) == 1 and None not in types else None
            origin = {"from": "array", "items": [k and k.origin for k in items]}
            return Known("array", origin, spec=Field("", "array", items=element))
        function = FUNCTIONS[source.function]
        args = []
        for number, arg in enumerate(source.args):
            known = self._computed(
                where, f"{what} ({source.function}'s argument {number + 1})", arg, context
            )
            args.append(known)
            param = function.param(number)
            if known is not None and not fits_param(known.type, param):
                self._problem(
                    TYPE_MISMATCH,
                    f"{where}: {what}: {source.function} takes {param} as argument "
                    f"{number + 1}, but {describe(known.origin)} is {known.type}.",
                    expected=param,
                    found=known.type,
                    **context,
                )
        result = function.result([k.type if k is not None else None for k in args])
        spec = None
        if source.function == "slice" and args and args[0] is not None:
            spec = args[0].spec
        elif source.function == "at" and args and args[0] is not None and args[0].spec:
            spec = args[0].spec.items
            result = spec and spec.type
        origin = {
            "from": "function",
            "function": source.function,
            "args": [k and k.origin for k in args],
        }
        return Known(result, origin, spec=spec)

    def _resolve(self, where, what, path, context) -> Known | None:
        """What a path into the running data is known to be; None when nothing is there. Inside
        a value whose inner types are declared, the path is checked against them."""
        head = self.known.get(path[0])
        if head is None:
            return None
        if len(path) == 1:
            return head
        if head.type not in (None, "object", "array"):
            self._problem(
                IMPOSSIBLE_PATH,
                f"{where}: {what} reads {format_path(path)!r}, which cannot exist: "
                f"{path[0]!r} is {head.type} (from {describe(head.origin)}).",
                source=format_path(path),
                found=head.type,
                **context,
            )
            return Known(None, head.origin, head.optional, head.partial)
        spec, broken = descend(head.spec, path)
        if broken:
            self._problem(
                IMPOSSIBLE_PATH,
                f"{where}: {what} reads {format_path(path)!r}, which cannot exist: {broken}.",
                source=format_path(path),
                **context,
            )
        optional = head.optional or _may_be_absent(head.spec, path)
        return Known(spec and spec.type, head.origin, optional, head.partial, spec=spec)

    def _add_outputs(self, index, name, service: Service, output_map):
        declared = {f.name: f for f in service.outputs}
        if output_map is None:
            for output in declared.values():
                origin = {"from": "step", "step": index, "service": name, "field": output.name}
                self.known[output.name] = Known(
                    output.type, origin, not output.required, spec=output
                )
            return
        for target, path in output_map.items():
            text = format_path(path)
            spec = declared.get(path[0])
            context = {"step": index, "service": name, "field": target, "source": text}
            if spec is None:
                self._problem(
                    IMPOSSIBLE_PATH,
                    f"Step {index} ({name}): output {target!r} maps {text!r}, which cannot "
                    f"exist: {name} declares no output {path[0]!r} (it declares: "
                    f"{', '.join(declared) or 'nothing'}).",
                    **context,
                )
                continue
            if len(path) > 1 and spec.type not in ("object", "array"):
                self._problem(
                    IMPOSSIBLE_PATH,
                    f"Step {index} ({name}): output {target!r} maps {text!r}, which cannot "
                    f"exist: {path[0]!r} is {spec.type}.",
                    found=spec.type,
                    **context,
                )
                continue
            origin = {"from": "step", "step": index, "service": name, "field": text}
            inner, broken = descend(spec, path)
            if broken:
                self._problem(
                    IMPOSSIBLE_PATH,
                    f"Step {index} ({name}): output {target!r} maps {text!r}, which cannot "
                    f"exist: {broken}.",
                    **context,
                )
                continue
            optional = not spec.required or _may_be_absent(spec, path)
            self.known[target] = Known(inner and inner.type, origin, optional, spec=inner)

    @visit.register
    def _operation(self, operation: Operation) -> None:
        number = operation.number
        where = f"Operation {number} ({operation.action})"
        origin = {"from": "operation", "operation": number}
        if operation.action == "set":
            updates = {}
            for name, source in operation.argument.items():
                if isinstance(source, Literal):
                    updates[name] = Known(type_of(source.value), origin)
                    continue
                if isinstance(source, Build | Apply):
                    context = {"operation": number, "field": name}
                    known = self._computed(where, f"{name!r}", source, context)
                    if known is not None:
                        updates[name] = Known(known.type, known.origin, spec=known.spec)
                    continue
                known = self._resolve(where, f"{name!r}", source.path, {"operation": number})
                if known is None:
                    self._problem(
                        UNSATISFIED,
                        f"{where}: {format_path(source.path)!r} is not in the running data "
                        f"here, which holds {self._available_text()}.",
                        operation=number,
                        field=name,
                        source=format_path(source.path),
                        available=self._available(),
                    )
                    continue
                passed_on = known.origin
                if len(source.path) > 1:
                    passed_on = {**passed_on, "path": format_path(source.path)}
                updates[name] = Known(known.type, passed_on, known.optional, spec=known.spec)
            self.known.update(updates)
        elif operation.action == "rename":
            moved = {}
            before = dict(self.known)
            for old, new in operation.argument.items():
                if old not in before:
                    self._problem(
                        UNSATISFIED,
                        f"{where}: there is no {old!r} to rename here; the running data holds "
                        f"{self._available_text(before)}.",
                        operation=number,
                        field=old,
                        available=self._available(before),
                    )
                    continue
                moved[new] = self.known.pop(old)
            self.known.update(moved)
        elif operation.action == "remove":
            for name in operation.argument:
                self.known.pop(name, None)
        elif operation.action == "pick":
            self.known = {n: self.known[n] for n in operation.argument if n in self.known}

    @visit.register
    def _choice(self, choice: Choice) -> None:
        self._conditions(choice)
        before = dict(self.known)
        outcomes = []
        for number, branch in enumerate(choice.branches):
            self.known = dict(before)
            self.block(branch.steps)
            outcomes.append((f"{choice.place}.choice[{number}]", self.known))
        self.known = dict(before)
        self.block(choice.otherwise)
        outcomes.append((f"{choice.place}.otherwise", self.known))
        self.known = _joined(outcomes)

    def _conditions(self, choice: Choice) -> None:
        """A condition may test a name that is not there (exists), but not a path that cannot
        exist."""
        pending = [branch.when for branch in choice.branches]
        while pending:
            condition = pending.pop()
            pending.extend(condition.parts)
            if condition.path:
                self._resolve(
                    f"Choice at {choice.place}",
                    "a condition",
                    condition.path,
                    {"place": choice.place},
                )

    @visit.register
    def _parallel(self, parallel: Parallel) -> None:
        self._holds_no_waits(parallel)
        before = dict(self.known)
        merged = dict(before)
        writers: dict[str, int] = {}
        for number, branch in enumerate(parallel.branches):
            self.known = dict(before)
            self.block(branch)
            for name, known in self.known.items():
                if before.get(name) is known:
                    continue
                if name in writers:
                    self._problem(
                        CONFLICT,
                        f"Parallel at {parallel.place}: branches {writers[name]} and {number} "
                        f"both write {name!r}; map one of them to another name.",
                        place=parallel.place,
                        field=name,
                        branches=[writers[name], number],
                    )
                    continue
                writers[name] = number
                merged[name] = known
            for name in set(before) - set(self.known):
                merged.pop(name, None)
        self.known = merged

    @visit.register
    def _map(self, node: Map) -> None:
        self._holds_no_waits(node)
        where = f"Map at {node.place}"
        context = {"place": node.place}
        text = format_path(node.items)
        items = self._resolve(where, "items", node.items, context)
        if items is None:
            self._problem(
                UNSATISFIED,
                f"{where}: its items, {text!r}, are not in the running data here, which holds "
                f"{self._available_text()}.",
                source=text,
                available=self._available(),
                **context,
            )
        elif items.type not in (None, "array"):
            self._problem(
                TYPE_MISMATCH,
                f"{where}: its items, {text!r}, are {items.type} (from "
                f"{describe(items.origin)}), not an array.",
                expected="array",
                found=items.type,
                source=text,
                **context,
            )
        before = dict(self.known)
        item = {"from": "map", "place": node.place, "item": True}
        element = items.spec.items if items is not None and items.spec is not None else None
        self.known = {
            **before,
            node.item_as: Known(element and element.type, item, spec=element),
        }
        self.block(node.steps)
        if node.collect is not None and node.collect not in self.known:
            self._problem(
                UNSATISFIED,
                f"{where}: it collects {node.collect!r}, which its steps do not provide; they "
                f"leave {self._available_text()}.",
                field=node.collect,
                **context,
            )
        results = None
        if node.collect is not None and node.collect in self.known:
            collected = self.known[node.collect]
            if collected.type is not None:
                results = Field("", "array", items=collected.spec or Field("", collected.type))
        self.known = {
            **before,
            node.output: Known("array", {"from": "map", "place": node.place}, spec=results),
        }

    @visit.register
    def _wait(self, wait: Wait) -> None:
        if wait.until is None:
            return
        where = f"Wait at {wait.place}"
        text = format_path(wait.until)
        known = self._resolve(where, "until", wait.until, {"place": wait.place})
        if known is None:
            self._problem(
                UNSATISFIED,
                f"{where}: its time, {text!r}, is not in the running data here, which holds "
                f"{self._available_text()}.",
                source=text,
                place=wait.place,
            )
        elif known.type not in (None, "string", "int", "float"):
            self._problem(
                TYPE_MISMATCH,
                f"{where}: its time, {text!r}, is {known.type}; a time is an ISO 8601 string "
                "or a number of seconds since the epoch.",
                source=text,
                found=known.type,
                place=wait.place,
            )

    @visit.register
    def _subworkflow(self, node: SubWorkflow) -> None:
        callee = node.callee
        where = f"Workflow {node.workflow!r} at {node.place}"
        if callee is None:
            self._problem(
                INVALID,
                f"{where}: the workflow it calls is not known here.",
                place=node.place,
            )
            return
        lineage = {"place": node.place, "workflow": node.workflow, "inputs": {}}
        self.analysis.lineage.setdefault("workflows", []).append(lineage)
        declared = {f.name: f for f in callee.inputs}
        for unknown in sorted(set(node.input_map) - set(declared)):
            self._problem(
                UNKNOWN_INPUT,
                f"{where}: the input mapping names {unknown!r}, which {node.workflow} does not "
                f"take (it takes: {', '.join(declared) or 'nothing'}).",
                place=node.place,
                field=unknown,
            )
        for name, spec in declared.items():
            source = node.input_map.get(name, Ref((name,)))
            context = {"place": node.place, "workflow": node.workflow, "field": name}
            lineage["inputs"][name] = self._feed(where, f"input {name!r}", spec, source, context)
        self._runs_whole(node, callee)
        outputs = {f.name: f for f in callee.outputs}
        origin = {"from": "workflow", "place": node.place, "workflow": node.workflow}
        if node.output_map is None:
            for output in outputs.values():
                known = Known(output.type, {**origin, "field": output.name}, not output.required)
                self.known[output.name] = replace(known, spec=output)
            return
        for target, path in node.output_map.items():
            text = format_path(path)
            spec = outputs.get(path[0])
            inner, broken = descend(spec, path) if spec else (None, None)
            if spec is None or broken:
                why = broken or (
                    f"{node.workflow} declares no output {path[0]!r} (it declares: "
                    f"{', '.join(outputs) or 'nothing'})"
                )
                self._problem(
                    IMPOSSIBLE_PATH,
                    f"{where}: output {target!r} maps {text!r}, which cannot exist: {why}.",
                    place=node.place,
                    field=target,
                    source=text,
                )
                continue
            optional = not spec.required or _may_be_absent(spec, path)
            self.known[target] = Known(
                inner and inner.type, {**origin, "field": text}, optional, spec=inner
            )

    def _runs_whole(self, node: SubWorkflow, callee: Workflow) -> None:
        """A sub-workflow runs as one step, holding a thread: no wait, no callback service."""
        pending = list(callee.steps)
        while pending:
            inner = pending.pop(0)
            pending.extend(n for _, block in blocks_of(inner) for n in block)
            if isinstance(inner, SubWorkflow) and inner.callee is not None:
                pending.extend(inner.callee.steps)
            waits = isinstance(inner, Wait)
            service = self.services.get(inner.service) if isinstance(inner, Call) else None
            callback = service is not None and service.mode == "callback"
            if waits or callback:
                what = "a wait" if waits else f"callback service {inner.service!r}"
                self._problem(
                    INVALID,
                    f"Workflow {node.workflow!r} at {node.place}: it holds {what} (at "
                    f"{inner.place}), which cannot run inside a sub-workflow, run as one step.",
                    place=node.place,
                )

    def _holds_no_waits(self, node) -> None:
        """What cannot run in a parallel's branch or a map's item: a wait, a callback service."""
        pending = [inner for _, block in blocks_of(node) for inner in block]
        while pending:
            inner = pending.pop(0)
            pending.extend(n for _, block in blocks_of(inner) for n in block)
            waits = isinstance(inner, Wait)
            callback = isinstance(inner, Call) and self.services[inner.service].mode == "callback"
            if waits or callback:
                what = "a wait" if waits else f"callback service {inner.service!r}"
                self._problem(
                    INVALID,
                    f"{type(node).__name__} at {node.place}: {what} (at {inner.place}) cannot "
                    f"run inside a {type(node).__name__.lower()}, whose branches hold a thread "
                    "until they end.",
                    place=inner.place,
                )

    def _outputs(self):
        for spec in self.workflow.outputs:
            name = spec.name
            known = self.known.get(name)
            if known is not None and known.partial:
                self.analysis.warnings.append(
                    {
                        "output": name,
                        "message": f"Workflow output {name!r} is not there on every path: it "
                        f"comes only from {known.partial}.",
                    }
                )
            if known is None:
                self.analysis.warnings.append(
                    {
                        "output": name,
                        "message": f"Workflow output {name!r} is produced by nothing; "
                        "events will not have it.",
                    }
                )
                self.analysis.lineage["outputs"][name] = None
                continue
            if not fits(known.type, spec.type):
                self._problem(
                    TYPE_MISMATCH,
                    f"Workflow output {name!r} is declared {spec.type}, but it is "
                    f"{known.type} (from {describe(known.origin)}).",
                    output=name,
                    expected=spec.type,
                    found=known.type,
                    origin=known.origin,
                )
            self.analysis.lineage["outputs"][name] = known.origin

    def _available(self, known: dict | None = None) -> dict:
        known = self.known if known is None else known
        return {name: {"type": k.type, "from": describe(k.origin)} for name, k in known.items()}

    def _available_text(self, known: dict | None = None) -> str:
        known = self.known if known is None else known
        if not known:
            return "nothing"
        return ", ".join(
            f"{name} ({k.type or 'any'}, {describe(k.origin)})" for name, k in known.items()
        )

    def _problem(self, code: str, message: str, **details):
        self.analysis.problems.append({"code": code, "message": message, **details})


def _joined(outcomes: list[tuple[str, dict]]) -> dict:
    """What is known after paths that meet again: a name every path provides, as it is (of no
    known type if the paths disagree); a name only some provide, as partial."""
    names = dict.fromkeys(name for _, known in outcomes for name in known)
    joined = {}
    for name in names:
        found = [(label, known[name]) for label, known in outcomes if name in known]
        first = found[0][1]
        same_type = all(k.type == first.type for _, k in found)
        optional = any(k.optional for _, k in found)
        partials = [k.partial for _, k in found if k.partial]
        if len(found) < len(outcomes):
            partial = ", ".join(label for label, _ in found)
        else:
            partial = partials[0] if partials else None
        if len(found) == len(outcomes) and all(k is first for _, k in found):
            joined[name] = first
        else:
            joined[name] = Known(first.type if same_type else None, first.origin, optional, partial)
    return joined


def descend(spec: Field | None, path) -> tuple[Field | None, str | None]:
    """The declared field a path leads to inside a value declared as `spec` (None: not
    declared that deep), and why the path cannot exist, if it cannot."""
    current = spec
    for depth, segment in enumerate(path[1:], start=1):
        if current is None:
            return None, None
        where = format_path(path[:depth])
        if current.type == "object":
            if current.fields is None:
                return None, None
            inner = current.field(segment)
            if inner is None:
                declared = ", ".join(f.name for f in current.fields) or "nothing"
                return None, f"{where!r} declares no field {segment!r} (it declares: {declared})"
            current = inner
        elif current.type == "array":
            if not segment.isdigit():
                return None, f"{where!r} is an array, and {segment!r} is not an index"
            current = current.items
        else:
            return None, f"{where!r} is {current.type}"
    return current, None


def _may_be_absent(spec: Field | None, path) -> bool:
    """Whether a path into a declared value may find nothing: it passes an optional field or
    an array's index (its length is not declared)."""
    current = spec
    for segment in path[1:]:
        if current is None:
            return False
        if current.type == "array":
            return True
        current = current.field(segment) if current.fields is not None else None
        if current is not None and not current.required:
            return True
    return False
