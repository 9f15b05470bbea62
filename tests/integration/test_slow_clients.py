"""Clients trickling their request bodies cannot keep Machinery under gunicorn from answering."""

import http.client
import select
import socket
import threading
import time
import uuid
from urllib.parse import urlsplit

import pytest
from processes import start_api

# Tricklers send a byte this often: far slower than a real client, never silent long enough
# for a timeout on each wait for a byte to end them.
INTERVAL_S = 0.2
# However a test goes, trickling stops after this long.
MOST_S = 30.0


class Tricklers:
    """`count` connections, each sending a POST's headers and then its body a byte at a time,
    from one thread, until the server answers or closes the connection, or until stopped."""

    def __init__(self, url: str, count: int):
        self.address = (urlsplit(url).hostname, urlsplit(url).port)
        self.count = count
        self.answers: dict[int, tuple[float, bytes]] = {}  # connection -> (seconds, first bytes)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self.started = time.monotonic()
        self._sockets = []
        head = b"POST /s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        head += b"Content-Length: 100000\r\n\r\n"
        for _ in range(self.count):
            sock = socket.create_connection(self.address, timeout=5)
            sock.sendall(head)
            self._sockets.append(sock)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(MOST_S)
        for sock in self._sockets:
            sock.close()

    def _run(self):
        deadline = self.started + MOST_S
        while not self._stop.wait(INTERVAL_S) and time.monotonic() < deadline:
            for number, sock in enumerate(self._sockets):
                if number in self.answers:
                    continue
                try:
                    sock.sendall(b" ")
                    if not select.select([sock], [], [], 0)[0]:
                        continue
                    seconds = time.monotonic() - self.started
                    answer = read_answer(sock)
                except OSError as error:
                    seconds, answer = time.monotonic() - self.started, repr(error).encode()
                self.answers[number] = (seconds, answer)


def read_answer(sock: socket.socket) -> bytes:
    """An answer's head and as much of its body as arrives within a second of it."""
    sock.settimeout(1.0)
    answer = b""
    try:
        while chunk := sock.recv(4096):
            answer += chunk
            head, _, body = answer.partition(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                None,
            )
            if length is not None and len(body) >= length:
                break
    except OSError:
        pass  # closed or reset after the answer, or no more of it
    return answer


def healthcheck_seconds(url: str, timeout: float) -> float | None:
    """How long /healthcheck took to answer 204; None when it did not within the timeout."""
    parts = urlsplit(url)
    started = time.monotonic()
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        connection.request("GET", "/healthcheck")
        if connection.getresponse().status == 204:
            return time.monotonic() - started
        return None
    except OSError:
        return None
    finally:
        connection.close()


@pytest.fixture(scope="module")
def default_api(logs, mongo_uri):
    """Machinery with the settings of gunicorn.conf.py, on two workers as in the other tests."""
    env = {"MONGO_URI": mongo_uri, "MONGO_DB": f"slow_{uuid.uuid4().hex[:8]}"}
    process, url = start_api(logs, env, name="api-slow-clients")
    yield url
    process.stop()


@pytest.fixture(scope="module")
def short_deadline_api(logs, mongo_uri):
    """One worker of four threads, whose request bodies must arrive within a second."""
    env = {
        "MONGO_URI": mongo_uri,
        "MONGO_DB": f"slow_{uuid.uuid4().hex[:8]}",
        "WEB_CONCURRENCY": "1",
        "GUNICORN_THREADS": "4",
        "GUNICORN_BODY_TIMEOUT": "1",
    }
    process, url = start_api(logs, env, name="api-body-deadline")
    yield url
    process.stop()


def test_healthcheck_answers_while_24_clients_trickle_their_bodies(default_api):
    with Tricklers(default_api, 24) as tricklers:
        time.sleep(0.5)  # every trickling request has reached a worker thread
        probes = []
        for _ in range(8):
            probes.append(healthcheck_seconds(default_api, timeout=1.0))
            time.sleep(0.1)
        assert tricklers.answers == {}, "the tricklers are still being read"
    assert None not in probes, probes
    assert max(probes) < 1.0


def test_a_body_still_arriving_at_the_deadline_is_answered_408_and_frees_its_thread(
    short_deadline_api,
):
    # Twice as many tricklers as threads: the second four wait for the first four's threads.
    with Tricklers(short_deadline_api, 8) as tricklers:
        time.sleep(0.3)
        probe = healthcheck_seconds(short_deadline_api, timeout=5.0)
        while len(tricklers.answers) < 8 and time.monotonic() - tricklers.started < 6:
            time.sleep(0.1)
    assert probe is not None and probe < 3.5, probe
    assert len(tricklers.answers) == 8, tricklers.answers
    for seconds, answer in tricklers.answers.values():
        assert answer.startswith(b"HTTP/1.1 408"), answer
        assert b"did not arrive within 1 s" in answer
        assert 0.9 < seconds < 4.0
    # The threads serve again, and a body sent at once is read.
    assert healthcheck_seconds(short_deadline_api, timeout=1.0) is not None
    parts = urlsplit(short_deadline_api)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    connection.request(
        "POST", "/s", body=b'{"name": "x"}', headers={"Content-Type": "application/json"}
    )
    assert connection.getresponse().status == 422
    connection.close()
