"""The field types services and workflows declare, and checking values against them.

An `array` may declare the type of its elements (`items`) and an `object` its fields (`fields`),
at any depth; values inside are then checked too. An object may hold names it does not declare.
"""

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


MAX_REPORTED = 5  # problems reported inside one value, at most


def inner_problems(spec, value, label: str) -> list[str]:
    """How a value that fits its field's type breaks the types declared inside it: each problem
    as `'<label>.<path>' is <type>, expected <type>` or `'<label>.<path>' (<type>) is missing`."""
    problems: list[str] = []
    _inner(spec, value, label, problems)
    return problems[:MAX_REPORTED]


def _inner(spec, value, label: str, problems: list[str]) -> None:
    if len(problems) >= MAX_REPORTED:
        return
    fields = getattr(spec, "fields", None)
    items = getattr(spec, "items", None)
    if isinstance(value, dict) and fields is not None:
        for inner in fields:
            where = f"{label}.{inner.name}"
            if inner.name not in value:
                if inner.required:
                    problems.append(f"{where!r} ({inner.type}) is missing")
            elif not matches(inner.type, value[inner.name]):
                problems.append(f"{where!r} is {type_of(value[inner.name])}, expected {inner.type}")
            else:
                _inner(inner, value[inner.name], where, problems)
    elif isinstance(value, list) and items is not None:
        for number, element in enumerate(value):
            where = f"{label}.{number}"
            if not matches(items.type, element):
                problems.append(f"{where!r} is {type_of(element)}, expected {items.type}")
            else:
                _inner(items, element, where, problems)
            if len(problems) >= MAX_REPORTED:
                return


def spec_fits(actual, expected) -> str | None:
    """Why a value declared as `actual` (a Field) may not fit the field `expected`, inside
    (None: it fits, or too little is declared to tell before the data is there)."""
    if actual is None or expected is None:
        return None
    if expected.fields is not None and actual.fields is not None:
        for wanted in expected.fields:
            found = actual.field(wanted.name)
            if found is None:
                if wanted.required:
                    return f"it declares no field {wanted.name!r} ({wanted.type})"
                continue
            if not fits(found.type, wanted.type):
                return f"its field {wanted.name!r} is {found.type}, expected {wanted.type}"
            deeper = spec_fits(found, wanted)
            if deeper:
                return f"in {wanted.name!r}, {deeper}"
    if expected.items is not None and actual.items is not None:
        if not fits(actual.items.type, expected.items.type):
            return f"its items are {actual.items.type}, expected {expected.items.type}"
        deeper = spec_fits(actual.items, expected.items)
        if deeper:
            return f"in its items, {deeper}"
    return None


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
        elif not isinstance(field, Mapping):
            inner = inner_problems(field, data[name], name)
            if inner:
                errors[name] = [problem + "." for problem in inner]
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
