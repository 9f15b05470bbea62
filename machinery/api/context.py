"""What views reach through the app: its store and its runtime, set up once per app."""

import logging

from flask import Flask, current_app
from pymongo import MongoClient
from pymongo.errors import ConnectionFailure, PyMongoError

from machinery.config import Settings
from machinery.errors import StoreUnavailable, error_body
from machinery.runtime import Runtime
from machinery.store import Store, open_store

log = logging.getLogger(__name__)


def init_store(app: Flask) -> Store:
    """Connect the app to MongoDB (or the embedded store) and make sure the indexes exist."""
    settings = Settings(
        mongo_uri=app.config["MONGO_URI"],
        mongo_db=app.config["MONGO_DB"],
        mongo_timeout_ms=app.config["MONGO_TIMEOUT_MS"],
        data_dir=app.config["DATA_DIR"],
        event_retention_days=app.config.get("EVENT_RETENTION_DAYS"),
    )
    factory = app.config.get("MONGO_CLIENT_FACTORY") or MongoClient
    opened = open_store(settings, client_factory=factory)
    app.extensions["machinery.store"] = opened
    if opened.embedded is not None:
        app.extensions["machinery.embedded_store"] = opened.embedded
    app.register_error_handler(ConnectionFailure, _unavailable)
    try:
        opened.ensure_indexes()
    except PyMongoError as error:
        log.warning("Could not create the indexes now (%s); run `machinery-cli init-db`.", error)
    return opened


def store() -> Store:
    """The current app's store."""
    return current_app.extensions["machinery.store"]


def _unavailable(error: ConnectionFailure):
    log.warning("MongoDB is unavailable: %s", error)
    failure = StoreUnavailable("The database is unavailable; try again shortly.")
    response = current_app.json.response(error_body(failure.status, failure.message))
    response.status_code = failure.status
    response.headers["Retry-After"] = "5"
    return response


def runtime() -> Runtime:
    """The current app's runtime."""
    return current_app.extensions["machinery.runtime"]
