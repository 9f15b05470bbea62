"""The field types services and workflows declare, and checking values against them."""

from collections.abc import Iterable, Mapping

TYPES = ("string", "int", "float", "bool", "object", "array")
ALIASES = {"integer": "int", "number": "float", "boolean": "bool"}
# Which declared types a value of another type may feed (beyond the same type).
WIDENINGS = frozenset({("int", "float")})

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


def fits(actual: str | None, expected: str) -> bool:
    """Whether a value known to be of type `actual` (None: not known) may feed `expected`."""
    return actual is None or actual == expected or (actual, expected) in WIDENINGS


def check_fields(fields: Iterable, data: Mapping) -> dict[str, list[str]]:
    """Check data against declared fields (model Fields or their dicts); return field name ->
    messages (empty when it fits)."""
    errors: dict[str, list[str]] = {}
    declared = {_name(field): field for field in fields}
    for name, field in declared.items():
        type_name, required = _spec(field)
        if name not in data:
            if required:
                errors[name] = ["Missing data for required field."]
        elif not matches(type_name, data[name]):
            errors[name] = [f"Expected {type_name}, got {type_of(data[name])}."]
    for name in data:
        if name not in declared:
            errors[name] = ["Unknown field."]
    return errors


def _name(field) -> str:
    return field["name"] if isinstance(field, Mapping) else field.name


def _spec(field) -> tuple[str, bool]:
    if isinstance(field, Mapping):
        return field["type"], field.get("required", True)
    return field.type, field.required
