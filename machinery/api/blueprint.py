"""The Blueprint every resource uses: flask-smorest's, reading request bodies as strict JSON."""

import json

import flask_smorest
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

from machinery.datatypes import parse_json
from machinery.errors import InvalidData, InvalidJSON


class StrictJSONParser(FlaskParser):
    """webargs' Flask parser, reading a body as JSON Machinery can store (datatypes.parse_json),
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


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = StrictJSONParser()
