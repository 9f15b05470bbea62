"""Benchmark outbound JSON POST clients: wall time and client CPU per call against a local echo."""

import argparse
import asyncio
import http.client
import json
import multiprocessing
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

import requests
import urllib3

from machinery.engine.http import HttpCaller

HOST = "127.0.0.1"
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0
SERVER_START_SECONDS = 10.0
SERVER_STOP_SECONDS = 5.0
# 40 bytes once encoded as {"message": "..."}.
MESSAGE = "hello from the benchmark!"
HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
# A request to this path answers how many connections the server has accepted so far.
CONNECTIONS_PATH = "/connections"


# The echo server, run in its own process.


class _EchoServer:
    """A keep-alive HTTP/1.1 server answering each JSON POST with {"message": <its message>}.

    It reads requests with a Content-Length only (no chunked bodies), which is what every client
    measured here sends.
    """

    def __init__(self) -> None:
        self.connections = 0

    async def answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                request_line, *header_lines = head.split("\r\n")
                target = request_line.split(" ")[1]
                headers = {}
                for line in header_lines:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                status, answer = self._respond(target, body)
                data = json.dumps(answer).encode()
                writer.write(
                    b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s"
                    % (status, b"OK" if status == 200 else b"Bad Request", len(data), data)
                )
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass  # the client went away, or sent something this server does not read
        finally:
            writer.close()

    def _respond(self, target: str, body: bytes) -> tuple[int, dict]:
        if target == CONNECTIONS_PATH:
            return 200, {"connections": self.connections}
        try:
            return 200, {"message": json.loads(body)["message"]}
        except (ValueError, KeyError, TypeError) as error:
            return 400, {"error": f"expected a JSON object with a message: {error}"}


async def _serve(port_sender) -> None:
    echo = _EchoServer()
    server = await asyncio.start_server(echo.answer, HOST, 0)
    port_sender.send(server.sockets[0].getsockname()[1])
    port_sender.close()
    async with server:
        await server.serve_forever()


def run_echo_server(port_sender) -> None:
    """Serve until terminated; send the bound port through port_sender once listening."""
    try:
        asyncio.run(_serve(port_sender))
    except KeyboardInterrupt:
        pass  # Ctrl-C reaches the whole process group; the parent stops this process too


