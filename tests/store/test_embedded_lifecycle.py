"""The embedded store: started once per data directory, found again by other processes."""

import json
import os

import pytest
from pymongo import MongoClient

from machinery.store.embedded import EmbeddedStore


@pytest.fixture
def started(tmp_path):
    store = EmbeddedStore(tmp_path)
    store.start()
    yield store
    store.stop()


def test_start_runs_a_server_that_keeps_data_in_the_directory(started, tmp_path):
    client = MongoClient(started.uri, serverSelectionTimeoutMS=5000)
    client.machinery.things.insert_one({"name": "kept"})
    client.close()
    assert started.owned
    assert any((tmp_path / "db").iterdir())


def test_a_second_user_of_the_directory_finds_the_running_server(started, tmp_path):
    other = EmbeddedStore(tmp_path)
    assert other.start() == started.uri
    assert not other.owned
    other.stop()  # not its server: stopping it leaves the server running
    client = MongoClient(started.uri, serverSelectionTimeoutMS=5000)
    assert client.admin.command("ping")["ok"] == 1
    client.close()


def test_stop_ends_the_server_and_forgets_it(tmp_path):
    store = EmbeddedStore(tmp_path)
    store.start()
    pid = json.loads((tmp_path / "embedded-store.json").read_text())["pid"]
    store.stop()
    assert not (tmp_path / "embedded-store.json").exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_stale_state_file_is_replaced(tmp_path):
    (tmp_path / "embedded-store.json").write_text(json.dumps({"port": 9, "pid": 999999}))
    store = EmbeddedStore(tmp_path)
    try:
        uri = store.start()
        assert store.owned
        assert uri != "mongodb://127.0.0.1:9"
    finally:
        store.stop()
