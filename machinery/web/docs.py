"""/docs: Swagger UI over /openapi.json, served from Machinery itself (nothing from a CDN)."""

from flask import render_template

from machinery.web.blueprint import blp, takes


@blp.route("/docs", methods=["GET"])
@takes()
def docs():
    """Browse and try the API."""
    return render_template("docs.html")
