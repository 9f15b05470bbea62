"""Applying a workflow's operations and mappings to running data."""

from machinery.language.functions import FUNCTIONS, FunctionError
from machinery.language.model import Apply, Build, Literal, Operation, Source
from machinery.language.paths import Missing, resolve


def evaluate(source: Source, data: dict):
    """The value of a source in the data; Missing when a path in it leads nowhere,
    FunctionError when a function it applies cannot give a value."""
    if isinstance(source, Literal):
        return source.value
    if isinstance(source, Build):
        if source.kind == "object":
            return {name: evaluate(part, data) for name, part in source.parts.items()}
        return [evaluate(part, data) for part in source.parts]
    if isinstance(source, Apply):
        args = [evaluate(arg, data) for arg in source.args]
        try:
            return FUNCTIONS[source.function].run(*args)
        except (TypeError, ValueError, OverflowError) as error:
            if isinstance(error, FunctionError):
                raise
            raise FunctionError(f"{source.function}: {error}") from None
    return resolve(data, source.path)


def apply(operation: Operation, data: dict) -> dict:
    """The running data after one operation (a new dict; the given one is left as it was)."""
    result = dict(data)
    if operation.action == "set":
        for name, source in operation.argument.items():
            try:
                result[name] = evaluate(source, data)
            except (Missing, FunctionError):
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
