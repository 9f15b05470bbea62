"""What the graph routes of /w and /e share: how a graph is answered in the format asked for."""

from flask import Response

from machinery.graph import MEDIA_TYPES, Graph, render

# Every format a graph route answers, for the OpenAPI description (replacing the response that
# blp.response documents, which knows JSON alone).
GRAPH_CONTENT = {
    "responses": {
        "200": {
            "description": "The graph, in the format asked for",
            "content": {
                media.split(";")[0]: {
                    "schema": (
                        {"$ref": "#/components/schemas/GraphOut"}
                        if format == "json"
                        else {"type": "string"}
                    )
                }
                for format, media in MEDIA_TYPES.items()
            },
        }
    }
}


def answer_graph(graph: Graph, format: str):
    """The graph as data (json, serialised by the view's schema) or as a text response."""
    rendered = render(graph, format)
    if format == "json":
        return rendered
    return Response(rendered, mimetype=None, content_type=MEDIA_TYPES[format])
