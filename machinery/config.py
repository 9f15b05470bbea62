"""Machinery's settings: read from the environment once, checked, into one typed object.

No web stack is imported here: the API, the command line and anything else that runs Machinery
read their settings the same way. `python -m machinery.config` checks the environment's settings.
"""

import hashlib
import math
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from urllib.parse import urlsplit

from machinery.engine.addresses import AddressPolicy

MiB = 1024 * 1024

# The limits on page_size and page in listings (so that offsets stay well within 64 bits).
MAX_PAGE_SIZE = 100
MAX_PAGE = 1_000_000

# The exit status of an entry point given a bad setting. A gunicorn worker that exits with 3
# ("worker failed to boot") makes gunicorn stop, instead of starting that worker again and again.
EXIT_BAD_SETTINGS = 3

# Settings whose values are never shown, in an error or anywhere else.
SECRET_VARIABLES = frozenset(
    {
        "MACHINERY_MANAGEMENT_KEYS",
        "MACHINERY_CONSUMER_KEYS",
        "MACHINERY_WEBHOOK_SECRETS",
        "MACHINERY_CALLBACK_SECRETS",
        "MACHINERY_CONSOLE_SECRETS",
    }
)

# Webhooks: how long a delivery is tried by default, and the longest a deployment may ask for.
WEBHOOK_DEADLINE_S = 24 * 3600.0
MAX_WEBHOOK_DEADLINE_S = 7 * 24 * 3600.0
# The shortest signing secret accepted (webhooks, callback URLs): HMAC keys are guessed offline
# from anything they signed.
MIN_SECRET = 16
# How long a callback service's step waits for its result when the step sets no read timeout.
CALLBACK_TIMEOUT_S = 3600.0
# Event retention, in days: the longest is what MongoDB's TTL indexes take (2^31 - 1 seconds).
DAY_S = 24 * 3600
MAX_RETENTION_DAYS = (2**31 - 1) // DAY_S

_DIGEST_PREFIX = "sha256:"


class SettingsError(ValueError):
    """The settings Machinery cannot use, every one of them: (variable, value shown, expected)."""

    def __init__(self, problems: list[tuple[str, str, str]]):
        self.problems = problems
        lines = [f"  {variable}={value}: {expected}" for variable, value, expected in problems]
        count = f"{len(problems)} setting{'s' if len(problems) != 1 else ''}"
        super().__init__(f"Machinery cannot use {count} from the environment:\n" + "\n".join(lines))


