"""What is left unread of a request body is discarded within limits, so a slow client cannot hold
a worker thread."""

import io
import socket
import time

from machinery.api import connections


def test_a_client_that_stops_sending_is_given_up_at_the_deadline(monkeypatch):
    monkeypatch.setattr(connections, "DISCARD_FOR_AT_MOST_S", 0.2)
    server, client = socket.socketpair()
    with server, client:
        client.sendall(b"x" * 10)  # and nothing more, nor a close
        started = time.monotonic()
        connections.discard(server.makefile("rb", buffering=0), server)
        assert time.monotonic() - started < 2
        assert server.gettimeout() is None  # the server's socket is left as it was


def test_no_more_than_the_limit_is_read(monkeypatch):
    monkeypatch.setattr(connections, "DISCARD_AT_MOST_BYTES", 1000)
    body = io.BytesIO(b"x" * 5000)
    connections.discard(body)
    assert body.tell() == 1000


def test_a_body_the_views_did_not_read_is_discarded_once_the_answer_is_sent(client):
    body = io.BytesIO(b'{"name": "x"}' + b" " * 100_000)
    length = len(body.getvalue())
    with client.post("/s", input_stream=body, content_type="text/plain", content_length=length):
        assert body.tell() == 0  # the answer waits for none of it
    assert body.tell() == length
