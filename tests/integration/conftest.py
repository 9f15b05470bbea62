"""Integration fixtures: nx-27017, the example services and Machinery under gunicorn, for real."""

import uuid

import pytest
from processes import start_api, start_example, start_mongo
from pymongo import MongoClient

EXAMPLES = {"upper": "UPPER_URL", "reverse": "REVERSE_URL", "space_counter": "SPACE_COUNTER_URL"}


def pytest_collection_modifyitems(items):
    for item in items:
        if "integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def logs(tmp_path_factory):
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="session")
def mongo_uri(logs, tmp_path_factory):
    process, uri = start_mongo(logs, tmp_path_factory.mktemp("mongo"))
    yield uri
    process.stop()


@pytest.fixture(scope="session")
def example_urls(logs):
    started = {name: start_example(name, logs) for name in EXAMPLES}
    yield {EXAMPLES[name]: url for name, (_, url) in started.items()}
    for process, _ in started.values():
        process.stop()


@pytest.fixture(scope="session")
def db_name():
    return f"machinery_{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def api_url(logs, mongo_uri, db_name):
    env = {"MONGO_URI": mongo_uri, "MONGO_DB": db_name, "MACHINERY_READ_TIMEOUT": "1"}
    process, url = start_api(logs, env)
    yield url
    process.stop()


@pytest.fixture(scope="session")
def db(mongo_uri, db_name):
    client = MongoClient(mongo_uri, tz_aware=True)
    yield client[db_name]
    client.close()
