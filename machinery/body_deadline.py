"""A deadline on reading a request's body, so that a client trickling it cannot hold a thread."""

import socket
import threading
import time

from werkzeug.exceptions import RequestTimeout
from werkzeug.wsgi import ClosingIterator


class BodyDeadline:
    """WSGI middleware: a request's whole body must arrive within `seconds` of its headers.

    Under gunicorn, which puts the client's socket in the environ (gunicorn.socket). A timeout on
    the socket would bound each wait for a byte, not the whole body, and gunicorn waits for many
    bytes in one read; so a watchdog thread stops reading from a client whose deadline passes
    while its body is still being read (shutdown(SHUT_RD) wakes the blocked read at once). The
    request is then answered 408, and the connection is closed. Reads of what is left of a body
    once the answer is sent (Machinery discards it, to keep the connection) keep the deadline.
    """

    def __init__(self, app, seconds: float):
        self.app = app
        self.seconds = seconds
        self._watchdog = Watchdog()

    def __call__(self, environ, start_response):
        sock = environ.get("gunicorn.socket")
        # HTTP/2 streams share one socket: stopping it for one stream would cut the others.
        if sock is None or not environ.get("SERVER_PROTOCOL", "").startswith("HTTP/1"):
            return self.app(environ, start_response)
        length = environ.get("CONTENT_LENGTH")
        body = DeadlineInput(
            environ["wsgi.input"],
            sock,
            deadline=time.monotonic() + self.seconds,
            seconds=self.seconds,
            length=int(length) if length else None,
            watchdog=self._watchdog,
        )
        environ["wsgi.input"] = body
        try:
            answer = self.app(environ, start_response)
        except BaseException:
            body.stop_watching()
            raise
        # The answer's close() runs what reads on after it (the discard), then this.
        return ClosingIterator(answer, body.stop_watching)


class DeadlineInput:
    """A request body watched while it is read: past its deadline, its reads answer 408."""

    def __init__(self, stream, sock, *, deadline, seconds, length, watchdog):
        self._stream = stream
        self._sock = sock
        self.deadline = deadline
        self._seconds = seconds
        self._length = length  # None for a chunked body
        self._watchdog = watchdog
        self._received = 0
        self._watched = False
        self._done = False  # the answer was closed: reads after it are not watched
        self.expired = False

    def read(self, size=None):
        return self._read(self._stream.read, size)

    def readline(self, size=None):
        return self._read(self._stream.readline, size)

    def readlines(self, hint=None):
        return self._read(self._stream.readlines, hint, ended=[])

    def __iter__(self):
        while line := self.readline():
            yield line

    def stop_watching(self) -> None:
        self._done = True
        self._watchdog.forget(self)

    def expire(self) -> None:
        """Stop reading from the client: a read waiting for its bytes returns at once."""
        self.expired = True
        try:
            self._sock.shutdown(socket.SHUT_RD)
        except OSError:
            pass  # already closed

    def _complete(self) -> bool:
        return self._length is not None and self._received >= self._length

    def _read(self, read, size, ended=b""):
        if self.expired and self._done:
            return ended  # the body was refused with a 408: for what reads on, it has ended
        if not (self._watched or self._done or self._complete()):
            self._watched = True
            self._watchdog.watch(self)
        try:
            data = read(size)
        except OSError:  # the read cut short by expire()
            if self.expired:
                raise self._timeout() from None
            raise
        self._received += sum(map(len, data)) if isinstance(data, list) else len(data)
        if self.expired and not self._complete():
            raise self._timeout()
        if not data or self._complete():
            self._watchdog.forget(self)
        return data

    def _timeout(self) -> RequestTimeout:
        return RequestTimeout(f"The request body did not arrive within {self._seconds:g} s.")


class Watchdog:
    """One thread per process, started on first use, expiring the bodies past their deadline."""

    def __init__(self):
        self._condition = threading.Condition()
        self._watched: set[DeadlineInput] = set()
        self._thread: threading.Thread | None = None

    def watch(self, body: DeadlineInput) -> None:
        with self._condition:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="body-deadline", daemon=True)
                self._thread.start()
            self._watched.add(body)
            self._condition.notify()

    def forget(self, body: DeadlineInput) -> None:
        with self._condition:
            self._watched.discard(body)

    def _run(self) -> None:
        with self._condition:
            while True:
                now = time.monotonic()
                for body in [body for body in self._watched if body.deadline <= now]:
                    self._watched.discard(body)
                    body.expire()
                next_deadline = min((body.deadline for body in self._watched), default=None)
                self._condition.wait(None if next_deadline is None else next_deadline - now)
