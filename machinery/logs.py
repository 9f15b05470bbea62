"""Logging for a Machinery server: one configuration, and no secret in any line it writes."""

import logging
import re
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


def logging_config(level: str) -> dict:
    """The logging of a server process, for logging.config.dictConfig (gunicorn's logconfig_dict).

    Machinery's records, and gunicorn's error log, at `level` (debug, info, warning, error or
    critical) as plain text on the standard error; the access log on the standard output. Every
    line passes RedactSecrets.
    """
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"secrets": {"()": RedactSecrets}},
        "formatters": {
            "text": {
                "format": "%(asctime)s [%(process)d] [%(levelname)s] %(name)s: %(message)s",
                "datefmt": "[%Y-%m-%d %H:%M:%S %z]",
            },
            "access": {"format": "%(message)s"},
        },
        "handlers": {
            "text": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "text",
                "filters": ["secrets"],
            },
            "access": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "formatter": "access",
                "filters": ["secrets"],
            },
        },
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": ["text"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["access"], "propagate": False},
        },
        # Machinery's loggers (machinery.*) and the libraries' reach the root's handler.
        "root": {"level": level, "handlers": ["text"]},
    }
