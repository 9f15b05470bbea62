"""What the browser tests share: the constants, the services this process plays, the seed data
and screenshots."""

import shutil
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests
from pymongo import MongoClient

EXAMPLES = {"upper": "UPPER_URL", "reverse": "REVERSE_URL", "space_counter": "SPACE_COUNTER_URL"}
SEED = {"message": "The Sun will rise in the morning !"}
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
# Markup in a service's name and a field's description: shown as text, never run.
PROBE_NAME = '<img src=x onerror="window.probed=1;document.title=1">'
PROBE_TEXT = '<script>window.probed = 1; alert("probe")</script>'
DESKTOP = (1280, 800)
PHONE = (390, 844)


class PlayedServices:
    """Services answered by this process: `gate` answers once the test opens the gate; `broken`
    answers 500."""

    def __init__(self):
        self.gate = threading.Event()
        played = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if self.path == "/broken":
                    self._answer(500, b'{"error": "out of order"}')
                    return
                played.gate.wait(60)
                self._answer(200, body)

            def _answer(self, status, body):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.gate.set()
        self.server.shutdown()
        self.server.server_close()


def post(url: str, path: str, body: dict) -> requests.Response:
    response = requests.post(f"{url}{path}", json=body, timeout=30)
    assert response.status_code < 300 or path.startswith("/e/"), response.text
    return response


def seed(url: str, examples: dict, played: PlayedServices) -> None:
    message = [{"name": "message", "type": "string", "description": PROBE_TEXT}]
    for name, variable in (("upper", "UPPER_URL"), ("reverse", "REVERSE_URL")):
        post(url, "/s", service(name, f"{examples[variable]}/event"))
    counter = service("space-counter", f"{examples['SPACE_COUNTER_URL']}/event")
    counter["outputs"] = [{"name": "space_count", "type": "int"}]
    post(url, "/s", counter)
    post(url, "/s", {**service("gate", f"{played.url}/gate"), "inputs": message})
    post(url, "/s", service("broken", f"{played.url}/broken"))
    outputs = [{"name": "message", "type": "string"}, {"name": "space_count", "type": "int"}]
    post(url, "/w", workflow("process-text", ["upper", "reverse", "space-counter"], outputs))
    post(url, "/w", workflow("slow-text", ["upper", "gate", "reverse"]))
    post(url, "/w", workflow("fragile-text", ["upper", "broken"]))
    assert post(url, "/e/process-text", SEED).status_code == 201
    assert post(url, "/e/fragile-text", SEED).status_code == 502


def service(name: str, address: str) -> dict:
    field = [{"name": "message", "type": "string"}]
    return {"name": name, "address": address, "inputs": field, "outputs": field}


def workflow(name: str, services: list, outputs=None) -> dict:
    return {
        "name": name,
        "services": services,
        "inputs": [{"name": "message", "type": "string", "description": "The text to transform"}],
        "outputs": outputs or [{"name": "message", "type": "string"}],
    }


def probe(uri: str, db_name: str) -> None:
    """A service whose name is markup, written to the store directly (the API refuses such
    names, but the console must not trust what it reads)."""
    client = MongoClient(uri, tz_aware=True)
    now = datetime.now(UTC)
    client[db_name].services.insert_one(
        {
            "name": PROBE_NAME,
            "address": "http://probe.example/event",
            "inputs": [{"name": "message", "type": "string", "description": PROBE_TEXT}],
            "outputs": [],
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
    )
    client.close()


def screenshot(driver, folder: Path, name: str) -> Path:
    path = folder / f"{name}.png"
    driver.save_screenshot(str(path))
    return path
