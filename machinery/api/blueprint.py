"""The Blueprint every resource uses: flask-smorest's, reading request bodies as strict JSON and
knowing which query parameters each view takes."""

import json

import flask_smorest
from marshmallow import Schema
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

from machinery.errors import InvalidData, InvalidJSON
from machinery.strict_json import parse_json


class StrictJSONParser(FlaskParser):
    """webargs' Flask parser, reading a body as JSON Machinery can store (strict_json.parse_json),
    and as one JSON object, or refusing it whole."""

    def load_json(self, req, schema):
        # Replaces webargs' load_json, which takes a JSONDecodeError whose `doc` is empty for a
        # missing body: parse_json raises those for data nested too deeply, which webargs then
        # read as an empty object, losing the whole body.
        if not is_json_request(req):
            return core.missing
        try:
            # An empty body is no JSON document (webargs would take it for missing fields).
            body = parse_json(req.get_data(cache=True) or b" ")
        except json.JSONDecodeError as error:
            raise InvalidJSON(f"The body is not JSON Machinery accepts: {error.msg}.") from None
        except UnicodeDecodeError:
            raise InvalidJSON("The body is not JSON Machinery accepts: it is not UTF-8.") from None
        if not isinstance(body, dict):
            raise InvalidData("The body must be a JSON object.")
        return body


def query_parameters(schema: Schema | type[Schema]) -> frozenset[str]:
    """The names of the query parameters a query schema reads."""
    if isinstance(schema, type):
        schema = schema()
    return frozenset(field.data_key or name for name, field in schema.load_fields.items())


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = StrictJSONParser()

    def arguments(self, schema, *, location="json", **kwargs):
        """flask-smorest's arguments, noting on the view the query parameters it takes
        (`query_parameters`), so that a request naming others is refused before the view."""
        parse = super().arguments(schema, location=location, **kwargs)
        if location == "json":

            def reads_body(func):
                view = parse(func)
                view.takes_json_body = True
                return view

            return reads_body
        if location not in ("query", "querystring"):
            return parse

        def decorator(func):
            view = parse(func)
            view.query_parameters = getattr(view, "query_parameters", frozenset()) | (
                query_parameters(schema)
            )
            return view

        return decorator
