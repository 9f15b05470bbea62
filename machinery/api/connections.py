"""Connections kept alive stay usable: what is left unread of a request body is discarded."""

import time
from functools import partial
from typing import IO

from flask import Response, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wsgi import LimitedStream

# A body refused before it is read (413, 401, 403, 415, ...) is left on the connection. gunicorn
# has already answered `Connection: keep-alive` (it drops a `Connection: close` a response sets),
# then discards at most 64 KiB of what is left and otherwise closes the connection: the client's
# next request on it fails. So Machinery reads and discards what is left, once the answer is
# sent, up to these limits; a larger or slower body is left, and the connection closed.
DISCARD_AT_MOST_BYTES = 16 * 1024 * 1024
DISCARD_FOR_AT_MOST_S = 5.0
_READ_BYTES = 64 * 1024


def discard_unread_body(response: Response) -> Response:
    """Once the answer is sent, read and discard what the views left of the request's body."""
    body = unread_body()
    if body is not None:
        # gunicorn's socket gets a deadline, as gunicorn gives it when it discards a body itself:
        # a client that stops sending must not hold a worker thread.
        response.call_on_close(partial(discard, body, request.environ.get("gunicorn.socket")))
    return response


def unread_body() -> IO[bytes] | None:
    """The stream holding what is left of the request's body; None when there is none worth
    reading (no body, one over the limit, no request to follow) or none safe to read (a body
    whose end the server does not mark)."""
    environ = request.environ
    length = request.content_length
    chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    if not (length or chunked) or (length or 0) > DISCARD_AT_MOST_BYTES or last_request():
        return None
    if environ.get("wsgi.input_terminated"):
        return environ["wsgi.input"]  # the server ends it where the body ends
    if not length:
        return None
    try:
        return request.stream  # the one the views read from, so what they read is skipped
    except RequestEntityTooLarge:  # over MAX_CONTENT_LENGTH: nothing of it was read
        return LimitedStream(environ["wsgi.input"], length)


def last_request() -> bool:
    """Whether the client closes the connection after this request."""
    connection = request.headers.get("Connection", "").lower()
    if request.environ.get("SERVER_PROTOCOL") == "HTTP/1.0":
        return "keep-alive" not in connection
    return "close" in connection


def discard(body: IO[bytes], sock=None) -> None:
    """Read the body to its end, within DISCARD_AT_MOST_BYTES and DISCARD_FOR_AT_MOST_S."""
    deadline = time.monotonic() + DISCARD_FOR_AT_MOST_S
    left = DISCARD_AT_MOST_BYTES
    timeout = sock.gettimeout() if sock is not None else None
    try:
        while left > 0:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            if sock is not None:
                sock.settimeout(remaining)
            chunk = body.read(min(_READ_BYTES, left))
            if not chunk:
                return
            left -= len(chunk)
    except Exception:  # noqa: BLE001 - a timeout, a reset, a malformed chunk: the server closes
        return
    finally:
        if sock is not None:
            try:
                sock.settimeout(timeout)
            except OSError:
                pass