@dataclass(frozen=True)
class Settings:
    """Everything Machinery reads from the environment, checked; the defaults are below."""

    mongo_uri: str | None = None  # None: the embedded store under data_dir
    mongo_db: str = "machinery"
    mongo_timeout_ms: int = 5000
    data_dir: str = ".machinery"
    max_body_bytes: int = MiB
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    max_response_bytes: int = MiB
    page_size: int = 20
    # Which service addresses may be called (see machinery/engine/addresses.py): host names,
    # *.suffix patterns and CIDRs; none: all but the always-refused ranges.
    allowed_hosts: tuple[str, ...] = ()
    denied_networks: tuple[str, ...] = ()
    # Limits on definitions and events, each refused with a 4xx past it.
    max_event_bytes: int = 512 * 1024
    max_steps: int = 100
    max_fields: int = 100
    # Control flow (see docs/workflows.md#limits).
    max_nesting: int = 8
    max_branches: int = 32
    max_concurrency: int = 64
    max_map_items: int = 10_000
    max_wait_s: float = 366 * DAY_S
    # How long a repeated request (same Idempotency-Key) waits for the original to finish.
    idempotency_wait_s: float = 60.0
    # API keys (see machinery/auth.py): plain keys or "sha256:<hex digest>" entries.
    management_keys: tuple[str, ...] = ()
    consumer_keys: tuple[str, ...] = ()
    # How long a process holds an event it runs before another may take it over (renewed every
    # third of it while the event runs): an event cut off by a crash resumes within about this.
    lease_s: float = 30.0
    # Threads of a worker process (`machinery-cli worker`), and its longest wait between polls.
    worker_concurrency: int = 4
    worker_poll_s: float = 0.5
    # Webhooks (see machinery/signatures.py): the secrets signing them, several while rotating
    # (never shown); how long a delivery is tried; the wait before its first retry (it doubles).
    webhook_secrets: tuple[str, ...] = field(default=(), repr=False)
    webhook_deadline_s: float = WEBHOOK_DEADLINE_S
    webhook_retry_s: float = 5.0
    # Callback services (see machinery/callbacks.py): how services reach Machinery, the secrets
    # signing their callback URLs (the last signs; never shown), and how long a step waits.
    public_url: str | None = None
    callback_secrets: tuple[str, ...] = field(default=(), repr=False)
    callback_timeout_s: float = CALLBACK_TIMEOUT_S
    # Days after an event finished that it is deleted (a TTL index on finished_at); None: events
    # are kept forever.
    event_retention_days: int | None = None
    # The console (/ui): the secrets signing its session cookies, several while rotating (the
    # last signs; never shown). None: one Machinery makes and keeps in its database.
    console_secrets: tuple[str, ...] = field(default=(), repr=False)
    # Where a worker (`machinery-cli worker`) answers Prometheus scrapes; no port: it answers none
    # (its metrics reach the API's /metrics through a shared PROMETHEUS_MULTIPROC_DIR instead).
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = None
    # A directory of mounted secret files, one per name, for services' auth (beside the
    # MACHINERY_SECRET_<NAME> variables; see machinery/credentials.py).
    secrets_dir: str | None = None
    # "otlp": export OpenTelemetry spans (the `otel` extra; OTEL_EXPORTER_OTLP_* say where).
    otel_export: str | None = None
    # How log lines are written: text (for people) or json (one object per line, for collectors).
    log_format: str = "text"

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> "Settings":
        """The settings the environment gives (an empty variable counts as unset).

        Raises SettingsError naming every variable that is not what it should be.
        """
        defaults = {item.name: item.default for item in fields(cls)}
        values, problems = {}, []
        for name, variable, read in _VARIABLES:
            text = environ.get(variable, "").strip()
            if not text:
                continue
            try:
                values[name] = read(text, variable)
            except ValueError as error:
                expected = f"expected {error}"
                if defaults[name] not in (None, ()):
                    expected += f" (default {_shown_default(defaults[name])})"
                problems.append((variable, _shown_value(variable, text), expected))
        problems += _retention_problems(values, defaults)
        if problems:
            raise SettingsError(problems)
        return cls(**values)

    def app_config(self) -> dict:
        """The Flask app configuration these settings make, by the keys the app reads."""
        return {
            "MONGO_URI": self.mongo_uri,
            "MONGO_DB": self.mongo_db,
            "MONGO_TIMEOUT_MS": self.mongo_timeout_ms,
            "DATA_DIR": self.data_dir,
            "MAX_CONTENT_LENGTH": self.max_body_bytes,
            "CONNECT_TIMEOUT": self.connect_timeout,
            "READ_TIMEOUT": self.read_timeout,
            "MAX_RESPONSE_BYTES": self.max_response_bytes,
            "PAGE_SIZE": self.page_size,
            "ALLOWED_HOSTS": ",".join(self.allowed_hosts),
            "DENIED_NETWORKS": ",".join(self.denied_networks),
            "MAX_EVENT_BYTES": self.max_event_bytes,
            "MAX_STEPS": self.max_steps,
            "MAX_FIELDS": self.max_fields,
            "MAX_NESTING": self.max_nesting,
            "MAX_BRANCHES": self.max_branches,
            "MAX_CONCURRENCY": self.max_concurrency,
            "MAX_MAP_ITEMS": self.max_map_items,
            "MAX_WAIT_S": self.max_wait_s,
            "IDEMPOTENCY_WAIT_S": self.idempotency_wait_s,
            "MANAGEMENT_KEYS": list(self.management_keys),
            "CONSUMER_KEYS": list(self.consumer_keys),
            "LEASE_S": self.lease_s,
            "WEBHOOK_SECRETS": list(self.webhook_secrets),
            "WEBHOOK_DEADLINE_S": self.webhook_deadline_s,
            "WEBHOOK_RETRY_S": self.webhook_retry_s,
            "PUBLIC_URL": self.public_url,
            "CALLBACK_SECRETS": list(self.callback_secrets),
            "CALLBACK_TIMEOUT_S": self.callback_timeout_s,
            "EVENT_RETENTION_DAYS": self.event_retention_days,
            "CONSOLE_SECRETS": list(self.console_secrets),
            "SECRETS_DIR": self.secrets_dir,
            "OTEL_EXPORT": self.otel_export,
        }


