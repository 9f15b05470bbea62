"""The application factory."""

import logging

from flask import Flask

from machinery import __version__, auth, metrics
from machinery.api import register_api, request_ids
from machinery.api.context import init_store
from machinery.api.errors import register_error_handlers
from machinery.config import OPENAPI, settings_or_exit
from machinery.engine.addresses import AddressPolicy
from machinery.runtime import build_runtime
from machinery.web import register_web

log = logging.getLogger(__name__)


def create_app(config: dict | None = None, *, with_store: bool = True) -> Flask:
    """Build a Machinery app: settings, store, outbound caller, API keys, API, console, errors.

    The settings come from the environment, then `config` (Flask config keys) overrides them. A
    bad setting ends the process with a message saying what is wrong (see settings_or_exit): this
    is the entry point gunicorn and `flask run` call. with_store=False builds an app with no store,
    whose routes can be listed but not served.
    """
    app = Flask("machinery")
    app.config.update(OPENAPI, API_VERSION=__version__)
    app.config.update(settings_or_exit().app_config())
    app.config.update(config or {})
    app.json.sort_keys = False
    policy = AddressPolicy(app.config["ALLOWED_HOSTS"], app.config["DENIED_NETWORKS"])
    app.extensions["machinery.addresses"] = policy  # before the store: a bad setting stops here
    if with_store:
        metrics.time_store_commands()  # before the store makes its client
        init_store(app)
        app.extensions["machinery.runtime"] = build_runtime(
            app.config, app.extensions["machinery.store"], policy
        )
    request_ids.init_app(app)  # first: every answer, a refusal too, carries the request's id
    auth.init_app(app)
    register_api(app)
    register_web(app)
    register_error_handlers(app)
    return app
