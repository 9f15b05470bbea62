"""MongoDB storage: the connection, the indexes and one repository per collection."""

import logging

from flask import Flask, current_app
from pymongo import MongoClient
from pymongo.errors import ConnectionFailure, PyMongoError

from machinery.errors import StoreUnavailable, error_body
from machinery.store.connection import MongoConnection
from machinery.store.embedded import EmbeddedStore
from machinery.store.events import EventRepository
from machinery.store.indexes import ensure_indexes
from machinery.store.services import ServiceRepository
from machinery.store.workflows import WorkflowRepository

log = logging.getLogger(__name__)

__all__ = ["Store", "store", "init_app", "ensure_indexes"]


class Store:
    """The repositories over one MongoDB database."""

    def __init__(self, connection: MongoConnection):
        self.connection = connection

    @property
    def services(self) -> ServiceRepository:
        db = self.connection.db
        return ServiceRepository(db.services, db.service_versions)

    @property
    def workflows(self) -> WorkflowRepository:
        db = self.connection.db
        return WorkflowRepository(db.workflows, db.workflow_versions)

    @property
    def events(self) -> EventRepository:
        db = self.connection.db
        return EventRepository(db.events, db.steps)

    def ping(self) -> None:
        """Raise ConnectionFailure unless the database answers."""
        self.connection.db.command("ping")

    def ensure_indexes(self) -> list[str]:
        return ensure_indexes(self.connection.db)


def init_app(app: Flask) -> Store:
    """Connect the app to MongoDB (or the embedded store) and make sure the indexes exist."""
    uri = app.config["MONGO_URI"]
    if not uri:
        embedded = EmbeddedStore(app.config["DATA_DIR"])
        uri = embedded.start()
        app.extensions["machinery.embedded_store"] = embedded
    factory = app.config.get("MONGO_CLIENT_FACTORY") or MongoClient
    connection = MongoConnection(
        uri, app.config["MONGO_DB"], app.config["MONGO_TIMEOUT_MS"], factory
    )
    app.extensions["machinery.store"] = Store(connection)
    app.register_error_handler(ConnectionFailure, _unavailable)
    try:
        app.extensions["machinery.store"].ensure_indexes()
    except PyMongoError as error:
        log.warning("Could not create the indexes now (%s); run `machinery-cli init-db`.", error)
    return app.extensions["machinery.store"]


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