def from_environment(environ: Mapping[str, str] = os.environ) -> dict:
    """The app configuration the environment asks for (SettingsError when it cannot be used)."""
    return Settings.from_environment(environ).app_config()


def settings_or_exit(environ: Mapping[str, str] = os.environ) -> Settings:
    """The settings, for an entry point: when one is bad, print what is wrong (no traceback) and
    exit with EXIT_BAD_SETTINGS."""
    try:
        return Settings.from_environment(environ)
    except SettingsError as error:
        print(error, file=sys.stderr, flush=True)
        raise SystemExit(EXIT_BAD_SETTINGS) from None


def comma_list(value: str) -> list[str]:
    """The non-empty entries of a comma-separated setting, stripped of spaces."""
    return [entry.strip() for entry in value.split(",") if entry.strip()]


def key_digests(entries: Iterable[str] | str, setting: str) -> list[bytes]:
    """The sha256 digests of a setting's entries: plain keys, or "sha256:<hex digest>".

    Raises ValueError for a malformed digest, naming the entry by position, never by value.
    """
    if isinstance(entries, str):  # one string is a comma-separated list, not a list of letters
        entries = entries.split(",")
    result = []
    for position, entry in enumerate((e.strip() for e in entries if e.strip()), start=1):
        if entry[: len(_DIGEST_PREFIX)].lower() != _DIGEST_PREFIX:
            result.append(hashlib.sha256(entry.encode()).digest())
            continue
        try:
            digest = bytes.fromhex(entry[len(_DIGEST_PREFIX) :])
        except ValueError:
            digest = b""
        if len(digest) != hashlib.sha256().digest_size:
            raise ValueError(
                f"{setting}: entry {position} starts with '{_DIGEST_PREFIX}' but is not followed "
                "by the 64 hexadecimal digits of a sha256 digest."
            )
        result.append(digest)
    return result


def mask_uri(uri: str) -> str:
    """A MongoDB URI fit to show: its password, and any password among its options, as ****."""
    scheme, separator, rest = uri.partition("://")
    if not separator:
        return uri
    authority, slash, path = rest.partition("/")
    userinfo, at, hosts = authority.rpartition("@")
    if at and ":" in userinfo:
        authority = f"{userinfo.partition(':')[0]}:****@{hosts}"
    path, question, options = path.partition("?")
    if question:
        options = "&".join(
            f"{name}=****" if "password" in name.lower() else f"{name}{equals}{value}"
            for name, equals, value in (option.partition("=") for option in options.split("&"))
        )
    return f"{scheme}{separator}{authority}{slash}{path}{question}{options}"


# How each setting is read: each reader returns the value, or raises ValueError saying what the
# variable should hold.


