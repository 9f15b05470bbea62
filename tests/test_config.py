"""The settings: read from the environment once, every bad one named with what it should be."""

import dataclasses
import os
import subprocess
import sys

import pytest

from machinery import create_app
from machinery.config import EXIT_BAD_SETTINGS, Settings, SettingsError, from_environment

DIGEST = "sha256:" + "ab" * 32


def test_unset_and_empty_variables_give_the_defaults():
    assert Settings.from_environment({}) == Settings()
    assert Settings.from_environment({"MACHINERY_READ_TIMEOUT": "", "MONGO_URI": " "}) == Settings()
    assert Settings().read_timeout == 30.0
    assert Settings().mongo_uri is None


def test_the_settings_are_typed():
    settings = Settings.from_environment(
        {
            "MONGO_URI": "mongodb://db.example:27017",
            "MONGO_TIMEOUT_MS": "2500",
            "MACHINERY_READ_TIMEOUT": "2.5",
            "MACHINERY_PAGE_SIZE": "100",
            "MACHINERY_IDEMPOTENCY_WAIT_S": "0",
            "MACHINERY_ALLOWED_HOSTS": " 10.0.0.0/8, *.svc.cluster.local ,",
            "MACHINERY_MANAGEMENT_KEYS": f"key-one,{DIGEST}",
        }
    )
    assert settings.mongo_uri == "mongodb://db.example:27017"
    assert settings.mongo_timeout_ms == 2500
    assert settings.read_timeout == 2.5
    assert settings.page_size == 100
    assert settings.idempotency_wait_s == 0
    assert settings.allowed_hosts == ("10.0.0.0/8", "*.svc.cluster.local")
    assert settings.management_keys == ("key-one", DIGEST)


def test_the_settings_cannot_be_changed():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().read_timeout = 1  # type: ignore[misc]


def test_the_app_config_keeps_its_keys():
    config = from_environment({"MACHINERY_MAX_BODY_BYTES": "2048", "MACHINERY_READ_TIMEOUT": "7"})
    assert config["MAX_CONTENT_LENGTH"] == 2048
    assert config["READ_TIMEOUT"] == 7.0
    assert config["MONGO_URI"] is None
    assert config["DATA_DIR"] == ".machinery"


@pytest.mark.parametrize(
    "variable, value, expected",
    [
        ("MACHINERY_READ_TIMEOUT", "30s", "a number of seconds greater than 0 (default 30)"),
        ("MACHINERY_CONNECT_TIMEOUT", "0", "a number of seconds greater than 0 (default 5)"),
        ("MACHINERY_CONNECT_TIMEOUT", "-1", "a number of seconds greater than 0"),
        ("MACHINERY_READ_TIMEOUT", "nan", "a number of seconds greater than 0"),
        ("MACHINERY_READ_TIMEOUT", "inf", "a number of seconds greater than 0"),
        ("MACHINERY_IDEMPOTENCY_WAIT_S", "-0.5", "a number of seconds (0 or more) (default 60)"),
        ("MONGO_TIMEOUT_MS", "5s", "a whole number greater than 0 (default 5000)"),
        ("MONGO_TIMEOUT_MS", "0", "a whole number greater than 0"),
        ("MACHINERY_MAX_BODY_BYTES", "1.5", "a whole number greater than 0 (default 1048576)"),
        ("MACHINERY_MAX_RESPONSE_BYTES", "1MiB", "a whole number greater than 0"),
        ("MACHINERY_MAX_EVENT_BYTES", "-1", "a whole number greater than 0"),
        ("MACHINERY_MAX_STEPS", "0", "a whole number greater than 0 (default 100)"),
        ("MACHINERY_MAX_FIELDS", "many", "a whole number greater than 0 (default 100)"),
        ("MACHINERY_PAGE_SIZE", "0", "a whole number from 1 to 100 (default 20)"),
        ("MACHINERY_PAGE_SIZE", "101", "a whole number from 1 to 100 (default 20)"),
        ("MONGO_URI", "localhost:27017", "a MongoDB URI, such as mongodb://127.0.0.1:27017"),
        ("MONGO_DB", "my.db", "a MongoDB database name"),
        ("MACHINERY_ALLOWED_HOSTS", "10.0.0.0/33", "host names, *.suffix patterns and CIDRs"),
        ("MACHINERY_DENIED_NETWORKS", "example.com", "'example.com' is not a CIDR"),
    ],
)
def test_a_bad_setting_is_named_with_its_value_and_what_is_expected(variable, value, expected):
    with pytest.raises(SettingsError) as raised:
        Settings.from_environment({variable: value})
    [(named, shown, expectation)] = raised.value.problems
    assert (named, shown) == (variable, repr(value))
    assert expectation.startswith("expected ") and expected in expectation
    assert f"{variable}={value!r}: {expectation}" in str(raised.value)


def test_every_bad_setting_is_named_at_once():
    with pytest.raises(SettingsError) as raised:
        Settings.from_environment(
            {"MACHINERY_READ_TIMEOUT": "30s", "MACHINERY_PAGE_SIZE": "0", "MONGO_DB": "machinery"}
        )
    assert [variable for variable, _, _ in raised.value.problems] == [
        "MACHINERY_READ_TIMEOUT",
        "MACHINERY_PAGE_SIZE",
    ]
    assert str(raised.value).startswith("Machinery cannot use 2 settings from the environment:")


