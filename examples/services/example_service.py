"""The shared part of the example services: one transform behind /event, /infos and /healthcheck."""

import os
from collections.abc import Callable

from flask import Flask, jsonify, request
from werkzeug.exceptions import BadRequest, HTTPException

# The field types the examples declare, and the Python values that satisfy them.
FIELD_TYPES = {"string": str, "int": int}


def create_service(
    name: str,
    description: str,
    transform: Callable[..., dict],
    inputs: list[dict],
    outputs: list[dict],
) -> Flask:
    """Build the Flask app of one example service.

    `transform` is called with the declared inputs as keyword arguments and returns the outputs.
    `inputs` and `outputs` are fields `{"name", "type", "description"}`, `type` a key of
    FIELD_TYPES.
    """
    app = Flask(__name__)
    infos = {"name": name, "description": description, "inputs": inputs, "outputs": outputs}

    @app.post("/event")
    def handle_event():
        """Transform the event's inputs into the service's outputs."""
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise BadRequest("The body must be a JSON object sent as application/json.")
        return jsonify(transform(**read_inputs(data, inputs)))

    @app.get("/infos")
    def describe():
        """Describe the service, its inputs and its outputs."""
        return jsonify(infos)

    @app.get("/healthcheck")
    def healthcheck():
        """Answer that the service is up."""
        return "", 204

    @app.errorhandler(HTTPException)
    def handle_http_error(error: HTTPException):
        return jsonify({"message": error.description}), error.code

    return app


def read_inputs(data: dict, inputs: list[dict]) -> dict:
    """Pick the declared inputs out of `data`, raising BadRequest for a missing or mistyped one."""
    values = {}
    for field in inputs:
        field_name, field_type = field["name"], field["type"]
        if field_name not in data:
            raise BadRequest(f'The field "{field_name}" is required.')
        value = data[field_name]
        # bool is a subclass of int, but true is not a count.
        if isinstance(value, bool) or not isinstance(value, FIELD_TYPES[field_type]):
            raise BadRequest(f'The field "{field_name}" must be of type {field_type}.')
        values[field_name] = value
    return values


def serve(app: Flask, default_port: int) -> None:
    """Run the app on the development server at $HOST:$PORT (127.0.0.1 and default_port)."""
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", default_port))
    app.run(host=host, port=port)
