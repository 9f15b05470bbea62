"""The current definitions, kept in each process while a change stream says when they change.

Where MongoDB is a replica set or a sharded cluster (the servers that have change streams), one
thread per process follows a change stream on the `services` and `workflows` collections: any
change there empties this process's cache, and a definition written through this process's
repositories empties it at once. Until that stream is open, after it breaks, and on a
standalone server or the embedded store, nothing is kept: every read goes to the store.

A change made through another process reaches this one when its change stream delivers it,
usually within milliseconds: an event accepted here meanwhile runs the previous version (and
records the version it ran).
"""

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from pymongo.database import Database
from pymongo.errors import OperationFailure, PyMongoError

log = logging.getLogger(__name__)

COLLECTIONS = ("services", "workflows")
RETRY_MIN_S = 1.0
RETRY_MAX_S = 60.0


def watch_definitions(db: Database) -> Iterable | None:
    """A change stream on the definition collections, or None where the server has none.

    Only replica sets and sharded clusters have change streams: a server that says it is
    neither is read on every use, whatever its `watch` may seem to do.
    """
    hello = db.client.admin.command("hello")
    if not (hello.get("setName") or hello.get("msg") == "isdbgrid"):
        return None
    return db.watch([{"$match": {"ns.coll": {"$in": list(COLLECTIONS)}}}])


class CurrentDefinitions:
    """Values derived from the current definitions, by key, while a change stream watches them.

    The values are shared between threads: callers treat them as read-only.
    """

    def __init__(
        self,
        connection,
        open_stream: Callable[[Database], Iterable | None] = watch_definitions,
    ):
        self._connection = connection
        self._open_stream = open_stream
        self._lock = threading.Lock()
        self._starting = threading.Lock()
        self._values: dict = {}
        self._generation = 0
        self._live = False
        self._pid: int | None = None  # the process whose stream this is

    @property
    def watching(self) -> bool:
        """Whether a change stream watches the definitions for this process now."""
        return self._live and self._pid == os.getpid()

    def read(self, key, load: Callable[[], Any]) -> Any:
        """The value kept under `key`, or `load()`: kept only while a change stream watches and
        no definition changed while it was loaded."""
        self._follow_changes()
        with self._lock:
            if self._live and key in self._values:
                return self._values[key]
            generation = self._generation
        value = load()
        with self._lock:
            if self._live and generation == self._generation:
                self._values[key] = value
        return value

    def changed(self) -> None:
        """A definition changed: forget everything kept."""
        with self._lock:
            self._generation += 1
            self._values.clear()

    def _follow_changes(self) -> None:
        """Open the change stream once per process (a thread does not survive a fork), here and
        now, so that whether this process keeps definitions is known from its first read."""
        pid = os.getpid()
        if self._pid == pid:
            return
        with self._starting:
            if self._pid == pid:
                return
            with self._lock:
                self._live = False
                self._values.clear()
            stream, retry = self._open()
            with self._lock:
                self._live = stream is not None
            self._pid = pid
            if stream is not None or retry:
                threading.Thread(
                    target=self._follow, args=(stream,), name="definitions-watch", daemon=True
                ).start()

    def _open(self) -> tuple[Iterable | None, bool]:
        """(the stream, or None; whether to try again later)."""
        try:
            stream = self._open_stream(self._connection.db)
        except (OperationFailure, NotImplementedError) as error:
            log.info("No change streams here (%s): definitions are read for every event", error)
            return None, False
        except PyMongoError as error:
            log.warning("Could not watch the definitions (%s): they are read meanwhile", error)
            return None, True
        if stream is None:
            log.info("No change streams on this server: definitions are read for every event")
        return stream, False

    def _follow(self, stream: Iterable | None) -> None:
        pause = RETRY_MIN_S
        while True:
            if stream is not None:
                with self._lock:
                    self._live = True
                try:
                    for _ in stream:
                        self.changed()
                    log.warning("The definitions' change stream ended; reading them meanwhile")
                except PyMongoError as error:
                    log.warning("Lost the definitions' change stream (%s); reading them", error)
                finally:
                    with self._lock:
                        self._live = False
                        self._generation += 1
                        self._values.clear()
                    close = getattr(stream, "close", None)
                    if close is not None:
                        close()
                pause = RETRY_MIN_S
            time.sleep(pause)
            pause = min(pause * 2, RETRY_MAX_S)
            stream, retry = self._open()
            if stream is None and not retry:
                return
            self.changed()