@pytest.mark.parametrize("variable", ["MACHINERY_MANAGEMENT_KEYS", "MACHINERY_CONSUMER_KEYS"])
def test_a_bad_key_setting_is_named_but_never_shown(variable):
    secret = "a-secret-key"
    with pytest.raises(SettingsError) as raised:
        Settings.from_environment({variable: f"{secret},sha256:not-hex"})
    message = str(raised.value)
    assert f"{variable}=(not shown): expected " in message
    assert "entry 2" in message
    assert secret not in message and "not-hex" not in message


def test_a_bad_mongo_uri_is_shown_without_its_password():
    with pytest.raises(SettingsError) as raised:
        Settings.from_environment({"MONGO_URI": "mongo://user:s3cret@db:27017"})
    assert "MONGO_URI='mongo://user:****@db:27017': expected a MongoDB URI" in str(raised.value)
    assert "s3cret" not in str(raised.value)
    with pytest.raises(SettingsError) as raised:
        Settings.from_environment({"MONGO_URI": "mongodb://"})
    assert "MONGO_URI='mongodb://'" in str(raised.value)


def test_create_app_exits_with_the_message_and_no_traceback(monkeypatch, capsys):
    monkeypatch.setenv("MACHINERY_READ_TIMEOUT", "30s")
    with pytest.raises(SystemExit) as exited:
        create_app({"TESTING": True, "MONGO_URI": "mongodb://mongomock"})
    assert exited.value.code == EXIT_BAD_SETTINGS
    assert exited.value.__cause__ is None and exited.value.__suppress_context__
    error = capsys.readouterr().err
    assert "MACHINERY_READ_TIMEOUT='30s': expected a number of seconds greater than 0" in error


def test_the_settings_import_no_web_stack():
    # A worker or the command line reads the same settings without importing Flask.
    code = "import sys, machinery.config; print(sorted(m for m in sys.modules if 'flask' in m))"
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=environment_without_settings(),
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "[]"


def test_python_m_machinery_config_checks_the_environment():
    done = subprocess.run(
        [sys.executable, "-m", "machinery.config"],
        env={**environment_without_settings(), "MACHINERY_PAGE_SIZE": "500"},
        capture_output=True,
        text=True,
    )
    assert done.returncode == EXIT_BAD_SETTINGS
    assert "MACHINERY_PAGE_SIZE='500': expected a whole number from 1 to 100" in done.stderr
    assert "Traceback" not in done.stderr


def environment_without_settings() -> dict:
    return {k: v for k, v in os.environ.items() if not k.startswith(("MACHINERY_", "MONGO_"))}


def test_event_retention_is_a_number_of_days_or_forever():
    assert Settings().event_retention_days is None
    assert (
        Settings.from_environment({"MACHINERY_EVENT_RETENTION_DAYS": "30"}).event_retention_days
        == 30
    )
    assert from_environment({"MACHINERY_EVENT_RETENTION_DAYS": " 7 "})["EVENT_RETENTION_DAYS"] == 7
    assert from_environment({})["EVENT_RETENTION_DAYS"] is None


@pytest.mark.parametrize("value", ["0", "-1", "1.5", "30d", "forever", "24856"])
def test_a_bad_event_retention_says_what_it_takes(value):
    with pytest.raises(SettingsError) as raised:
        Settings.from_environment({"MACHINERY_EVENT_RETENTION_DAYS": value})
    [(variable, shown, expected)] = raised.value.problems
    assert (variable, shown) == ("MACHINERY_EVENT_RETENTION_DAYS", repr(value))
    assert "a whole number of days from 1 to 24855, or unset to keep events forever" in expected


def test_events_are_kept_at_least_as_long_as_their_webhooks_are_tried():
    environ = {"MACHINERY_EVENT_RETENTION_DAYS": "2", "MACHINERY_WEBHOOK_DEADLINE_S": "259200"}
    with pytest.raises(SettingsError) as raised:
        Settings.from_environment(environ)
    [(variable, _, expected)] = raised.value.problems
    assert variable == "MACHINERY_EVENT_RETENTION_DAYS"
    assert "MACHINERY_WEBHOOK_DEADLINE_S" in expected and "at least 3 days" in expected
    environ["MACHINERY_EVENT_RETENTION_DAYS"] = "3"
    assert Settings.from_environment(environ).event_retention_days == 3
    assert (
        Settings.from_environment({"MACHINERY_EVENT_RETENTION_DAYS": "1"}).event_retention_days == 1
    )


def test_the_operations_settings_are_read_and_checked():
    from machinery.config import Settings, SettingsError

    settings = Settings.from_environment(
        {
            "MACHINERY_LOG_FORMAT": "JSON",
            "MACHINERY_SECRETS_DIR": "/run/secrets",
            "MACHINERY_METRICS_PORT": "9100",
        }
    )
    assert settings.log_format == "json"
    assert settings.app_config()["SECRETS_DIR"] == "/run/secrets"
    assert settings.metrics_port == 9100 and settings.metrics_host == "127.0.0.1"
    try:
        Settings.from_environment({"MACHINERY_LOG_FORMAT": "xml", "MACHINERY_METRICS_PORT": "0"})
    except SettingsError as error:
        assert [p[0] for p in error.problems] == ["MACHINERY_METRICS_PORT", "MACHINERY_LOG_FORMAT"]
    else:
        raise AssertionError("bad settings were accepted")
