"""Node-RED as a contender: installed on demand with npm outside the repository, and run with a
flow that does what the workflow process-text does.

The flow: `http in` (POST /e/process-text) → `http request` to upper → `http request` to reverse
→ `http request` to space-counter → `http response`, each request with connection keep-alive and
its answer parsed as JSON and passed on as the next request's body; two `change` nodes keep the
message beside space-counter's answer, so that the answer is the data merged as the direct-call
limit merges it: {"message": ..., "space_count": ...}.

Imports only the standard library (as processes.py).
"""

import http.client
import json
import os
import shutil
import subprocess
from pathlib import Path

from processes import HOST, Child, Children, Service, clean_environment, free_port

VERSION = "4"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "machinery-bench"
INSTALL_SECONDS = 300.0
PATH = "/e/process-text"


def install(folder: Path = CACHE / "node-red") -> Path:
    """The path of Node-RED's red.js, installed with npm into `folder` unless it is there."""
    red = folder / "node_modules" / "node-red" / "red.js"
    if red.exists():
        return red
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("Node-RED needs npm (Node.js 18 or newer) to be installed")
    folder.mkdir(parents=True, exist_ok=True)
    command = [npm, "install", "--no-audit", "--no-fund", "--omit=dev", "--prefix", str(folder)]
    subprocess.run(
        [*command, f"node-red@{VERSION}"],
        check=True,
        capture_output=True,
        timeout=INSTALL_SECONDS,
    )
    return red


def flow(services: list[Service]) -> list[dict]:
    """The flow: http in → upper → reverse → (keep the message) space-counter → http response."""
    upper, reverse, space_counter = services

    def request(node_id: str, service: Service, wires: str) -> dict:
        return {
            "id": f"call-{node_id}",
            "type": "http request",
            "z": "tab",
            "name": node_id,
            "method": "POST",
            "ret": "obj",
            "paytoqs": "ignore",
            "url": f"{service.url}/event",
            "persist": True,  # "Enable connection keep-alive"
            "headers": [],
            "wires": [[wires]],
        }

    def change(node_id: str, rule: dict, wires: str) -> dict:
        return {"id": node_id, "type": "change", "z": "tab", "rules": [rule], "wires": [[wires]]}

    keep = {"t": "set", "p": "message", "pt": "msg", "to": "payload.message", "tot": "msg"}
    merge = {"t": "set", "p": "payload.message", "pt": "msg", "to": "message", "tot": "msg"}
    return [
        {"id": "tab", "type": "tab", "label": "process-text"},
        {
            "id": "in",
            "type": "http in",
            "z": "tab",
            "url": PATH,
            "method": "post",
            "upload": False,
            "wires": [["call-upper"]],
        },
        request("upper", upper, "call-reverse"),
        request("reverse", reverse, "keep"),
        change("keep", keep, "call-space-counter"),
        request("space-counter", space_counter, "merge"),
        change("merge", merge, "out"),
        {"id": "out", "type": "http response", "z": "tab", "statusCode": "", "wires": []},
    ]


def serves_flow(port: int) -> bool:
    """Whether Node-RED runs the flow (it listens before the flow has started)."""
    connection = http.client.HTTPConnection(HOST, port, timeout=5)
    try:
        body = json.dumps({"message": "a b"}).encode()
        connection.request("POST", PATH, body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status == 200 and json.loads(response.read()) == {
            "message": "B A",
            "space_count": 1,
        }
    finally:
        connection.close()


def start(children: Children, log_dir: Path, services: list[Service]) -> tuple[Child, int]:
    """Node-RED with the flow, on a free port of 127.0.0.1, its user folder under `log_dir`."""
    red = install()
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("Node-RED needs Node.js")
    user_dir = log_dir / "node-red"
    user_dir.mkdir(parents=True, exist_ok=True)
    (user_dir / "flows.json").write_text(json.dumps(flow(services), indent=1))
    port = free_port()
    command = [node, str(red), "--userDir", str(user_dir), "--port", str(port), "flows.json"]
    child = children.start("node-red", command, clean_environment(), log_dir)
    child.wait_until(lambda: serves_flow(port))
    return child, port
