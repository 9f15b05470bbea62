"""Fault fixtures: the fake service, nx-27017 and Machinery under gunicorn, started once."""

import uuid

import pytest
from fault_processes import FakeService, Machinery, NxServer, WorkerProcess


@pytest.fixture(scope="session")
def fault_logs(tmp_path_factory):
    return tmp_path_factory.mktemp("fault-logs")


@pytest.fixture(scope="session")
def fake(fault_logs):
    service = FakeService(fault_logs)
    yield service
    service.process.stop()


@pytest.fixture(scope="session")
def nx(fault_logs, tmp_path_factory):
    server = NxServer(fault_logs, tmp_path_factory.mktemp("nx"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def machinery(fault_logs, nx):
    api = Machinery(fault_logs, nx.uri)
    yield api
    api.stop()


@pytest.fixture
def workers(fault_logs, nx, machinery):
    """Start workers on an API's database with workers(n, api, **settings); all are stopped
    after the test."""
    started: list[WorkerProcess] = []

    def start(concurrency: int = 4, api: Machinery = machinery, **env) -> WorkerProcess:
        env = {"MACHINERY_PUBLIC_URL": api.url, **env}
        worker = WorkerProcess(fault_logs, nx.uri, api.db_name, concurrency, **env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def tag():
    """A name no other test uses, for services, workflows and fake service paths."""
    return uuid.uuid4().hex[:8]
