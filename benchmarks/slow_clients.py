"""Measure whether Machinery under gunicorn keeps answering /healthcheck while clients trickle."""

import argparse
import http.client
import os
import select
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
START_SECONDS = 60.0
STOP_SECONDS = 20.0
# Bounds on what one run may do, whatever the arguments say.
MAX_CONNECTIONS = 200
MAX_SECONDS = 60.0
MAX_PROBES = 1000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def healthcheck(port: int, timeout: float) -> float | None:
    """Seconds /healthcheck took to answer 204, or None when it did not within the timeout."""
    started = time.monotonic()
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request("GET", "/healthcheck")
        if connection.getresponse().status != 204:
            return None
        return time.monotonic() - started
    except OSError:
        return None
    finally:
        connection.close()


def start_gunicorn(port: int, data_dir: Path, log, settings: dict) -> subprocess.Popen:
    """Machinery under gunicorn with the repository's gunicorn.conf.py and the embedded store."""
    own = ("MACHINERY_", "MONGO_", "GUNICORN_", "WEB_CONCURRENCY")
    env = {name: value for name, value in os.environ.items() if not name.startswith(own)}
    env.update(HOST=HOST, PORT=str(port), MACHINERY_DATA_DIR=str(data_dir), **settings)
    popen = subprocess.Popen(
        [str(BIN / "gunicorn"), "machinery:create_app()"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + START_SECONDS
    while healthcheck(port, 1.0) is None:
        if popen.poll() is not None or time.monotonic() > deadline:
            popen.kill()
            popen.wait()
            log.flush()
            output = Path(log.name).read_text(errors="replace")[-3000:]
            raise RuntimeError(f"gunicorn did not start:\n{output}")
        time.sleep(0.2)
    return popen


def trickle(port: int, part: str, interval: float, until: float, stop: threading.Event) -> int:
    """Send POSTs' headers (part "headers") or bodies (part "body") a byte at a time, one
    connection after the other until `until`; answer how many connections the server cut off."""
    head = f"POST /s HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
    head += "Content-Length: 100000\r\n"
    cut_off = 0
    while time.monotonic() < until and not stop.is_set():
        try:
            sock = socket.create_connection((HOST, port), timeout=5)
        except OSError:
            return cut_off
        try:
            sock.sendall((head + "\r\n").encode() if part == "body" else head.encode())
            piece = b" " if part == "body" else b"X"
            while time.monotonic() < until and not stop.wait(interval):
                sock.sendall(piece)
                if select.select([sock], [], [], 0)[0]:
                    break  # answered (408) or closed: the server gave up on this connection
            else:
                return cut_off
            cut_off += 1
        except OSError:
            cut_off += 1
        finally:
            sock.close()
    return cut_off


def measure(args) -> dict:
    port = free_port()
    settings = dict(setting.split("=", 1) for setting in args.env)
    with tempfile.TemporaryDirectory() as tmp, open(Path(tmp) / "gunicorn.log", "wb") as log:
        server = start_gunicorn(port, Path(tmp) / "data", log, settings)
        stop = threading.Event()
        until = time.monotonic() + args.seconds
        cut_offs: list[int] = []
        tricklers = [
            threading.Thread(
                target=lambda: cut_offs.append(
                    trickle(port, args.part, args.interval, until, stop)
                ),
                daemon=True,
            )
            for _ in range(args.connections)
        ]
        latencies: list[float | None] = []
        try:
            for thread in tricklers:
                thread.start()
            time.sleep(1.0)  # let every trickling connection reach a worker
            while time.monotonic() < until and len(latencies) < MAX_PROBES:
                latencies.append(healthcheck(port, args.probe_timeout))
                time.sleep(0.2)
        finally:
            stop.set()
            for thread in tricklers:
                if thread.is_alive():
                    thread.join(timeout=args.interval + 6)
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    answered = [latency for latency in latencies if latency is not None]
    return {
        "probes": len(latencies),
        "answered": len(answered),
        "timed_out": len(latencies) - len(answered),
        "p50_ms": round(statistics.median(answered) * 1000, 1) if answered else None,
        "max_ms": round(max(answered) * 1000, 1) if answered else None,
        "cut_off": sum(cut_offs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--connections", type=int, default=24)
    parser.add_argument("--part", choices=("body", "headers"), default="body")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between bytes")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--probe-timeout", type=float, default=2.0)
    parser.add_argument(
        "--env", action="append", default=[], help="NAME=VALUE for gunicorn, e.g. WEB_CONCURRENCY=2"
    )
    args = parser.parse_args()
    args.connections = min(args.connections, MAX_CONNECTIONS)
    args.seconds = min(args.seconds, MAX_SECONDS)
    result = measure(args)
    print(
        f"{args.connections} connections trickling their {args.part} for {args.seconds:g} s, "
        f"{' '.join(args.env) or 'default settings'}: /healthcheck answered {result['answered']} "
        f"of {result['probes']} probes within {args.probe_timeout:g} s "
        f"(p50 {result['p50_ms']} ms, max {result['max_ms']} ms); "
        f"{result['cut_off']} trickling connections cut off by the server"
    )


if __name__ == "__main__":
    main()
