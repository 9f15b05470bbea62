"""machinery-cli: which database each command opens, what it refuses, and what it leaves alone."""

import functools
import json
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import mongomock
import pytest
from click.testing import CliRunner

from machinery import cli, states
from machinery.store import open_store

MACHINERY_CLI = str(Path(sys.executable).parent / "machinery-cli")
UNSET = {"MONGO_URI": None, "MONGO_DB": None, "MACHINERY_DATA_DIR": None}


def run(*args, **env):
    """machinery-cli in this process, with the database settings of the test only."""
    return CliRunner().invoke(cli.cli, args, env={**UNSET, **env}, catch_exceptions=False)


@pytest.fixture
def mongodb(monkeypatch):
    """One mongomock server standing in for the MongoDB at any MONGO_URI, across commands."""
    server = mongomock.MongoClient(tz_aware=True)
    factory = functools.partial(open_store, client_factory=lambda *args, **kwargs: server)
    monkeypatch.setattr(cli, "open_store", factory)
    return server


def test_the_help_lists_every_command():
    result = run("--help")
    assert result.exit_code == 0
    for command in ("apply", "init-db", "interrupt-stale", "routes"):
        assert command in result.output


@pytest.mark.parametrize("args", [["--help"], ["routes"]], ids=["help", "routes"])
def test_commands_that_need_no_database_start_none_and_create_nothing(tmp_path, args):
    environment = {k: v for k, v in os.environ.items() if k not in UNSET}
    done = subprocess.run(
        [MACHINERY_CLI, *args], cwd=tmp_path, env=environment, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert list(tmp_path.iterdir()) == []
    assert "Database:" not in done.stderr
    if args == ["routes"]:
        assert "/healthcheck" in done.stdout and "/e/<" in done.stdout


def test_apply_opens_no_database(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "service.json").write_text(json.dumps({"name": "upper", "address": "http://x"}))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    result = run("apply", "--url", f"http://127.0.0.1:{closed}", "service.json")
    assert result.exit_code == 1
    assert "Cannot reach Machinery" in result.output
    assert [path.name for path in tmp_path.iterdir()] == ["service.json"]


@pytest.mark.parametrize("exists", [False, True], ids=["missing", "empty"])
def test_interrupt_stale_refuses_a_data_directory_without_machinery_data(tmp_path, exists):
    data_dir = tmp_path / "elsewhere"
    if exists:
        data_dir.mkdir()
    result = run("interrupt-stale", MACHINERY_DATA_DIR=str(data_dir))
    assert result.exit_code == 1
    assert f"Database: the embedded store in {data_dir} (MACHINERY_DATA_DIR)" in result.stderr
    assert f"Error: {data_dir} holds no Machinery data." in result.stderr
    assert "machinery-cli init-db" in result.stderr
    assert "marked interrupted" not in result.output
    assert list(tmp_path.iterdir()) == ([data_dir] if exists else [])
    if exists:
        assert list(data_dir.iterdir()) == []


def test_init_db_makes_the_embedded_store_that_interrupt_stale_then_uses(tmp_path):
    data_dir = tmp_path / "data"
    created = run("init-db", MACHINERY_DATA_DIR=str(data_dir))
    assert created.exit_code == 0, created.output
    assert f"Database: the embedded store in {data_dir} (MACHINERY_DATA_DIR)" in created.stderr
    assert "index services.name_1" in created.stdout
    swept = run("interrupt-stale", MACHINERY_DATA_DIR=str(data_dir))
    assert swept.exit_code == 0, swept.output
    assert f"the embedded store in {data_dir}" in swept.stderr
    assert swept.stdout == "0 events marked interrupted\n"
    # The server each command started stopped with it.
    assert not (data_dir / "embedded-store.json").exists()


def test_the_database_is_named_without_its_password(mongodb):
    uri = "mongodb://machinery:s3cret@db.example:27017/?authSource=admin"
    for command in ("init-db", "interrupt-stale"):
        result = run(command, MONGO_URI=uri, MONGO_DB="orders")
        assert result.exit_code == 0, result.output
        assert (
            "Database: MongoDB mongodb://machinery:****@db.example:27017/?authSource=admin, "
            "database 'orders'" in result.stderr
        )
        assert "s3cret" not in result.output


def test_interrupt_stale_refuses_a_database_machinery_never_used(mongodb):
    result = run("interrupt-stale", MONGO_URI="mongodb://db.example", MONGO_DB="typo")
    assert result.exit_code == 1
    assert "The database 'typo' holds no Machinery data." in result.stderr
    assert mongodb.list_database_names() == []


def test_interrupt_stale_marks_the_events_running_too_long(mongodb):
    assert run("init-db", MONGO_URI="mongodb://db.example").exit_code == 0
    events = mongodb.machinery.events
    long_ago = datetime.now(UTC) - timedelta(minutes=5)
    stale = events.insert_one({"status": states.RUNNING, "acked_at": long_ago}).inserted_id
    fresh = events.insert_one({"status": states.RUNNING, "acked_at": datetime.now(UTC)})
    result = run("interrupt-stale", "--older-than", "60", MONGO_URI="mongodb://db.example")
    assert result.exit_code == 0, result.output
    assert result.stdout == "1 event marked interrupted\n"
    assert events.find_one(stale)["status"] == states.FAILED
    assert events.find_one(stale)["error"]["kind"] == states.INTERRUPTED
    assert events.find_one(fresh.inserted_id)["status"] == states.RUNNING


@pytest.mark.parametrize("command", ["init-db", "interrupt-stale", "routes"])
def test_a_bad_setting_is_reported_without_a_traceback(tmp_path, command):
    result = CliRunner().invoke(
        cli.cli, [command], env={**UNSET, "MACHINERY_READ_TIMEOUT": "30s", "MONGO_DB": "a.b"}
    )
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit)
    assert "MACHINERY_READ_TIMEOUT='30s': expected a number of seconds" in result.stderr
    assert "MONGO_DB='a.b': expected a MongoDB database name" in result.stderr
    assert "Database:" not in result.stderr


