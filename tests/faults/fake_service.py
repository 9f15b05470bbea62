"""A service that misbehaves on request, run as its own process by the fault tests.

`POST /<fault>/<tag>?<parameters>` answers according to the fault; `times=N` makes only the
first N requests to that path misbehave, and the later ones answer as `ok` does. The tag only
separates one test's counts from another's. Faults:

- `ok`: 200 `{"message": <the message received>, "served": <request number>}`; `delay=s` first
- `slow`: waits `seconds` (default 5) before answering as `ok`
- `status`: answers HTTP `code` (default 500), with `Retry-After: <retry_after>` when given
- `cut`: announces a body longer than what it sends, then closes the connection
- `drop`: closes the connection without answering
- `not-json`: 200 with an HTML page
- `huge`: 200 with a JSON body of `mib` MiB (default 32), streamed
- `gzip-bomb`: 200 with a gzip body that inflates to `mib` MiB (default 64) of JSON
- `wrong-types`: 200 `{"message": 42}` where a string is declared
- `deep`: 200 with a JSON object holding arrays nested `depth` deep (default 50000)
- `raw`: 200 with the body given as `body`, as it is
- `trickle`: 200 with a JSON body sent one byte every `every` seconds (default 0.25)
- `callback`: a callback service: 202 at once, then, `delay` seconds later (default 0.2, with a
  heartbeat each second meanwhile), posts `{"message": <the message in upper case>}` to the URL in
  X-Machinery-Callback-Url; `GET /count/callbacks` answers the statuses its posts got

`GET /count/<fault>/<tag>` answers what that path received: `{"requests", "idempotency_keys",
"event_ids", "steps", "traceparents", "request_ids", "authorizations", "api_keys", "messages"}`.
`GET /healthcheck` is 204.
"""

import gzip
import json
import os
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

MiB = 1024 * 1024
CHUNK = 64 * 1024

_seen: dict[str, dict[str, list]] = {}
_lock = threading.Lock()
_bombs: dict[int, bytes] = {}


# What is noted of each request: the headers Machinery sends about the call, and the message.
NOTED_HEADERS = {
    "idempotency_keys": "Idempotency-Key",
    "event_ids": "X-Machinery-Event-Id",
    "steps": "X-Machinery-Step",
    "traceparents": "traceparent",
    "request_ids": "X-Request-Id",
    "authorizations": "Authorization",
    "api_keys": "X-Api-Key",
}


def note(path: str, headers, body: dict) -> int:
    """Remember one request to the path; return its number there, from 1."""
    with _lock:
        seen = _seen.setdefault(path, {name: [] for name in [*NOTED_HEADERS, "messages"]})
        for name, header in NOTED_HEADERS.items():
            seen[name].append(headers.get(header))
        seen["messages"].append(body.get("message") if isinstance(body, dict) else None)
        return len(seen["messages"])


def bomb(mib: int) -> bytes:
    """A gzip body that inflates to `mib` MiB of JSON (made once per size)."""
    if mib not in _bombs:
        padding = b" " * (mib * MiB)
        _bombs[mib] = gzip.compress(b'{"message": "x"' + padding + b"}", compresslevel=9)
    return _bombs[mib]


