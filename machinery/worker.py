"""Workers: claim queued events (and events whose process died) from the store and drive them.

A worker process runs `concurrency` threads. Each claims the oldest claimable event with a lease
(see store/events.py), drives it to its end with the same loop a synchronous event uses, and
claims the next. With nothing to claim it waits, a little longer each time up to `poll_max_s`;
where MongoDB is a replica set, a change stream on the events wakes it as soon as an event is
queued. On SIGTERM it claims nothing more, gives each event back between two steps (the step in
flight finishes or times out), and exits.

Beside them a thread delivers webhooks (see webhooks.py): it claims due deliveries one at a time,
polling as the claiming threads do; a worker with no webhook secret delivers none.

Imports no web stack: a worker is the runtime and this loop.
"""

import logging
import signal
import threading
import time

from pymongo.errors import OperationFailure, PyMongoError

from machinery import states
from machinery.orchestrator import drive
from machinery.runtime import Runtime
from machinery.webhooks import deliver_next

log = logging.getLogger(__name__)


class Worker:
    def __init__(
        self,
        runtime: Runtime,
        concurrency: int = 4,
        poll_min_s: float = 0.01,
        poll_max_s: float = 0.5,
    ):
        self.runtime = runtime
        self.concurrency = concurrency
        self.poll_min_s = poll_min_s
        self.poll_max_s = poll_max_s
        self._wake = threading.Condition()
        self._queued = 0
        runtime.wake_workers = self.wake

    def wake(self) -> None:
        """Something was queued: let an idle thread claim it now."""
        with self._wake:
            self._queued += 1
            self._wake.notify()

    def stop(self) -> None:
        """Claim nothing more; give running events back between two steps."""
        self.runtime.stopping.set()
        with self._wake:
            self._wake.notify_all()

    def run(self) -> None:
        """Run until stopped: the claiming threads, and the change stream where there is one."""
        threads = [
            threading.Thread(target=self._claim_forever, name=f"worker-{n}", daemon=True)
            for n in range(self.concurrency)
        ]
        threading.Thread(target=self._watch, name="worker-watch", daemon=True).start()
        if self.delivers_webhooks:
            deliver = threading.Thread(target=self._deliver_forever, name="worker-webhooks")
            threads.append(deliver)
        else:
            log.info("No MACHINERY_WEBHOOK_SECRETS: this worker delivers no webhooks")
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def run_once(self) -> bool:
        """Claim one event and drive it; whether there was one (for tests and tools)."""
        claimed = self.runtime.store.events.claim(self.runtime.leases.owner, self.runtime.lease_s)
        if claimed is None:
            return False
        event, previous = claimed
        try:
            drive(self.runtime, event, previous=previous)
        except Exception:  # noqa: BLE001 - one event's trouble must not stop the worker
            log.exception("Event %s could not be driven; its lease will expire", event["id"])
        return True

    def _claim_forever(self) -> None:
        pause = self.poll_min_s
        stopping = self.runtime.stopping
        while not stopping.is_set():
            try:
                claimed = self.run_once()
            except PyMongoError as error:
                log.warning("Could not claim events: %s", error)
                claimed = False
            if claimed:
                pause = self.poll_min_s
                continue
            with self._wake:
                if self._queued:
                    self._queued -= 1
                    continue
                self._wake.wait(pause)
            pause = min(pause * 2, self.poll_max_s)

    @property
    def delivers_webhooks(self) -> bool:
        return bool(self.runtime.webhooks.secrets) and self.runtime.post is not None

    def deliver_once(self) -> bool:
        """Make one attempt at the webhook delivery due longest; whether one was due."""
        return deliver_next(self.runtime)

    def _deliver_forever(self) -> None:
        pause = self.poll_min_s
        stopping = self.runtime.stopping
        while not stopping.is_set():
            try:
                delivered = self.deliver_once()
            except PyMongoError as error:
                log.warning("Could not deliver webhooks: %s", error)
                delivered = False
            except Exception:  # noqa: BLE001 - the claim expires and the delivery is tried again
                log.exception("A webhook could not be delivered")
                delivered = False
            if delivered:
                pause = self.poll_min_s
                continue
            stopping.wait(pause)
            pause = min(pause * 2, self.poll_max_s)

    def _watch(self) -> None:
        """Wake the claiming threads on every queued event, where change streams exist."""
        pipeline = [{"$match": {"fullDocument.status": states.QUEUED}}]
        try:
            collection = self.runtime.store.events.collection
            with collection.watch(pipeline, full_document="updateLookup") as stream:
                log.info("Picking up events from a change stream")
                for _ in stream:
                    if self.runtime.stopping.is_set():
                        return
                    self.wake()
        except (OperationFailure, PyMongoError, NotImplementedError) as error:
            log.info(
                "No change streams here (%s): polling for events every %g to %g s",
                getattr(error, "details", None) or error,
                self.poll_min_s,
                self.poll_max_s,
            )


def serve(runtime: Runtime, concurrency: int, poll_max_s: float = 0.5) -> None:
    """Run a worker in this process until SIGTERM or SIGINT."""
    worker = Worker(runtime, concurrency, poll_max_s=poll_max_s)

    def stop(signum, frame):
        log.info("Stopping: events in progress are given back after their current step")
        worker.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("Worker %s running %d threads", runtime.leases.owner, concurrency)
    started = time.monotonic()
    worker.run()
    log.info("Worker stopped after %.0f s", time.monotonic() - started)
