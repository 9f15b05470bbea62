"""Event data read from the form a workflow's declared inputs make."""

import json

from machinery.errors import InvalidData

# How each declared type is entered: the input element, and how its text becomes a value.
WIDGETS = {"string": "text", "int": "number", "float": "number", "bool": "select"}


def widget(type_name: str) -> str:
    return WIDGETS.get(type_name, "textarea")  # object, array: JSON


def read_inputs(inputs: list[dict], form) -> dict:
    """The event data the form holds; InvalidData naming every field that cannot be read."""
    data, errors = {}, {}
    for field in inputs:
        name, kind = field["name"], field["type"]
        text = form.get(f"input-{name}", "")
        if text == "" and kind != "string":
            continue  # left empty: absent (a required one is then refused by the workflow)
        if text == "" and not field.get("required", True):
            continue
        try:
            data[name] = convert(kind, text)
        except ValueError as error:
            errors[name] = [str(error)]
    if errors:
        raise InvalidData(
            "Some inputs cannot be read: " + ", ".join(sorted(errors)) + ".", errors=errors
        )
    return data


def convert(kind: str, text: str):
    if kind == "string":
        return text
    if kind == "int":
        try:
            return int(text)
        except ValueError:
            raise ValueError("Not a whole number.") from None
    if kind == "float":
        try:
            value = float(text)
        except ValueError:
            raise ValueError("Not a number.") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("Not a finite number.")
        return value
    if kind == "bool":
        if text not in ("true", "false"):
            raise ValueError("Choose true or false.")
        return text == "true"
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise ValueError(f"Not JSON (an {kind} is written as JSON).") from None
