"""Dry runs: answers made from services' declared outputs, so a workflow runs with no service."""

from machinery.engine import states
from machinery.engine.executor import StepFailed
from machinery.engine.plan import Field, Plan, fields_of

_SAMPLES = {"int": 1, "float": 1.5, "bool": True, "object": {}, "array": []}


def sample_value(field: Field, owner: str):
    """A deterministic value of a field's type; strings say whose field they are."""
    if field.type == "string":
        return f"{owner}.{field.name}"
    return _SAMPLES[field.type]


def sample_data(inputs: list[dict]) -> dict:
    """Event data for a dry run: a sample of each of the workflow's inputs."""
    return {field.name: sample_value(field, "input") for field in fields_of(inputs)}


class SampleCaller:
    """Answers step by step, in order: with the answer supplied for a step, or a made-up one.

    Supplied answers are keyed by step index (as a string or an int) or by service name.
    """

    def __init__(self, plan: Plan, supplied: dict):
        self.plan = plan
        self.supplied = supplied
        self.calls: list[dict] = []
        self.steps: list[int] = []  # the step index of each call

    def __call__(self, address: str, payload: dict, options=None) -> tuple[int, dict]:
        # The step from the executor's header (a retried step is called again), else the order.
        index = int(options.headers["X-Machinery-Step"]) if options else len(self.calls)
        step = self.plan.steps[index]
        answer = self._supplied(index, step.service)
        sampled = answer is None
        if sampled:
            answer = {output.name: sample_value(output, step.service) for output in step.outputs}
        self.calls.append({"request": payload, "response": answer, "sampled": sampled})
        self.steps.append(index)
        if not isinstance(answer, dict):
            raise StepFailed(states.INVALID_RESPONSE, "the supplied answer is not a JSON object")
        return 200, answer

    def _supplied(self, index: int, service: str):
        for key in (str(index), index, service):
            if key in self.supplied:
                return self.supplied[key]
        return None