class FakeService(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as two writes

    def do_GET(self):  # noqa: N802 - the http.server protocol
        path = urlsplit(self.path).path
        if path == "/healthcheck":
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if path.startswith("/count/"):
            with _lock:
                seen = _seen.get(path.removeprefix("/count"), {})
                answer = {"requests": len(seen.get("messages", [])), **seen}
            self.answer(200, json.dumps(answer).encode())
            return
        self.answer(404, b'{"message": "no such path"}')

    def do_POST(self):  # noqa: N802 - the http.server protocol
        url = urlsplit(self.path)
        params = {name: values[-1] for name, values in parse_qs(url.query).items()}
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        number = note(url.path, self.headers, body)
        fault = url.path.strip("/").split("/")[0]
        if "times" in params and number > int(params["times"]):
            fault = "ok"
        try:
            self.misbehave(fault, params, body, number)
        except (BrokenPipeError, ConnectionResetError):
            pass  # Machinery stopped listening, as it should for some faults

    def misbehave(self, fault: str, params: dict, body: dict, number: int) -> None:
        ok = json.dumps({"message": body.get("message"), "served": number}).encode()
        if fault == "ok":
            time.sleep(float(params.get("delay", 0)))
            self.answer(200, ok)
        elif fault == "slow":
            time.sleep(float(params.get("seconds", 5)))
            self.answer(200, ok)
        elif fault == "status":
            extra = {}
            if "retry_after" in params:
                extra["Retry-After"] = params["retry_after"]
            self.answer(int(params.get("code", 500)), b'{"message": "trouble"}', **extra)
        elif fault == "cut":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b'{"message": "cut sh')
            self.wfile.flush()
            self.close_now()
        elif fault == "drop":
            self.close_now()
        elif fault == "not-json":
            self.answer(200, b"<html><body>Service Unavailable</body></html>", type_="text/html")
        elif fault == "huge":
            self.stream_huge(int(params.get("mib", 32)))
        elif fault == "gzip-bomb":
            self.answer(200, bomb(int(params.get("mib", 64))), **{"Content-Encoding": "gzip"})
        elif fault == "wrong-types":
            self.answer(200, b'{"message": 42}')
        elif fault == "deep":
            depth = int(params.get("depth", 50000))
            self.answer(200, b'{"message": "deep", "nested": ' + b"[" * depth + b"]" * depth + b"}")
        elif fault == "raw":
            self.answer(200, params.get("body", "").encode())
        elif fault == "trickle":
            self.trickle(ok, float(params.get("every", 0.25)))
        elif fault == "callback":
            self.answer(202, b"{}")
            url = self.headers.get("X-Machinery-Callback-Url")
            result = {"message": str(body.get("message", "")).upper()}
            delay = float(params.get("delay", 0.2))
            threading.Thread(target=post_later, args=(url, result, delay), daemon=True).start()
        else:
            self.answer(404, b'{"message": "no such fault"}')

    def answer(self, status: int, body: bytes, type_="application/json", **headers) -> None:
        self.send_response(status)
        self.send_header("Content-Type", type_)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def stream_huge(self, mib: int) -> None:
        head, tail = b'{"message": "', b'"}'
        size = mib * MiB
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(head) + size + len(tail)))
        self.end_headers()
        self.wfile.write(head)
        chunk = b"x" * CHUNK
        for _ in range(size // CHUNK):
            self.wfile.write(chunk)
        self.wfile.write(tail)

    def trickle(self, body: bytes, every: float) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        for byte in body:
            time.sleep(every)
            self.wfile.write(bytes([byte]))

    def close_now(self) -> None:
        self.close_connection = True
        self.connection.shutdown(2)  # SHUT_RDWR: the peer sees the end at once

    def log_message(self, *args):
        pass


def post_later(url: str, result: dict, delay: float) -> None:
    """Post a callback service's result to its callback URL after `delay` seconds (and its
    heartbeats meanwhile, one a second), noting each answer's status under /callbacks."""
    deadline = time.monotonic() + delay
    while time.monotonic() < deadline:
        time.sleep(min(1.0, max(deadline - time.monotonic(), 0)))
        if time.monotonic() < deadline:
            _post(f"{url}/heartbeat", {}, "heartbeats")
    _post(url, result, "results")


def _post(url: str, body: dict, kind: str) -> None:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    with _lock:
        _seen.setdefault("/callbacks", {}).setdefault(kind, []).append(status)


class Server(ThreadingHTTPServer):
    daemon_threads = True


if __name__ == "__main__":
    server = Server(("127.0.0.1", int(os.environ["PORT"])), FakeService)
    server.serve_forever()