def _whole_number(high: int | None = None) -> Callable[[str, str], int]:
    expected = f"a whole number from 1 to {high}" if high else "a whole number greater than 0"

    def read(text: str, variable: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise ValueError(expected) from None
        if value < 1 or (high is not None and value > high):
            raise ValueError(expected)
        return value

    return read


def _seconds(allow_zero: bool, high: float | None = None) -> Callable[[str, str], float]:
    expected = "a number of seconds" + (" (0 or more)" if allow_zero else " greater than 0")
    if high is not None:
        expected += f", at most {high:g}"

    def read(text: str, variable: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise ValueError(expected) from None
        if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
            raise ValueError(expected)
        if high is not None and value > high:
            raise ValueError(expected)
        return value

    return read


def _days(text: str, variable: str) -> int:
    try:
        return _whole_number(MAX_RETENTION_DAYS)(text, variable)
    except ValueError:
        raise ValueError(
            f"a whole number of days from 1 to {MAX_RETENTION_DAYS}, or unset to keep events "
            "forever"
        ) from None


def _mongo_uri(text: str, variable: str) -> str:
    if not text.startswith(("mongodb://", "mongodb+srv://")) or text.endswith("://"):
        raise ValueError("a MongoDB URI, such as mongodb://127.0.0.1:27017")
    return text


def _database_name(text: str, variable: str) -> str:
    if len(text) > 63 or any(character in '/\\. "$\0' for character in text):
        raise ValueError('a MongoDB database name: at most 63 characters, none of /\\. "$')
    return text


def _path(text: str, variable: str) -> str:
    return text


def _address_entries(text: str, variable: str) -> tuple[str, ...]:
    if variable == "MACHINERY_ALLOWED_HOSTS":
        expected = "comma-separated host names, *.suffix patterns and CIDRs"
        allowed, denied = text, ()
    else:
        expected = "comma-separated CIDRs, such as 10.0.0.0/8"
        allowed, denied = (), text
    try:
        AddressPolicy(allowed, denied)
    except ValueError as error:
        problem = str(error).removeprefix(f"{variable}: ").rstrip(".")
        raise ValueError(f"{expected}; {problem}") from None
    return tuple(comma_list(text))


def _keys(text: str, variable: str) -> tuple[str, ...]:
    try:
        key_digests(text, variable)
    except ValueError as error:
        problem = str(error).removeprefix(f"{variable}: ").rstrip(".")
        raise ValueError(
            f"comma-separated keys, each a key or sha256:<hex digest>; {problem}"
        ) from None
    return tuple(comma_list(text))


def _secrets(text: str, variable: str) -> tuple[str, ...]:
    secrets = comma_list(text)
    for position, secret in enumerate(secrets, start=1):
        if len(secret) < MIN_SECRET or any(character.isspace() for character in secret):
            raise ValueError(
                f"comma-separated secrets of at least {MIN_SECRET} characters each, "
                f"without spaces; entry {position} is not"
            )
    return tuple(secrets)


def _otel_export(text: str) -> str | None:
    chosen = text.strip().lower()
    if chosen in ("none", "off"):
        return None
    if chosen != "otlp":
        raise ValueError("otlp (export spans over OTLP), or none")
    return chosen


def _log_format(text: str) -> str:
    chosen = text.strip().lower()
    if chosen not in ("text", "json"):
        raise ValueError("text or json")
    return chosen


def _public_url(text: str, variable: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        raise ValueError("the http(s) URL services reach Machinery at, with no query")
    return text.rstrip("/")


_VARIABLES: tuple[tuple[str, str, Callable[[str, str], object]], ...] = (
    ("mongo_uri", "MONGO_URI", _mongo_uri),
    ("mongo_db", "MONGO_DB", _database_name),
    ("mongo_timeout_ms", "MONGO_TIMEOUT_MS", _whole_number()),
    ("data_dir", "MACHINERY_DATA_DIR", _path),
    ("max_body_bytes", "MACHINERY_MAX_BODY_BYTES", _whole_number()),
    ("connect_timeout", "MACHINERY_CONNECT_TIMEOUT", _seconds(allow_zero=False)),
    ("read_timeout", "MACHINERY_READ_TIMEOUT", _seconds(allow_zero=False)),
    ("max_response_bytes", "MACHINERY_MAX_RESPONSE_BYTES", _whole_number()),
    ("page_size", "MACHINERY_PAGE_SIZE", _whole_number(MAX_PAGE_SIZE)),
    ("allowed_hosts", "MACHINERY_ALLOWED_HOSTS", _address_entries),
    ("denied_networks", "MACHINERY_DENIED_NETWORKS", _address_entries),
    ("max_event_bytes", "MACHINERY_MAX_EVENT_BYTES", _whole_number()),
    ("max_steps", "MACHINERY_MAX_STEPS", _whole_number()),
    ("max_fields", "MACHINERY_MAX_FIELDS", _whole_number()),
    ("max_nesting", "MACHINERY_MAX_NESTING", _whole_number(64)),
    ("max_branches", "MACHINERY_MAX_BRANCHES", _whole_number(1024)),
    ("max_concurrency", "MACHINERY_MAX_CONCURRENCY", _whole_number(1024)),
    ("max_map_items", "MACHINERY_MAX_MAP_ITEMS", _whole_number(10_000_000)),
    ("max_wait_s", "MACHINERY_MAX_WAIT_S", _seconds(allow_zero=False, high=10 * 366 * DAY_S)),
    ("idempotency_wait_s", "MACHINERY_IDEMPOTENCY_WAIT_S", _seconds(allow_zero=True)),
    ("management_keys", "MACHINERY_MANAGEMENT_KEYS", _keys),
    ("consumer_keys", "MACHINERY_CONSUMER_KEYS", _keys),
    ("lease_s", "MACHINERY_LEASE_S", _seconds(allow_zero=False)),
    ("worker_concurrency", "MACHINERY_WORKER_CONCURRENCY", _whole_number(256)),
    ("worker_poll_s", "MACHINERY_WORKER_POLL_S", _seconds(allow_zero=False)),
    ("webhook_secrets", "MACHINERY_WEBHOOK_SECRETS", _secrets),
    (
        "webhook_deadline_s",
        "MACHINERY_WEBHOOK_DEADLINE_S",
        _seconds(allow_zero=False, high=MAX_WEBHOOK_DEADLINE_S),
    ),
    ("webhook_retry_s", "MACHINERY_WEBHOOK_RETRY_S", _seconds(allow_zero=False, high=3600)),
    ("public_url", "MACHINERY_PUBLIC_URL", _public_url),
    ("callback_secrets", "MACHINERY_CALLBACK_SECRETS", _secrets),
    (
        "callback_timeout_s",
        "MACHINERY_CALLBACK_TIMEOUT_S",
        _seconds(allow_zero=False, high=7 * 24 * 3600),
    ),
    ("event_retention_days", "MACHINERY_EVENT_RETENTION_DAYS", _days),
    ("console_secrets", "MACHINERY_CONSOLE_SECRETS", _secrets),
    ("metrics_host", "MACHINERY_METRICS_HOST", _path),
    ("metrics_port", "MACHINERY_METRICS_PORT", _whole_number(65535)),
    ("secrets_dir", "MACHINERY_SECRETS_DIR", _path),
    ("otel_export", "MACHINERY_OTEL_EXPORT", lambda text, variable: _otel_export(text)),
    ("log_format", "MACHINERY_LOG_FORMAT", lambda text, variable: _log_format(text)),
)


def _retention_problems(values: dict, defaults: dict) -> list[tuple[str, str, str]]:
    """An event deleted while its webhook is still being tried would never be delivered."""
    days = values.get("event_retention_days")
    deadline_s = values.get("webhook_deadline_s", defaults["webhook_deadline_s"])
    if days is None or days * DAY_S >= deadline_s:
        return []
    expected = (
        f"expected at least as long as a webhook is tried (MACHINERY_WEBHOOK_DEADLINE_S, "
        f"{deadline_s:g} s): at least {math.ceil(deadline_s / DAY_S)} days"
    )
    return [("MACHINERY_EVENT_RETENTION_DAYS", repr(str(days)), expected)]


def _shown_value(variable: str, text: str) -> str:
    if variable in SECRET_VARIABLES:
        return "(not shown)"
    return repr(mask_uri(text) if variable == "MONGO_URI" else text)


def _shown_default(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


OPENAPI = {
    "API_TITLE": "Machinery",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/",
    "OPENAPI_JSON_PATH": "openapi.json",
}


if __name__ == "__main__":
    settings_or_exit()
