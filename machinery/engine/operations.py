"""Applying a workflow's operations and mappings to running data."""

from machinery.language.model import Literal, Operation, Source
from machinery.language.paths import Missing, resolve


def evaluate(source: Source, data: dict):
    """The value of a source in the data; Missing when its path leads nowhere."""
    if isinstance(source, Literal):
        return source.value
    return resolve(data, source.path)


def apply(operation: Operation, data: dict) -> dict:
    """The running data after one operation (a new dict; the given one is left as it was)."""
    result = dict(data)
    if operation.action == "set":
        for name, source in operation.argument.items():
            try:
                result[name] = evaluate(source, data)
            except Missing:
                result.pop(name, None)
    elif operation.action == "rename":
        for old in operation.argument:
            result.pop(old, None)
        for old, new in operation.argument.items():
            if old in data:
                result[new] = data[old]
    elif operation.action == "remove":
        for name in operation.argument:
            result.pop(name, None)
    elif operation.action == "pick":
        result = {name: data[name] for name in operation.argument if name in data}
    return result
