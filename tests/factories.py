"""Test data: service and workflow definitions, and the example ones registered through the API."""

import functools
import threading

import mongomock

from machinery import create_app
from machinery.engine.executor import StepFailed

# mongomock is not thread-safe (a write while another thread copies the same document raises
# "dictionary changed size during iteration"); MongoDB and pymongo are. Its collections' commands
# are made one at a time here, so that a map's threads and the lease renewals can share it.
_MONGOMOCK = threading.RLock()


def _one_at_a_time(method):
    @functools.wraps(method)
    def locked(*args, **kwargs):
        with _MONGOMOCK:
            return method(*args, **kwargs)

    return locked


for _name in (
    "insert_one",
    "insert_many",
    "update_one",
    "update_many",
    "replace_one",
    "delete_one",
    "delete_many",
    "find_one",
    "find_one_and_update",
    "find_one_and_replace",
    "find_one_and_delete",
    "count_documents",
    "bulk_write",
):
    setattr(
        mongomock.collection.Collection,
        _name,
        _one_at_a_time(getattr(mongomock.collection.Collection, _name)),
    )

SEED_MESSAGE = "The Sun will rise in the morning !"
SEED_OUTPUTS = {"message": "! GNINROM EHT NI ESIR LLIW NUS EHT", "space_count": 7}


def field(name, type_="string", **extra):
    return {"name": name, "type": type_, **extra}


def service(name="upper", address=None, inputs=None, outputs=None):
    return {
        "name": name,
        "address": address or f"http://{name}.example:5000/event",
        "inputs": [field("message")] if inputs is None else inputs,
        "outputs": [field("message")] if outputs is None else outputs,
    }


def workflow(name="process-text", services=("upper",), inputs=None, outputs=None, **extra):
    return {
        "name": name,
        "services": list(services),
        "inputs": [field("message")] if inputs is None else inputs,
        "outputs": [] if outputs is None else outputs,
        "operations": [],
        **extra,
    }


EXAMPLE_SERVICES = {
    "upper": (lambda p: {"message": p["message"].upper()}, [field("message")]),
    "reverse": (lambda p: {"message": p["message"][::-1]}, [field("message")]),
    "space-counter": (
        lambda p: {"space_count": p["message"].count(" ")},
        [field("space_count", "int")],
    ),
}


def register_example(client, scripted):
    """Register upper, reverse, space-counter and process-text, and script their answers."""
    for name, (transform, outputs) in EXAMPLE_SERVICES.items():
        definition = service(name, outputs=outputs)
        scripted.answer(definition["address"], transform)
        assert client.post("/s", json=definition).status_code == 201
    definition = workflow(
        services=list(EXAMPLE_SERVICES),
        outputs=[field("message"), field("space_count", "int")],
    )
    response = client.post("/w", json=definition)
    assert response.status_code == 201, response.json
    return response.json


def failing(kind, message="it failed", status_code=None):
    def handler(payload):
        raise StepFailed(kind, message, status_code)

    return handler


def build_app(services=None, **config):
    """A Machinery app on mongomock, open (whatever keys the environment configures), calling
    `services` instead of real addresses when given."""
    app = create_app(
        {
            "TESTING": True,
            "MONGO_URI": "mongodb://mongomock",
            "MONGO_CLIENT_FACTORY": mongomock.MongoClient,
            "MAX_CONTENT_LENGTH": 64 * 1024,
            "MANAGEMENT_KEYS": [],
            "CONSUMER_KEYS": [],
            **config,
        }
    )
    if services is not None:
        app.extensions["machinery.runtime"].caller = services
    return app


class ScriptedServices:
    """Stands in for the HTTP caller: each address answers what a test scripted for it."""

    def __init__(self):
        self.handlers = {}
        self.calls = []
        self.options = []

    def answer(self, address, handler):
        """Make the address answer handler(payload): a dict, or raise StepFailed."""
        self.handlers[address] = handler

    def __call__(self, address, payload, options=None):
        self.calls.append((address, payload))
        self.options.append(options)
        handler = self.handlers.get(address)
        if handler is None:
            raise StepFailed("connection_error", f"could not connect to {address}")
        return 200, handler(payload)
