"""The MongoDB client, made on first use in each process: pymongo clients do not survive a fork."""

import os
import threading

from pymongo import MongoClient
from pymongo.database import Database


class MongoConnection:
    """Hands out the database, creating the client lazily and again after a fork."""

    def __init__(self, uri: str, db_name: str, timeout_ms: int = 5000, client_factory=MongoClient):
        self.uri = uri
        self._db_name = db_name
        self._timeout_ms = timeout_ms
        self._client_factory = client_factory
        self._client = None
        self._pid = None
        self._lock = threading.Lock()

    @property
    def db(self) -> Database:
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    self._client = self._client_factory(
                        self.uri,
                        tz_aware=True,
                        serverSelectionTimeoutMS=self._timeout_ms,
                        connectTimeoutMS=self._timeout_ms,
                    )
                    self._pid = os.getpid()
        return self._client.get_database(self._db_name)

    def close(self) -> None:
        if self._client is not None and self._pid == os.getpid():
            self._client.close()
        self._client = None
        self._pid = None
