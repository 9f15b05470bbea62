"""Dry runs: the real executor, with answers supplied or made from services' declared outputs,
so a workflow runs with no service called and nothing stored (and no wait waited)."""

from collections.abc import Mapping

from machinery import states
from machinery.engine.executor import (
    ITEM_HEADER,
    Listener,
    RunState,
    StepFailed,
    run_to_end,
    start,
)
from machinery.errors import InvalidData
from machinery.language.model import Choice, Field, Service, SubWorkflow, Workflow, blocks_of

_SAMPLES = {"int": 1, "float": 1.5, "bool": True, "object": {}, "array": []}


def sample_value(field: Field, owner: str):
    """A deterministic value of a field's type (and of the types declared inside it); strings
    say whose field they are."""
    if field.type == "string":
        return f"{owner}.{field.name}" if field.name else owner
    if field.type == "object" and field.fields is not None:
        where = f"{owner}.{field.name}" if field.name else owner
        return {inner.name: sample_value(inner, where) for inner in field.fields}
    if field.type == "array" and field.items is not None:
        return [sample_value(field.items, f"{owner}.{field.name}" if field.name else owner)]
    return _SAMPLES[field.type]


def sample_data(inputs: tuple[Field, ...]) -> dict:
    """Event data for a dry run: a sample of each of the workflow's inputs."""
    return {field.name: sample_value(field, "input") for field in inputs}


class SampleCaller:
    """Answers step by step: with the answer supplied for a step, or a made-up one.

    Supplied answers are keyed by step index (as a string or an int) or by service name.
    """

    def __init__(self, workflow: Workflow, services: Mapping[str, Service], supplied: dict):
        self.workflow = workflow
        self.services = services
        self.supplied = supplied
        self.calls: list[dict] = []

    def _call_of(self, index: int, item: str):
        """The call a step's headers name: its index in the workflow whose steps it is (a
        sub-workflow's, when its item names one: `w0`)."""
        model = self.workflow
        for part in item.split("_") if item else ():
            if part.startswith("w") and part[1:].isdigit():
                number = int(part[1:])
                model = next(
                    n.callee
                    for n in _nodes(model.steps)
                    if isinstance(n, SubWorkflow) and n.number == number
                )
        return next(call for call in model.calls if call.index == index)

    def __call__(self, address: str, payload: dict, options) -> tuple[int, dict]:
        # The step from the executor's headers (a retried step is called again).
        index = int(options.headers["X-Machinery-Step"])
        call = self._call_of(index, options.headers.get(ITEM_HEADER, ""))
        answer = self._supplied(index, call.service)
        sampled = answer is None
        if sampled:
            outputs = self.services[call.service].outputs
            answer = {output.name: sample_value(output, call.service) for output in outputs}
        self.calls.append(
            {
                "index": index,
                "service": call.service,
                "request": payload,
                "response": answer,
                "sampled": sampled,
            }
        )
        if not isinstance(answer, dict):
            raise StepFailed(states.INVALID_RESPONSE, "the supplied answer is not a JSON object")
        return 200, answer

    def _supplied(self, index: int, service: str):
        for key in (str(index), index, service):
            if key in self.supplied:
                return self.supplied[key]
        return None


def dry_run(
    workflow: Workflow,
    services: Mapping[str, Service],
    data: dict,
    samples: dict,
    branches: Mapping[str, str] | None = None,
) -> tuple[RunState, list[dict]]:
    """Run the workflow on the data with sampled answers, taking at each choice the branch
    `branches` names by its place (see branch_choices), if any: (how it ended, each call made)."""
    caller = SampleCaller(workflow, services, samples)
    state = run_to_end(
        workflow,
        services,
        start(data),
        caller,
        Listener(),
        sleep=_no_wait,
        waits=False,
        branches=branches or {},
    )
    return state, caller.calls


def branch_choices(workflow: Workflow, asked: Mapping) -> dict[str, str]:
    """The branches a dry run is asked to take, by the place of their choice: a branch's index
    or "otherwise" (InvalidData naming what is not a choice or not one of its branches)."""
    choices = {node.place: node for node in _nodes(workflow.steps) if isinstance(node, Choice)}
    chosen, errors = {}, {}
    for place, branch in asked.items():
        node = choices.get(place)
        if node is None:
            errors[place] = [
                f"No choice is at {place}; choices are at: {', '.join(choices) or 'none'}."
            ]
        elif branch == "otherwise":
            chosen[place] = "otherwise"
        elif (
            isinstance(branch, int)
            and not isinstance(branch, bool)
            and 0 <= branch < len(node.branches)
        ):
            chosen[place] = f"b{branch}"
        else:
            errors[place] = [f'A branch index from 0 to {len(node.branches) - 1}, or "otherwise".']
    if errors:
        raise InvalidData(
            "The branches to take are not the workflow's.", errors={"branches": errors}
        )
    return chosen


def _nodes(block):
    for node in block:
        yield node
        for _, inner in blocks_of(node):
            yield from _nodes(inner)


def _no_wait(seconds: float) -> None:
    """Retries in a dry run do not wait."""
