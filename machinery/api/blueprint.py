"""The Blueprint every resource uses: flask-smorest's, reading request bodies as strict JSON."""

import flask_smorest
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

from machinery.datatypes import parse_json


class StrictJSONParser(FlaskParser):
    """webargs' Flask parser, refusing NaN and Infinity, which are not JSON."""

    def _raw_load_json(self, req):
        if not is_json_request(req):
            return core.missing
        # An empty body is no JSON document (webargs would take it for missing fields).
        return parse_json(req.get_data(cache=True) or b" ")


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = StrictJSONParser()
