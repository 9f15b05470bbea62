"""The embedded store: an nx-27017 server (MongoDB wire protocol over SQLite) as a child process.

Used when no MONGO_URI is configured, so Machinery runs on a machine with no MongoDB. The server
keeps its data under the data directory; one server serves every Machinery process that uses the
same directory: the first one starts it, the others find it through a state file.
"""

import atexit
import contextlib
import ctypes
import fcntl
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from pymongo import MongoClient
from pymongo.errors import PyMongoError

log = logging.getLogger(__name__)

START_TIMEOUT_S = 30.0
_PR_SET_PDEATHSIG = 1


class EmbeddedStoreError(RuntimeError):
    pass


class NoEmbeddedData(EmbeddedStoreError):
    """The data directory holds no embedded store, and none was to be made there."""


class EmbeddedStore:
    """Start, or find already running, the embedded server for one data directory."""

    def __init__(self, data_dir: str | os.PathLike):
        self.data_dir = Path(data_dir).resolve()
        self._process: subprocess.Popen | None = None
        self.uri: str | None = None

    @property
    def owned(self) -> bool:
        """Whether this process started the server (and so stops it when it exits)."""
        return self._process is not None

    @property
    def has_data(self) -> bool:
        """Whether the data directory holds an embedded store's data."""
        database = self.data_dir / "db"
        return database.is_dir() and any(database.iterdir())

    def start(self, create: bool = True) -> str:
        """Return the URI of a running server for the data directory, starting one if needed.

        create=False raises NoEmbeddedData, creating nothing, when the directory holds no data.
        """
        if not create and not self.has_data:
            raise NoEmbeddedData(f"{self.data_dir} holds no Machinery data.")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self._locked():
            uri = self._running_uri()
            if uri is None:
                uri = self._spawn()
        self.uri = uri
        return uri

    def stop(self) -> None:
        """Stop the server if this process started it."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        with contextlib.suppress(FileNotFoundError):
            self._state_file.unlink()

    @property
    def _state_file(self) -> Path:
        return self.data_dir / "embedded-store.json"

    @contextlib.contextmanager
    def _locked(self):
        with open(self.data_dir / "embedded-store.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _running_uri(self) -> str | None:
        try:
            state = json.loads(self._state_file.read_text())
        except (FileNotFoundError, ValueError):
            return None
        uri = f"mongodb://127.0.0.1:{state['port']}"
        return uri if _answers(uri, timeout_ms=1000) else None

    def _spawn(self) -> str:
        port = _free_port()
        log_path = self.data_dir / "embedded-store.log"
        command = [
            sys.executable,
            "-m",
            "nx_27017.nx_27017",
            "--data-dir",
            str(self.data_dir / "db"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-file",
            str(log_path),
            "--pid-file",
            str(self.data_dir / "embedded-store.pid"),
        ]
        with open(log_path, "ab") as output:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        atexit.register(self.stop)
        uri = f"mongodb://127.0.0.1:{port}"
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _answers(uri, timeout_ms=500):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise EmbeddedStoreError(f"The embedded store did not start; see {log_path}.")
            time.sleep(0.1)
        self._state_file.write_text(json.dumps({"port": port, "pid": self._process.pid}))
        log.info("Embedded store started on %s with data in %s", uri, self.data_dir)
        return uri


def _answers(uri: str, timeout_ms: int) -> bool:
    client = MongoClient(uri, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms)
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _die_with_parent() -> None:
    # So that the server never outlives a Machinery process killed without running atexit.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
