"""The application factory."""

import logging

from flask import Flask

from machinery import __version__, auth, store
from machinery.api import register_api
from machinery.cli import register_commands
from machinery.config import OPENAPI, from_environment
from machinery.engine.addresses import AddressPolicy
from machinery.engine.http import HttpCaller
from machinery.errors import register_error_handlers

log = logging.getLogger(__name__)


def create_app(config: dict | None = None) -> Flask:
    """Build a Machinery app: settings, store, outbound caller, API keys, API, errors, commands."""
    app = Flask("machinery")
    app.config.update(OPENAPI, API_VERSION=__version__)
    app.config.update(from_environment())
    app.config.update(config or {})
    app.json.sort_keys = False
    policy = AddressPolicy(app.config["ALLOWED_HOSTS"], app.config["DENIED_NETWORKS"])
    app.extensions["machinery.addresses"] = policy  # before the store: a bad setting stops here
    store.init_app(app)
    app.extensions["machinery.caller"] = HttpCaller(
        app.config["CONNECT_TIMEOUT"],
        app.config["READ_TIMEOUT"],
        policy=policy,
        max_response_bytes=app.config["MAX_RESPONSE_BYTES"],
    )
    auth.init_app(app)
    register_api(app)
    register_error_handlers(app)
    register_commands(app)
    return app
