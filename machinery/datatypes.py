"""The field types services and workflows declare, and checking data against declared fields."""

import json
from collections.abc import Iterable, Mapping

TYPES = ("string", "int", "float", "bool", "object", "array")
ALIASES = {"integer": "int", "number": "float", "boolean": "bool"}

_PYTHON_TYPES = {
    "string": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "object": (dict,),
    "array": (list,),
}


def canonical_type(name: str) -> str:
    """Return the canonical spelling of a type name, or raise ValueError for an unknown one."""
    name = ALIASES.get(name, name)
    if name not in _PYTHON_TYPES:
        raise ValueError(name)
    return name


def type_of(value) -> str:
    """Name the type of a JSON value in the words fields are declared with."""
    if value is None:
        return "null"
    for name in ("bool", "int", "float", "string", "object", "array"):
        if isinstance(value, _PYTHON_TYPES[name]) and (name != "float" or isinstance(value, float)):
            return name
    return type(value).__name__


def matches(type_name: str, value) -> bool:
    """Tell whether a value fits a declared type (an int fits a float; a bool is never a number)."""
    if isinstance(value, bool) and type_name != "bool":
        return False
    return isinstance(value, _PYTHON_TYPES[type_name])


def check_fields(fields: Iterable[Mapping], data: Mapping) -> dict[str, list[str]]:
    """Check data against declared fields; return field name -> messages (empty when it fits)."""
    errors: dict[str, list[str]] = {}
    declared = {field["name"]: field for field in fields}
    for name, field in declared.items():
        if name not in data:
            if field.get("required", True):
                errors[name] = ["Missing data for required field."]
        elif not matches(field["type"], data[name]):
            errors[name] = [f"Expected {field['type']}, got {type_of(data[name])}."]
    for name in data:
        if name not in declared:
            errors[name] = ["Unknown field."]
    return errors


def parse_json(text: bytes | str):
    """Parse strict JSON (RFC 8259): NaN and Infinity, which Python accepts, are refused."""
    return json.loads(text, parse_constant=_refuse_constant)


def _refuse_constant(name: str):
    raise json.JSONDecodeError(f"{name} is not JSON", name, 0)
