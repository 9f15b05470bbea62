"""MongoDB storage: the connection, the indexes and one repository per collection."""

from pymongo import MongoClient

from machinery.config import Settings
from machinery.store.connection import MongoConnection
from machinery.store.current import CurrentDefinitions
from machinery.store.embedded import EmbeddedStore
from machinery.store.events import EventRepository
from machinery.store.indexes import ensure_indexes
from machinery.store.secrets import SharedSecrets
from machinery.store.services import ServiceRepository
from machinery.store.webhooks import WebhookDeliveries
from machinery.store.workflows import WorkflowRepository

__all__ = ["Store", "open_store", "ensure_indexes"]


class Store:
    """The repositories over one MongoDB database (served by `embedded` when it is the embedded
    store's)."""

    def __init__(
        self,
        connection: MongoConnection,
        embedded: EmbeddedStore | None = None,
        event_retention_days: int | None = None,
    ):
        self.connection = connection
        self.embedded = embedded
        self.event_retention_days = event_retention_days
        # What the event path derives from the current definitions, kept while a change
        # stream says when they change (store/current.py).
        self.current = CurrentDefinitions(connection)

    @property
    def services(self) -> ServiceRepository:
        db = self.connection.db
        return ServiceRepository(db.services, db.service_versions, self.current.changed)

    @property
    def workflows(self) -> WorkflowRepository:
        db = self.connection.db
        return WorkflowRepository(db.workflows, db.workflow_versions, self.current.changed)

    @property
    def events(self) -> EventRepository:
        db = self.connection.db
        return EventRepository(db.events, db.steps)

    @property
    def webhooks(self) -> WebhookDeliveries:
        return WebhookDeliveries(self.connection.db.events)

    @property
    def secrets(self) -> SharedSecrets:
        return SharedSecrets(self.connection.db.secrets)

    def ping(self) -> None:
        """Raise ConnectionFailure unless the database answers."""
        self.connection.db.command("ping")

    def ensure_indexes(self) -> list[str]:
        """Create the indexes, and make the events' retention the one the settings ask for."""
        return ensure_indexes(self.connection.db, event_retention_days=self.event_retention_days)

    def holds_machinery_data(self) -> bool:
        """Whether Machinery has used this database: its collections are there."""
        return bool(
            {"services", "workflows", "events"} & set(self.connection.db.list_collection_names())
        )

    def close(self) -> None:
        """Close the connection, and stop the embedded server if this process started it."""
        self.connection.close()
        if self.embedded is not None:
            self.embedded.stop()


def open_store(settings: Settings, *, create: bool = True, client_factory=MongoClient) -> Store:
    """The store the settings name: the MongoDB at MONGO_URI or, with none, the embedded store in
    the data directory, started unless it is running already. Nothing connects to MongoDB yet.

    create=False refuses (NoEmbeddedData) a data directory that holds no embedded store data,
    instead of making a new, empty store there.
    """
    uri, embedded = settings.mongo_uri, None
    if not uri:
        embedded = EmbeddedStore(settings.data_dir)
        uri = embedded.start(create=create)
    connection = MongoConnection(uri, settings.mongo_db, settings.mongo_timeout_ms, client_factory)
    return Store(connection, embedded, settings.event_retention_days)
