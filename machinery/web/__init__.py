"""The console (/ui) and the API's documentation (/docs): HTML rendered on the server over the
same use cases the API calls (orchestrator, graph, statistics, repositories)."""

from flask import Flask

from machinery.web import access, docs, pages  # noqa: F401  (their views join the blueprint)
from machinery.web.blueprint import blp


def register_web(app: Flask) -> None:
    """Sign the console's sessions, and serve the console and /docs."""
    access.init_app(app)
    app.register_blueprint(blp)
