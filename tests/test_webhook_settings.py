"""The webhook settings: secrets (several while rotating, never shown), deadline and first retry."""

import pytest

from machinery.config import Settings, SettingsError, from_environment
from machinery.runtime import WebhookPolicy, build_runtime

SECRET = "whsec-0123456789abcdef"
NEW_SECRET = "whsec-fedcba9876543210"


def test_by_default_there_is_no_secret_a_day_to_deliver_and_5_s_before_the_first_retry():
    settings = Settings.from_environment({})
    assert settings.webhook_secrets == ()
    assert settings.webhook_deadline_s == 24 * 3600
    assert settings.webhook_retry_s == 5.0


def test_several_secrets_are_read_for_rotation():
    settings = Settings.from_environment(
        {
            "MACHINERY_WEBHOOK_SECRETS": f" {NEW_SECRET} , {SECRET},",
            "MACHINERY_WEBHOOK_DEADLINE_S": "600",
            "MACHINERY_WEBHOOK_RETRY_S": "0.5",
        }
    )
    assert settings.webhook_secrets == (NEW_SECRET, SECRET)
    assert settings.webhook_deadline_s == 600.0
    assert settings.webhook_retry_s == 0.5
    config = settings.app_config()
    assert config["WEBHOOK_SECRETS"] == [NEW_SECRET, SECRET]
    assert (config["WEBHOOK_DEADLINE_S"], config["WEBHOOK_RETRY_S"]) == (600.0, 0.5)


@pytest.mark.parametrize(
    "value",
    [f"{SECRET},short", "tooshort", f"{SECRET},with a space inside it"],
)
def test_a_weak_secret_is_refused_naming_its_position_never_its_value(value):
    with pytest.raises(SettingsError) as raised:
        Settings.from_environment({"MACHINERY_WEBHOOK_SECRETS": value})
    message = str(raised.value)
    assert (
        "MACHINERY_WEBHOOK_SECRETS=(not shown): expected comma-separated secrets of at " in message
    )
    assert "least 16 characters each" in message
    assert f"entry {len(value.split(','))} is not" in message
    for part in value.split(","):
        assert part not in message


@pytest.mark.parametrize(
    "variable, value, expected",
    [
        ("MACHINERY_WEBHOOK_DEADLINE_S", "0", "greater than 0, at most 604800 (default 86400)"),
        ("MACHINERY_WEBHOOK_DEADLINE_S", "1d", "a number of seconds greater than 0"),
        ("MACHINERY_WEBHOOK_DEADLINE_S", "604801", "at most 604800"),
        ("MACHINERY_WEBHOOK_DEADLINE_S", "inf", "at most 604800"),
        ("MACHINERY_WEBHOOK_RETRY_S", "-1", "greater than 0, at most 3600 (default 5)"),
        ("MACHINERY_WEBHOOK_RETRY_S", "7200", "at most 3600"),
    ],
)
def test_a_bad_deadline_or_retry_is_named_with_what_is_expected(variable, value, expected):
    with pytest.raises(SettingsError) as raised:
        Settings.from_environment({variable: value})
    assert f"{variable}={value!r}: expected " in str(raised.value)
    assert expected in str(raised.value)


def test_secrets_are_not_shown_where_settings_or_the_runtime_are_printed():
    settings = Settings.from_environment({"MACHINERY_WEBHOOK_SECRETS": SECRET})
    assert SECRET not in repr(settings)
    config = from_environment({"MACHINERY_WEBHOOK_SECRETS": SECRET, "MONGO_URI": ""})
    runtime = build_runtime(config, store=None)
    assert runtime.webhooks.secrets == (SECRET,)
    assert SECRET not in repr(runtime) and SECRET not in repr(runtime.webhooks)


def test_a_claimed_delivery_is_held_longer_than_an_attempt_can_take():
    config = from_environment({"MACHINERY_CONNECT_TIMEOUT": "2", "MACHINERY_READ_TIMEOUT": "10"})
    policy = build_runtime(config, store=None).webhooks
    # Connecting, then the read timeout for the head and again for the body, and some slack.
    assert policy.lease_s > 2 + 10 + 10
    assert WebhookPolicy().deadline_s == Settings().webhook_deadline_s