@pytest.mark.parametrize(
    "text, environment, expanded",
    [
        ("${UPSTREAM}", {"UPSTREAM": "http://up"}, "http://up"),
        ("${UPSTREAM}", {"UPSTREAM": ""}, ""),
        ("${UPSTREAM:-http://default}", {}, "http://default"),
        ("${UPSTREAM:-http://default}", {"UPSTREAM": ""}, "http://default"),
        ("${UPSTREAM:-http://default}", {"UPSTREAM": "http://up"}, "http://up"),
        ("${UPSTREAM:-}", {}, ""),
    ],
)
def test_variables_expand_as_in_the_shell(tmp_path, monkeypatch, text, environment, expanded):
    monkeypatch.delenv("UPSTREAM", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    path = tmp_path / "service.json"
    path.write_text(json.dumps({"name": "upper", "address": text}))
    assert cli.load_definition(str(path))["address"] == expanded


def test_apply_refuses_a_file_naming_an_unset_variable(tmp_path, monkeypatch):
    def no_session():
        raise AssertionError("nothing is sent when a file cannot be read")

    monkeypatch.setattr(cli.requests, "Session", no_session)
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"name": "lower", "address": "http://lower"}))
    bad = tmp_path / "upper.json"
    bad.write_text('{"name": "upper", "address": "${UPPER_HOST}:${UPPER_PORT}/${UPPER_HOST}"}')
    result = CliRunner().invoke(
        cli.cli, ["apply", str(good), str(bad)], env={"UPPER_HOST": None, "UPPER_PORT": None}
    )
    assert result.exit_code == 1
    assert f"{bad}: not set in the environment: UPPER_HOST, UPPER_PORT" in result.stderr


@pytest.mark.parametrize(
    "imported, absent",
    [("machinery.cli", "machinery.app"), ("machinery.app", "machinery.cli")],
)
def test_the_app_and_the_command_line_do_not_import_each_other(imported, absent):
    code = f"import sys, {imported}; print({absent!r} in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
