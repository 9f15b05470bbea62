"""Logging for a Machinery server: one configuration, and no secret in any line it writes.

Lines are plain text (the default, for development) or JSON, one object per line
(MACHINERY_LOG_FORMAT=json). Either way, a line written while a request or an event is handled
carries what it concerns, bound in context variables: request_id, event_id, workflow, step,
service, trace_id. Event data and answers are never logged.
"""

import contextlib
import contextvars
import json
import logging
import re
from datetime import UTC, datetime
from urllib.parse import unquote_plus

from gunicorn import glogging

REDACTED = "[redacted]"
# A query parameter whose name holds one of these words carries a secret (api_key, apikey, key,
# token, access_token, client_secret, password, X-Amz-Signature, ...); so does one named "sig".
SECRET_PARAMETER_WORDS = (
    "key",
    "token",
    "secret",
    "password",
    "passwd",
    "pwd",
    "auth",
    "credential",
    "signature",
    "session",
)
SECRET_PARAMETER_NAMES = frozenset({"sig"})
# Headers that carry keys or credentials.
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "cookie", "set-cookie"}
)

# A name=value pair of a query string, inside any text (a request line, a URL in a message).
_QUERY_PAIR = re.compile(r"(?P<start>[?&;])(?P<name>[^=&;#?\s\"'<>]+)=(?P<value>[^&;#\s\"'<>]*)")
# The password of a URL's user information: scheme://user:password@host.
_URL_PASSWORD = re.compile(r"(?P<start>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*:)[^/\s@]+@")
# Credentials as they appear in a header: "Bearer <token>", "X-API-Key: <key>" (a placeholder
# such as "<key>" stays).
_CREDENTIALS = re.compile(r"(?i)(?P<start>\b(?:bearer|basic)\s+)[A-Za-z0-9._~+/-]{8,}=*")
_KEY_HEADER = re.compile(r"(?i)(?P<start>\bx-api-key[\"']?\s*[:=]\s*[\"']?)(?!<)[^\s\"',]+")


LOG_FORMATS = ("text", "json")
# What a line may say it concerns, in this order.
CONTEXT_FIELDS = ("request_id", "trace_id", "event_id", "workflow", "step", "service")
_context: contextvars.ContextVar[dict | None] = contextvars.ContextVar(
    "machinery_log_context", default=None
)


@contextlib.contextmanager
def bound(**fields):
    """Have every line logged in this block (in this thread or task) carry these fields."""
    token = bind(**fields)
    try:
        yield
    finally:
        _context.reset(token)


def bind(**fields) -> contextvars.Token:
    """Bind fields until `unbind(token)` (for hooks that open and close apart)."""
    added = {k: v for k, v in fields.items() if v is not None}
    return _context.set({**(_context.get() or {}), **added})


def unbind(token: contextvars.Token) -> None:
    _context.reset(token)


def context() -> dict:
    """The fields bound now."""
    return dict(_context.get() or {})


