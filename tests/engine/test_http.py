"""Tests of HttpCaller against real HTTP servers on 127.0.0.1."""

import contextlib
import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from machinery import states
from machinery.engine.addresses import AddressPolicy
from machinery.engine.executor import CallOptions, StepFailed
from machinery.engine.http import HttpCaller

READ_TIMEOUT = 0.3
SLOW_ANSWER = 1.0


class ServiceHandler(BaseHTTPRequestHandler):
    """A service whose behaviour is chosen by the path it is called on."""

    protocol_version = "HTTP/1.1"  # keep-alive, so every answer carries a Content-Length
    timeout = 5  # a stuck connection cannot hang the suite

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.requests.append((self.command, self.path))
        behaviour = getattr(self, "answer_" + self.path.strip("/").replace("-", "_"), None)
        if behaviour is None:
            self.send_body(404, b"no such path", "text/plain")
        else:
            behaviour(body)

    def send_body(self, status: int, body: bytes, content_type: str, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in headers.items():
            self.send_header(name, value)
        if status != 204:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def send_json(self, status: int, value) -> None:
        self.send_body(status, json.dumps(value).encode(), "application/json")

    def answer_echo(self, body: bytes) -> None:
        self.send_json(
            200,
            {
                "method": self.command,
                "path": self.path,
                "http_version": self.request_version,
                "content_type": self.headers.get("Content-Type"),
                "accept": self.headers.get("Accept"),
                "body": body.decode(),
                "client_port": self.client_address[1],
                "host": self.headers.get("Host"),
            },
        )

    def answer_created(self, body: bytes) -> None:
        self.send_json(201, {"created": True})

    def answer_error(self, body: bytes) -> None:
        self.send_body(500, b"boom", "text/plain")

    def answer_long_error(self, body: bytes) -> None:
        self.send_body(502, b"x" * 300, "text/plain")

    def answer_redirect(self, body: bytes) -> None:
        self.send_body(302, b"", "text/plain", Location="/echo")

    def answer_redirect_to_metadata(self, body: bytes) -> None:
        location = "http://169.254.169.254/latest/meta-data/"
        self.send_body(307, b"", "text/plain", Location=location)

    def answer_text(self, body: bytes) -> None:
        self.send_body(200, b"hello, not json", "text/plain")

    def answer_array(self, body: bytes) -> None:
        self.send_json(200, [1, 2, 3])

    def answer_empty(self, body: bytes) -> None:
        self.send_body(200, b"", "application/json")

    def answer_no_content(self, body: bytes) -> None:
        self.send_body(204, b"", "application/json")

    def answer_slow(self, body: bytes) -> None:
        if self.server.released.wait(SLOW_ANSWER):
            self.close_connection = True  # the test is over and the caller gone
            return
        self.send_json(200, {"late": True})

    def answer_slow_body(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "20")
        self.end_headers()
        self.wfile.write(b'{"late":')
        self.wfile.flush()
        if not self.server.released.wait(SLOW_ANSWER):
            self.wfile.write(b" true}      ")
        self.close_connection = True

    def answer_truncated(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "100")
        self.end_headers()
        self.wfile.write(b'{"cut":')
        self.close_connection = True  # closes before the promised length

    def answer_not_a_number(self, body: bytes) -> None:
        self.send_body(200, b'{"ratio": NaN}', "application/json")

    def answer_headers(self, body: bytes) -> None:
        self.send_json(200, {name.lower(): value for name, value in self.headers.items()})

    def answer_busy(self, body: bytes) -> None:
        self.send_body(503, b"busy", "text/plain", **{"Retry-After": "7"})

    def answer_busy_until(self, body: bytes) -> None:
        self.send_body(
            503, b"busy", "text/plain", **{"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}
        )

    def answer_huge(self, body: bytes) -> None:
        self.send_json(200, {"blob": "x" * 5000})

    def answer_trickle(self, body: bytes) -> None:
        payload = b'{"slowly": "' + b"x" * 20 + b'"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        for byte in payload:  # one byte every 50 ms: each read is quick, the whole is not
            if self.server.released.wait(0.05):
                break
            self.wfile.write(bytes([byte]))
            self.wfile.flush()
        self.close_connection = True

    def answer_hang_up(self, body: bytes) -> None:
        self.close_connection = True  # closes the connection without an answer

    def log_message(self, format, *args):
        pass


class ServiceServer(ThreadingHTTPServer):
    """A threading HTTP server that counts the connections it accepts."""

    daemon_threads = False
    block_on_close = True  # server_close waits for the handler threads

    def __init__(self):
        super().__init__(("127.0.0.1", 0), ServiceHandler)
        self.connections: list[tuple[str, int]] = []
        self.sockets: list[socket.socket] = []
        self.requests: list[tuple[str, str]] = []
        self.errors: list[tuple[str, int]] = []
        self.released = threading.Event()

    def get_request(self):
        request, client_address = super().get_request()
        self.connections.append(client_address)
        self.sockets.append(request)
        return request, client_address

    def hang_up_all(self) -> None:
        """End every accepted connection, so no handler thread waits for a next request."""
        for request in self.sockets:
            try:
                request.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by its handler

    def handle_error(self, request, client_address):
        # A caller that gave up (timeouts) can leave a handler writing to a closed socket.
        self.errors.append(client_address)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


@contextlib.contextmanager
def serving(service: ServiceServer):
    """Run the server in a thread; stop it and end its connections afterwards."""
    thread = threading.Thread(target=service.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield service
    finally:
        service.released.set()
        service.shutdown()
        thread.join()
        service.hang_up_all()
        service.server_close()


@pytest.fixture
def server():
    with serving(ServiceServer()) as service:
        yield service


@pytest.fixture
def caller(server):
    http_caller = HttpCaller(connect_timeout=0.5, read_timeout=READ_TIMEOUT)
    yield http_caller
    http_caller.close()


def call_failing(caller: HttpCaller, address: str, payload: dict | None = None) -> StepFailed:
    """Call the address, expecting a StepFailed, and return it."""
    with pytest.raises(StepFailed) as raised:
        caller(address, payload or {})
    return raised.value


def test_a_call_posts_the_payload_as_json(server, caller):
    payload = {"text": "héllo", "count": 3, "tags": ["a"], "meta": {"ok": True}, "none": None}
    status, answer = caller(server.url("/echo"), payload)
    assert status == 200
    assert answer["method"] == "POST"
    assert answer["path"] == "/echo"
    assert answer["http_version"] == "HTTP/1.1"
    assert answer["content_type"] == "application/json"
    assert answer["accept"] == "application/json"
    assert json.loads(answer["body"]) == payload


def test_a_call_with_an_empty_payload_posts_an_empty_object(server, caller):
    _, answer = caller(server.url("/echo"), {})
    assert json.loads(answer["body"]) == {}


def test_any_2xx_with_a_json_object_is_an_answer(server, caller):
    assert caller(server.url("/created"), {}) == (201, {"created": True})


def test_keep_alive_reuses_one_connection(server, caller):
    ports = {caller(server.url("/echo"), {"n": n})[1]["client_port"] for n in range(5)}
    assert len(server.requests) == 5
    assert len(server.connections) == 1
    assert ports == {server.connections[0][1]}


@pytest.mark.parametrize(
    "path", ["/error", "/nowhere", "/redirect", "/text", "/array", "/no-content"]
)
def test_an_answer_that_fails_the_step_still_frees_its_connection(server, caller, path):
    call_failing(caller, server.url(path))
    assert caller(server.url("/echo"), {})[0] == 200
    assert len(server.connections) == 1


def test_failures_do_not_stop_later_calls_on_the_same_caller(server, caller):
    call_failing(caller, server.url("/error"))
    call_failing(caller, server.url("/hang-up"))
    assert caller(server.url("/echo"), {"again": 1})[0] == 200


@pytest.mark.parametrize(
    ("path", "status_code", "message"),
    [
        ("/error", 500, "answered HTTP 500: boom"),
        ("/nowhere", 404, "answered HTTP 404: no such path"),
        ("/long-error", 502, "answered HTTP 502: " + "x" * 200 + "..."),
    ],
)
def test_a_status_outside_2xx_is_an_http_status_failure(server, caller, path, status_code, message):
    failure = call_failing(caller, server.url(path))
    assert failure.kind == states.HTTP_STATUS
    assert failure.status_code == status_code
    assert failure.message == message


def test_a_redirect_is_not_followed(server, caller):
    failure = call_failing(caller, server.url("/redirect"))
    assert failure.kind == states.HTTP_STATUS
    assert failure.status_code == 302
    assert server.requests == [("POST", "/redirect")]


@pytest.mark.parametrize(
    ("path", "status_code", "message"),
    [
        (
            "/text",
            200,
            "answered a body that is not usable JSON (Expecting value): hello, not json",
        ),
        ("/array", 200, "answered JSON that is not an object: [1, 2, 3]"),
        ("/empty", 200, "answered a body that is not usable JSON (Expecting value): "),
        ("/no-content", 204, "answered a body that is not usable JSON (Expecting value): "),
    ],
)
def test_a_2xx_without_a_json_object_is_an_invalid_response(
    server, caller, path, status_code, message
):
    failure = call_failing(caller, server.url(path))
    assert failure.kind == states.INVALID_RESPONSE
    assert failure.status_code == status_code
    assert failure.message == message


def test_a_slow_answer_is_a_timeout(server, caller):
    address = server.url("/slow")
    failure = call_failing(caller, address)
    assert failure.kind == states.TIMEOUT
    assert failure.status_code is None
    assert failure.message.startswith(f"timed out calling {address}")


def test_a_body_that_stalls_is_a_timeout(server, caller):
    failure = call_failing(caller, server.url("/slow-body"))
    assert failure.kind == states.TIMEOUT
    assert failure.status_code is None


def test_a_refused_connection_is_a_connection_error(caller):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"http://127.0.0.1:{port}/echo"
    failure = call_failing(caller, address)
    assert failure.kind == states.CONNECTION_ERROR
    assert failure.status_code is None
    assert failure.message.startswith(f"could not connect to {address}")


def test_a_connection_closed_without_an_answer_is_a_connection_error(server, caller):
    address = server.url("/hang-up")
    failure = call_failing(caller, address)
    assert failure.kind == states.CONNECTION_ERROR
    assert failure.status_code is None
    assert failure.message.startswith(f"connection to {address} failed")


def test_a_body_cut_short_is_a_connection_error(server, caller):
    address = server.url("/truncated")
    failure = call_failing(caller, address)
    assert failure.kind == states.CONNECTION_ERROR
    assert failure.status_code is None
    assert failure.message.startswith(f"connection to {address} failed")


def test_a_body_with_nan_is_not_json(server, caller):
    failure = call_failing(caller, server.url("/not-a-number"))
    assert failure.kind == states.INVALID_RESPONSE
    assert failure.status_code == 200


def test_a_redirect_to_a_metadata_address_is_not_followed(server, caller):
    failure = call_failing(caller, server.url("/redirect-to-metadata"))
    assert failure.kind == states.HTTP_STATUS
    assert failure.status_code == 307
    assert server.requests == [("POST", "/redirect-to-metadata")]


# Which addresses are called: HttpCaller resolves a host itself, checks every IP it gets and
# connects only to a checked one, once per connection.


class ScriptedResolver:
    """A fake resolve(host, port): each lookup answers the next answer (the last one repeats)."""

    def __init__(self, *answers: list[str] | Exception):
        self.answers = answers
        self.lookups: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        answer = self.answers[min(len(self.lookups), len(self.answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def make_caller():
    """Make HttpCallers with a policy and a resolver; close them afterwards."""
    callers = []

    def make(**options) -> HttpCaller:
        callers.append(HttpCaller(connect_timeout=0.5, read_timeout=READ_TIMEOUT, **options))
        return callers[-1]

    yield make
    for http_caller in callers:
        http_caller.close()


@pytest.fixture
def sockets_opened(monkeypatch):
    """The sockets opened during the test; opening one fails, as no connection may be made."""
    opened = []

    def refuse(*args, **kwargs):
        opened.append(args)
        raise OSError("a socket was opened")

    monkeypatch.setattr(socket, "socket", refuse)
    return opened


@pytest.mark.parametrize(
    "address",
    [
        "http://169.254.169.254/latest/meta-data/",
        "https://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://[::ffff:a9fe:a9fe]/",
        "http://100.100.100.200/latest/meta-data/",
        "http://0.0.0.0:5001/event",
        "http://2852039166/",
    ],
)
def test_a_refused_literal_address_is_neither_looked_up_nor_connected(
    make_caller, sockets_opened, address
):
    resolver = ScriptedResolver()
    failure = call_failing(make_caller(resolve=resolver), address)
    assert failure.kind == states.REFUSED_ADDRESS
    assert failure.status_code is None
    assert failure.message.startswith(f"refused to call {address}: ")
    assert failure.message.endswith("Machinery never calls it.")
    assert resolver.lookups == []
    assert sockets_opened == []


def test_a_name_resolving_to_a_metadata_address_is_never_connected(make_caller, sockets_opened):
    resolver = ScriptedResolver(["169.254.169.254"])
    address = "http://evil.test/latest/meta-data/"
    failure = call_failing(make_caller(resolve=resolver), address)
    assert failure.kind == states.REFUSED_ADDRESS
    assert failure.message == (
        f"refused to call {address}: evil.test resolves to 169.254.169.254, a link-local address "
        "(where cloud metadata services listen); Machinery never calls it."
    )
    assert resolver.lookups == ["evil.test"]
    assert sockets_opened == []


def test_one_refused_address_among_several_refuses_the_name(server, make_caller):
    resolver = ScriptedResolver(["127.0.0.1", "::ffff:169.254.169.254"])
    port = server.server_address[1]
    failure = call_failing(make_caller(resolve=resolver), f"http://mixed.test:{port}/echo")
    assert failure.kind == states.REFUSED_ADDRESS
    assert server.connections == []


def test_a_connection_goes_to_the_address_checked_for_it(server, make_caller):
    # A rebinding DNS answers a safe address to the check and a refused one afterwards.
    resolver = ScriptedResolver(["127.0.0.1"], ["169.254.169.254"])
    caller = make_caller(resolve=resolver)
    port = server.server_address[1]
    address = f"http://rebind.test:{port}/echo"
    answers = [caller(address, {"n": n}) for n in range(3)]
    assert [status for status, _ in answers] == [200, 200, 200]
    assert answers[0][1]["host"] == f"rebind.test:{port}"
    assert resolver.lookups == ["rebind.test"]  # once per connection, not per request
    assert len(server.connections) == 1
    # The server drops the connection: the next one looks the name up and checks it again.
    call_failing(caller, f"http://rebind.test:{port}/hang-up")
    failure = call_failing(caller, address)
    assert failure.kind == states.REFUSED_ADDRESS
    assert resolver.lookups == ["rebind.test", "rebind.test"]
    assert len(server.connections) == 1


def test_a_literal_ip_is_called_without_a_lookup(server, make_caller):
    resolver = ScriptedResolver()
    assert make_caller(resolve=resolver)(server.url("/echo"), {})[0] == 200
    assert resolver.lookups == []


def test_each_checked_address_is_tried_in_turn(server, make_caller):
    resolver = ScriptedResolver(["127.0.0.2", "127.0.0.1"])  # nothing listens on 127.0.0.2
    port = server.server_address[1]
    status, answer = make_caller(resolve=resolver)(f"http://two.test:{port}/echo", {})
    assert status == 200
    assert answer["host"] == f"two.test:{port}"


def test_a_name_that_does_not_resolve_is_a_connection_error(make_caller, sockets_opened):
    resolver = ScriptedResolver(socket.gaierror(socket.EAI_NONAME, "Name or service not known"))
    address = "http://nowhere.test/event"
    failure = call_failing(make_caller(resolve=resolver), address)
    assert failure.kind == states.CONNECTION_ERROR
    assert failure.message.startswith(f"could not connect to {address}")
    assert sockets_opened == []


def test_the_allow_list_is_kept_at_call_time(server, make_caller):
    policy = AddressPolicy("*.svc.test")
    caller = make_caller(policy=policy, resolve=ScriptedResolver(["127.0.0.1"]))
    port = server.server_address[1]
    status, answer = caller(f"http://upper.svc.test:{port}/echo", {})
    assert (status, answer["host"]) == (200, f"upper.svc.test:{port}")
    failure = call_failing(caller, server.url("/echo"))
    assert failure.kind == states.REFUSED_ADDRESS
    assert failure.message.endswith("127.0.0.1 is outside MACHINERY_ALLOWED_HOSTS.")
    failure = call_failing(caller, f"http://upper.internal:{port}/echo")
    assert failure.message.endswith(
        "upper.internal resolves to 127.0.0.1, outside MACHINERY_ALLOWED_HOSTS."
    )
    assert len(server.connections) == 1


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for service.test, and its key."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
        + ["-nodes", "-days", "1", "-subj", "/CN=service.test"]
        + ["-addext", "subjectAltName=DNS:service.test"]
        + ["-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls_server(certificate, monkeypatch):
    """A service on 127.0.0.1 over HTTPS with the certificate, which the caller trusts."""
    cert, key = certificate
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    service = ServiceServer()
    service.socket = context.wrap_socket(service.socket, server_side=True)
    with serving(service):
        yield service


def test_https_verifies_the_certificate_for_the_host_name(tls_server, make_caller):
    # The connection goes to the checked IP; SNI and the certificate check use the URL's name.
    caller = make_caller(resolve=ScriptedResolver(["127.0.0.1"]))
    port = tls_server.server_address[1]
    status, answer = caller(f"https://service.test:{port}/echo", {"secure": True})
    assert (status, answer["host"]) == (200, f"service.test:{port}")
    assert json.loads(answer["body"]) == {"secure": True}


def test_https_to_a_name_the_certificate_does_not_cover_fails(tls_server, make_caller):
    caller = make_caller(resolve=ScriptedResolver(["127.0.0.1"]))
    port = tls_server.server_address[1]
    failure = call_failing(caller, f"https://other.test:{port}/echo")
    assert failure.kind == states.CONNECTION_ERROR
    assert "certificate is not valid for 'other.test'" in failure.message
    assert tls_server.requests == []


# headers, per-call timeouts, Retry-After, the response size limit


def test_a_call_sends_the_headers_it_is_given(server, caller):
    options = CallOptions(headers={"Idempotency-Key": "e-0", "traceparent": "00-a-b-01"})
    _, answer = caller(server.url("/headers"), {}, options)
    assert answer["idempotency-key"] == "e-0"
    assert answer["traceparent"] == "00-a-b-01"
    assert answer["content-type"] == "application/json"


def test_a_per_call_read_timeout_overrides_the_default(server):
    patient = HttpCaller(connect_timeout=0.5, read_timeout=5)
    try:
        started = time.monotonic()
        with pytest.raises(StepFailed) as raised:
            patient(server.url("/slow"), {}, CallOptions(headers={}, timeout=(None, 0.2)))
        assert raised.value.kind == states.TIMEOUT
        assert raised.value.sent is True
        assert time.monotonic() - started < SLOW_ANSWER
    finally:
        patient.close()


def test_retry_after_in_seconds_is_read(server, caller):
    failure = call_failing(caller, server.url("/busy"))
    assert (failure.kind, failure.status_code, failure.retry_after) == (
        states.HTTP_STATUS,
        503,
        7.0,
    )


def test_retry_after_as_a_past_date_means_no_wait(server, caller):
    assert call_failing(caller, server.url("/busy-until")).retry_after == 0.0


def test_an_answer_over_the_limit_fails_without_being_kept(server):
    small = HttpCaller(connect_timeout=0.5, read_timeout=READ_TIMEOUT, max_response_bytes=1000)
    try:
        failure = call_failing(small, server.url("/huge"))
        assert failure.kind == states.RESPONSE_TOO_LARGE
        assert failure.message == "answered more than 1000 bytes"
        assert small(server.url("/echo"), {})[0] == 200  # the caller goes on working
    finally:
        small.close()


def test_a_refused_connection_was_not_sent(caller):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert call_failing(caller, f"http://127.0.0.1:{port}/").sent is False


def test_the_whole_answer_must_arrive_within_the_read_timeout(server, caller):
    started = time.monotonic()
    failure = call_failing(caller, server.url("/trickle"))
    elapsed = time.monotonic() - started
    assert failure.kind == states.TIMEOUT
    assert elapsed < READ_TIMEOUT * 2 + 0.2  # headers, then the body, each within the timeout


# post: a webhook's body, sent as it is (its bytes are what was signed); any 2xx delivers it.


def test_post_sends_the_bytes_as_they_are_and_takes_any_2xx(server, caller):
    body = b'{"event_id":"e1","status":"succeeded"}'
    assert caller.post(server.url("/echo"), body, {"Machinery-Signature": "t=1,v1=ab"}) == 200
    assert caller.post(server.url("/text"), body, {}) == 200  # not JSON: not read as an answer
    assert caller.post(server.url("/created"), body, {}) == 201


def test_post_takes_a_2xx_whatever_its_body(server):
    small = HttpCaller(connect_timeout=0.5, read_timeout=READ_TIMEOUT, max_response_bytes=1000)
    try:
        assert small.post(server.url("/huge"), b"{}", {}) == 200
        started = time.monotonic()
        assert small.post(server.url("/trickle"), b"{}", {}) == 200
        assert time.monotonic() - started < READ_TIMEOUT  # its body was not waited for
        assert small.post(server.url("/created"), b"{}", {}) == 201  # the caller goes on
    finally:
        small.close()


def test_post_sends_json_with_the_headers_given(caller):
    class Recording(ServiceHandler):
        def answer_hook(self, body: bytes) -> None:
            self.server.received = (dict(self.headers), body)
            self.send_body(204, b"", "text/plain")

    service = ServiceServer()
    service.RequestHandlerClass = Recording
    body = '{"a":1, "é": "signed as it is"}'.encode()
    with serving(service):
        assert caller.post(service.url("/hook"), body, {"X-Test": "yes"}) == 204
    headers, received = service.received
    assert received == body
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Test"] == "yes"


@pytest.mark.parametrize(
    ("path", "status_code"), [("/error", 500), ("/redirect", 302), ("/redirect-to-metadata", 307)]
)
def test_post_fails_on_any_other_status_and_follows_no_redirect(server, caller, path, status_code):
    with pytest.raises(StepFailed) as raised:
        caller.post(server.url(path), b"{}", {})
    assert (raised.value.kind, raised.value.status_code) == (states.HTTP_STATUS, status_code)
    assert server.requests == [("POST", path)]


def test_post_goes_through_the_address_guard(make_caller, sockets_opened):
    poster = make_caller(resolve=ScriptedResolver(["169.254.169.254"]))
    with pytest.raises(StepFailed) as raised:
        poster.post("http://hooks.example/in", b"{}", {})
    assert raised.value.kind == states.REFUSED_ADDRESS
    assert "link-local" in raised.value.message
    assert sockets_opened == []


def test_more_calls_at_once_than_pooled_connections_all_get_their_answer(server):
    """Connections beyond the pool are closed once their answer is read: each call still reads
    its whole answer, on its own connection."""
    caller = HttpCaller(connect_timeout=0.5, read_timeout=READ_TIMEOUT, pool_size=1)
    answers, failures = [], []

    def call(n: int) -> None:
        for m in range(5):
            try:
                answers.append(caller(server.url("/echo"), {"n": n, "m": m})[1])
            except StepFailed as failure:
                failures.append(failure)

    threads = [threading.Thread(target=call, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    caller.close()
    assert failures == []
    assert sorted((json.loads(a["body"])["n"], json.loads(a["body"])["m"]) for a in answers) == [
        (n, m) for n in range(8) for m in range(5)
    ]