class EchoServerProcess:
    """Start the echo server in a separate process, so its CPU is not counted as the client's."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        receiver, sender = context.Pipe(duplex=False)
        self._process = context.Process(target=run_echo_server, args=(sender,), daemon=True)
        self._process.start()
        sender.close()
        try:
            if not receiver.poll(SERVER_START_SECONDS):
                raise RuntimeError(f"echo server did not start within {SERVER_START_SECONDS} s")
            self.port = receiver.recv()
        except EOFError:
            self.stop()
            raise RuntimeError("echo server exited before reporting its port") from None
        except BaseException:
            self.stop()
            raise
        finally:
            receiver.close()

    @property
    def pid(self) -> int:
        return self._process.pid

    def stop(self) -> None:
        self._process.terminate()
        self._process.join(SERVER_STOP_SECONDS)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(SERVER_STOP_SECONDS)


def count_connections(port: int) -> int:
    """Ask the server how many connections it has accepted (this request opens one more)."""
    connection = http.client.HTTPConnection(HOST, port, timeout=CONNECT_TIMEOUT)
    try:
        connection.request("POST", CONNECTIONS_PATH, b"{}", {"Connection": "close", **HEADERS})
        return json.loads(connection.getresponse().read())["connections"]
    finally:
        connection.close()


# The clients. Each makes a callable that POSTs the payload as JSON and returns the parsed answer.


def requests_session(url: str, trust_env: bool = True) -> tuple[Callable, Callable]:
    session = requests.Session()
    session.trust_env = trust_env
    timeout = (CONNECT_TIMEOUT, READ_TIMEOUT)

    def call(payload: dict) -> dict:
        response = session.post(url, json=payload, timeout=timeout, allow_redirects=False)
        response.raise_for_status()
        return response.json()

    return call, session.close


def urllib3_pool_manager(url: str) -> tuple[Callable, Callable]:
    pools = urllib3.PoolManager()
    timeout = urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT)

    def call(payload: dict) -> dict:
        response = pools.request(
            "POST",
            url,
            body=json.dumps(payload).encode(),
            headers=HEADERS,
            timeout=timeout,
            retries=False,
            redirect=False,
        )
        if response.status != 200:
            raise RuntimeError(f"answered HTTP {response.status}")
        return json.loads(response.data)

    return call, pools.clear


def http_client_connection(url: str) -> tuple[Callable, Callable]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=READ_TIMEOUT)

    def call(payload: dict) -> dict:
        connection.request("POST", parts.path, json.dumps(payload).encode(), HEADERS)
        response = connection.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"answered HTTP {response.status}")
        return json.loads(data)

    return call, connection.close


def machinery_http_caller(url: str) -> tuple[Callable, Callable]:
    caller = HttpCaller(connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT)

    def call(payload: dict) -> dict:
        return caller(url, payload)[1]

    return call, caller.close


CLIENTS = {
    "requests.Session": requests_session,
    "requests.Session (trust_env=False)": lambda url: requests_session(url, trust_env=False),
    "urllib3.PoolManager": urllib3_pool_manager,
    "http.client.HTTPConnection": http_client_connection,
    "machinery HttpCaller": machinery_http_caller,
}


# Measuring.


@dataclass
class Result:
    client: str
    calls: int
    wall_mean_us: float
    wall_p50_us: float
    wall_p99_us: float
    cpu_us_per_call: float
    user_us_per_call: float
    system_us_per_call: float
    connections: int


def _percentile(ordered: list[float], fraction: float) -> float:
    """The nearest-rank percentile of an ascending list."""
    return ordered[max(0, round(fraction * len(ordered)) - 1)]


def measure(name: str, make_client: Callable, port: int, calls: int, warmup: int) -> Result:
    """Warm the client up, then time each of `calls` POSTs and the process CPU they used."""
    url = f"http://{HOST}:{port}/echo"
    payload = {"message": MESSAGE}
    connections_before = count_connections(port)
    call, close = make_client(url)
    try:
        for _ in range(warmup):
            if call(payload) != payload:
                raise RuntimeError(f"{name} got an answer that is not the echo of its payload")
        walls = []
        usage_before = resource.getrusage(resource.RUSAGE_SELF)
        cpu_before = time.process_time()
        for _ in range(calls):
            started = time.perf_counter()
            answer = call(payload)
            walls.append(time.perf_counter() - started)
            if answer != payload:
                raise RuntimeError(f"{name} got an answer that is not the echo of its payload")
        cpu = time.process_time() - cpu_before
        usage_after = resource.getrusage(resource.RUSAGE_SELF)
    finally:
        close()
    # Minus the one opened by the count itself.
    connections = count_connections(port) - connections_before - 1
    walls.sort()
    micro = 1e6 / calls
    return Result(
        client=name,
        calls=calls,
        wall_mean_us=statistics.fmean(walls) * 1e6,
        wall_p50_us=_percentile(walls, 0.50) * 1e6,
        wall_p99_us=_percentile(walls, 0.99) * 1e6,
        cpu_us_per_call=cpu * micro,
        user_us_per_call=(usage_after.ru_utime - usage_before.ru_utime) * micro,
        system_us_per_call=(usage_after.ru_stime - usage_before.ru_stime) * micro,
        connections=connections,
    )


def describe_machine() -> dict:
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "requests": requests.__version__,
        "urllib3": urllib3.__version__,
    }


_COLUMNS = (
    # title, width, Result field, format
    ("client", 34, "client", "{}"),
    ("mean µs", 9, "wall_mean_us", "{:.1f}"),
    ("p50 µs", 9, "wall_p50_us", "{:.1f}"),
    ("p99 µs", 9, "wall_p99_us", "{:.1f}"),
    ("CPU µs/call", 12, "cpu_us_per_call", "{:.1f}"),
    ("user µs", 9, "user_us_per_call", "{:.1f}"),
    ("sys µs", 9, "system_us_per_call", "{:.1f}"),
    ("conns", 6, "connections", "{}"),
)


def format_table(results: list[Result]) -> str:
    def row(cells: list[str]) -> str:
        widths = [width for _, width, _, _ in _COLUMNS]
        return cells[0].ljust(widths[0]) + "".join(
            cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True)
        )

    lines = [row([title for title, _, _, _ in _COLUMNS])]
    for result in results:
        lines.append(
            row([pattern.format(getattr(result, field)) for _, _, field, pattern in _COLUMNS])
        )
    return "\n".join(lines)


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2000, help="measured calls per client")
    parser.add_argument("--warmup", type=int, default=200, help="unmeasured calls first")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    arguments = parser.parse_args(argv)
    if arguments.calls < 1 or arguments.warmup < 0:
        parser.error("--calls must be at least 1 and --warmup at least 0")
    return arguments


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    server = EchoServerProcess()
    try:
        results = [
            measure(name, make_client, server.port, arguments.calls, arguments.warmup)
            for name, make_client in CLIENTS.items()
        ]
    finally:
        server.stop()
    if arguments.json:
        report = {
            "machine": describe_machine(),
            "server": {"host": HOST, "port": server.port, "pid": server.pid},
            "calls": arguments.calls,
            "warmup": arguments.warmup,
            "payload_bytes": len(json.dumps({"message": MESSAGE}).encode()),
            "results": [asdict(result) for result in results],
        }
        print(json.dumps(report, indent=2))
    else:
        machine = describe_machine()
        print(
            f"Python {machine['python']} on {machine['platform']}, "
            f"{machine['cpus_usable']} usable CPUs; requests {machine['requests']}, "
            f"urllib3 {machine['urllib3']}"
        )
        print(
            f"echo server pid {server.pid} on {HOST}:{server.port}; "
            f"{arguments.warmup} warm-up + {arguments.calls} measured calls per client\n"
        )
        print(format_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