class AddContext(logging.Filter):
    """Put the bound fields on every record (record.context), for the formatters."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.context = _context.get() or {}
        return True


class TextFormatter(logging.Formatter):
    """The text format, with the bound fields as key=value after the message."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = getattr(record, "context", None) or {}
        shown = " ".join(f"{k}={fields[k]}" for k in CONTEXT_FIELDS if k in fields)
        return f"{line} [{shown}]" if shown else line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, process, message, the bound fields, and
    the exception when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "process": record.process,
            "message": record.getMessage(),
        }
        fields = getattr(record, "context", None) or {}
        line.update((k, fields[k]) for k in CONTEXT_FIELDS if k in fields)
        if record.exc_info:
            line["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False, default=str)


def log_format(value: str | None) -> str:
    """The log format a setting names (text when unset); ValueError for another."""
    chosen = (value or "text").strip().lower() or "text"
    if chosen not in LOG_FORMATS:
        raise ValueError("text or json")
    return chosen


def is_secret_parameter(name: str) -> bool:
    """Whether a query parameter of this name (as sent, maybe percent-encoded) holds a secret."""
    normal = unquote_plus(name).strip().lower().replace("-", "_")
    return normal in SECRET_PARAMETER_NAMES or any(w in normal for w in SECRET_PARAMETER_WORDS)


def _redact_pair(match: re.Match) -> str:
    if not is_secret_parameter(match["name"]):
        return match[0]
    return f"{match['start']}{match['name']}={REDACTED}"


def redact(text: str) -> str:
    """The text with the values of secret query parameters, URL passwords and credentials hidden."""
    # Each pattern needs its marker in the text: most texts (an access log's atoms) hold none,
    # and testing for them costs a fraction of running the patterns.
    if "=" in text:
        text = _QUERY_PAIR.sub(_redact_pair, text)
    if "@" in text:
        text = _URL_PASSWORD.sub(rf"\g<start>{REDACTED}@", text)
    lowered = text.lower()
    if "bearer" in lowered or "basic" in lowered:
        text = _CREDENTIALS.sub(rf"\g<start>{REDACTED}", text)
    if "x-api-key" in lowered:
        text = _KEY_HEADER.sub(rf"\g<start>{REDACTED}", text)
    return text


def redact_query(query: str) -> str:
    """A query string (without its "?") with the values of its secret parameters hidden."""
    return redact("?" + query)[1:]


def _is_secret_atom(name: str) -> bool:
    """Whether an access log atom is a secret header: {authorization}i, {http_x_api_key}e, ..."""
    if not (name.startswith("{") and name[-2:] in ("}i", "}o", "}e")):
        return False
    field = name[1:-2]
    if name.endswith("}e"):
        if not field.startswith("http_"):
            return False
        field = field[len("http_") :].replace("_", "-")
    return field in SECRET_HEADERS


class RedactSecrets(logging.Filter):
    """Hide secrets in every record's message before a handler writes it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class GunicornLogger(glogging.Logger):
    """gunicorn's logger, whose access log atoms hold no secret, whatever the format asks for.

    The request line and URLs keep their path and their other query parameters; the values of
    secret ones are hidden, as are secret headers ({authorization}i, {x-api-key}i, ...) and the
    user name of basic authentication (%(u)s).
    """

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for name, value in atoms.items():
            if _is_secret_atom(name):
                atoms[name] = REDACTED
            elif name in ("q", "{query_string}e") and isinstance(value, str):
                atoms[name] = redact_query(value)
            elif isinstance(value, str):
                atoms[name] = redact(value)
            elif name.endswith("}e") and not isinstance(value, int | float):
                atoms[name] = redact(str(value))  # objects in the environ print their URL
        atoms["u"] = "-"
        return atoms

    def access(self, resp, req, environ, request_time):
        """The access line, carrying the id of the request it is about (the one answered)."""
        headers = getattr(resp, "headers", None) or []
        request_id = next((v for k, v in headers if k.lower() == "x-request-id"), None)
        with bound(request_id=request_id):
            super().access(resp, req, environ, request_time)


def logging_config(level: str, fmt: str = "text") -> dict:
    """The logging of a server process, for logging.config.dictConfig (gunicorn's logconfig_dict).

    Machinery's records, and gunicorn's error log, at `level` (debug, info, warning, error or
    critical) on the standard error; the access log on the standard output; in `fmt`, text or
    json. Every line passes RedactSecrets, and carries the fields bound (see `bound`).
    """
    level = level.upper()
    json_lines = log_format(fmt) == "json"
    text = {
        "()": TextFormatter,
        "format": "%(asctime)s [%(process)d] [%(levelname)s] %(name)s: %(message)s",
        "datefmt": "[%Y-%m-%d %H:%M:%S %z]",
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"secrets": {"()": RedactSecrets}, "context": {"()": AddContext}},
        "formatters": {
            "text": {"()": JsonFormatter} if json_lines else text,
            "access": {"()": JsonFormatter} if json_lines else {"format": "%(message)s"},
        },
        "handlers": {
            "text": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "text",
                "filters": ["secrets", "context"],
            },
            "access": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "formatter": "access",
                "filters": ["secrets", "context"],
            },
        },
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": ["text"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["access"], "propagate": False},
        },
        # Machinery's loggers (machinery.*) and the libraries' reach the root's handler.
        "root": {"level": level, "handlers": ["text"]},
    }
