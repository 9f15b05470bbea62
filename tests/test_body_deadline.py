"""The deadline on reading a request body, over a real socket pair."""

import socket
import threading
import time

import pytest
from werkzeug.exceptions import RequestTimeout

from machinery.body_deadline import BodyDeadline


class SocketBody:
    """A body read as gunicorn reads it: one read waits for all the bytes it asks for."""

    def __init__(self, sock: socket.socket, length: int):
        self.sock = sock
        self.left = length

    def read(self, size=None):
        size = self.left if size is None or size < 0 else min(size, self.left)
        data = b""
        while len(data) < size:
            chunk = self.sock.recv(size - len(data))
            if not chunk:
                break
            data += chunk
        self.left -= len(data)
        return data


@pytest.fixture
def pair():
    server, client = socket.socketpair()
    yield server, client
    server.close()
    client.close()


def serve(app, server: socket.socket, length: int) -> dict:
    """Call the WSGI app through BodyDeadline (0.5 s) as gunicorn would: call it, send its answer,
    close it. What it answered or raised, and how long that took."""
    environ = {
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_LENGTH": str(length),
        "gunicorn.socket": server,
        "wsgi.input": SocketBody(server, length),
    }
    outcome: dict = {"started": time.monotonic()}
    try:
        answer = BodyDeadline(app, 0.5)(environ, None)
        outcome["body"] = b"".join(answer)
        answer.close()
    except RequestTimeout as error:
        outcome["error"] = error
    outcome["seconds"] = time.monotonic() - outcome["started"]
    return outcome


def read_body(environ, start_response):
    return [environ["wsgi.input"].read()]


class Answer(list):
    """An answer whose close() reads what is left of the body, as Machinery's discard does."""

    def __init__(self, body, environ):
        super().__init__([body])
        self.environ = environ

    def close(self):
        try:
            self.environ["wsgi.input"].read()
        except RequestTimeout:
            pass


def trickle(client: socket.socket, stop: threading.Event) -> None:
    while not stop.wait(0.05):
        try:
            client.sendall(b" ")
        except OSError:
            return


def test_a_body_trickling_past_the_deadline_is_refused_at_the_deadline(pair):
    server, client = pair
    stop = threading.Event()
    sender = threading.Thread(target=trickle, args=(client, stop))
    sender.start()
    try:
        outcome = serve(read_body, server, 10_000)
    finally:
        stop.set()
        sender.join()
    assert outcome["error"].code == 408
    assert "did not arrive within 0.5 s" in outcome["error"].description
    assert 0.45 < outcome["seconds"] < 1.5
    assert server.recv(10) == b""  # nothing more is read from that client


def test_a_body_read_in_time_leaves_the_connection_usable_after_the_deadline(pair):
    server, client = pair

    def slow_view(environ, start_response):
        body = environ["wsgi.input"].read()
        time.sleep(0.8)  # past the deadline, once the body is read: a long event, say
        return [body]

    client.sendall(b"x" * 100)
    outcome = serve(slow_view, server, 100)
    assert outcome["body"] == b"x" * 100
    time.sleep(0.2)
    client.sendall(b"the next request")
    server.settimeout(2)
    assert server.recv(100) == b"the next request"


def test_a_body_refused_unread_is_read_after_the_answer_within_the_deadline(pair):
    server, client = pair
    stop = threading.Event()
    sender = threading.Thread(target=trickle, args=(client, stop))
    sender.start()
    try:
        outcome = serve(lambda environ, start_response: Answer(b"401", environ), server, 10_000)
    finally:
        stop.set()
        sender.join()
    assert outcome["body"] == b"401"
    assert 0.45 < outcome["seconds"] < 1.5


def test_a_body_never_read_is_not_watched(pair):
    server, client = pair
    outcome = serve(lambda environ, start_response: [b"refused"], server, 100)
    time.sleep(0.7)
    client.sendall(b"what the client sends next")
    server.settimeout(2)
    assert outcome["body"] == b"refused"
    assert server.recv(100) == b"what the client sends next"


def test_without_gunicorn_the_app_is_called_as_it_is():
    environ = {"SERVER_PROTOCOL": "HTTP/1.1", "wsgi.input": object()}
    app = BodyDeadline(lambda environ, start_response: [environ["wsgi.input"]], 0.5)
    assert app(environ, None) == [environ["wsgi.input"]]
