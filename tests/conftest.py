"""Fixtures: an app on mongomock with scripted services, and its test client."""

import pytest
from factories import build_app

from machinery.engine.executor import StepFailed


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


@pytest.fixture
def services():
    return ScriptedServices()


@pytest.fixture
def app(services):
    app = build_app(services)
    yield app
    app.extensions["machinery.store"].connection.close()


@pytest.fixture
def client(app):
    return app.test_client()
