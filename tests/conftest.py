"""Fixtures: an app on mongomock with scripted services, and its test client."""

import pytest
from factories import ScriptedServices, build_app


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
