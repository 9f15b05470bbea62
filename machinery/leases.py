"""Keeping the leases of the events a process runs: renewed together, in one write, while their
steps run, so that a process that dies lets go of them within one lease."""

import logging
import os
import socket
import threading
import uuid

from pymongo.errors import PyMongoError

from machinery.store import Store

log = logging.getLogger(__name__)


def owner_name() -> str:
    """Who holds a lease: this host and process, and a random part (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class LeaseKeeper:
    """Renews, every third of a lease, the leases this process holds."""

    def __init__(self, store: Store, lease_s: float):
        self.store = store
        self.lease_s = lease_s
        self._held: set[str] = set()
        self._lock = threading.Lock()
        self._owner: str | None = None
        self._pid: int | None = None
        self._wake = threading.Event()

    @property
    def owner(self) -> str:
        """This process's name as a lease holder (made again in a forked child)."""
        if self._pid != os.getpid():
            self._owner, self._pid = owner_name(), os.getpid()
            self._held = set()
            threading.Thread(target=self._renew_forever, daemon=True, name="leases").start()
        return self._owner

    def hold(self, event_id: str) -> None:
        _ = self.owner
        with self._lock:
            self._held.add(event_id)

    def let_go(self, event_id: str) -> None:
        with self._lock:
            self._held.discard(event_id)

    def _renew_forever(self) -> None:
        pid = os.getpid()
        while os.getpid() == pid:
            self._wake.wait(self.lease_s / 3)
            with self._lock:
                held = sorted(self._held)
            try:
                self.store.events.renew(self._owner, held, self.lease_s)
            except PyMongoError as error:  # the next round tries again, within the lease
                log.warning("Could not renew the leases of %d events: %s", len(held), error)
