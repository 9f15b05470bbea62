"""Service credentials: the secrets a service's `auth` names, read by name from the environment
(MACHINERY_SECRET_<NAME>) or a directory of mounted files (MACHINERY_SECRETS_DIR/<name>), and the
headers they make. Only names are stored; values are read when a call is made, so that a rotated
secret is used at once, and are never stored, returned or logged.
"""

import base64
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ENVIRONMENT_PREFIX = "MACHINERY_SECRET_"
# A secret's name: what a file may be called and a variable may end with (upper-cased, with
# '-' and '.' as '_').
SECRET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
AUTH_TYPES = ("bearer", "header", "basic")
# Headers a service's auth may not set: Machinery's own, and those that frame the request.
RESERVED_HEADERS = frozenset(
    {
        "content-type",
        "content-length",
        "host",
        "transfer-encoding",
        "connection",
        "idempotency-key",
        "traceparent",
        "tracestate",
        "x-request-id",
        "x-machinery-event-id",
        "x-machinery-step",
        "x-machinery-callback-url",
    }
)
HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$")


class MissingSecret(LookupError):
    """A secret a service names is neither in the environment nor in the secrets directory."""

    def __init__(self, name: str):
        self.name = name
        super().__init__(
            f"the secret {name!r} is not set: set {variable(name)} or put a file named {name} in "
            "MACHINERY_SECRETS_DIR"
        )


def variable(name: str) -> str:
    """The environment variable holding a secret."""
    return ENVIRONMENT_PREFIX + re.sub(r"[-.]", "_", name).upper()


@dataclass(frozen=True)
class Secrets:
    """Where secrets are read from: the environment, then the directory (None: none)."""

    directory: str | None = None
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)

    def get(self, name: str) -> str | None:
        value = self.environ.get(variable(name))
        if value:
            return value
        if self.directory and SECRET_NAME.match(name):
            path = Path(self.directory) / name
            try:
                value = path.read_text().rstrip("\r\n")
            except (FileNotFoundError, IsADirectoryError, PermissionError):
                return None
            return value or None
        return None

    def has(self, name: str) -> bool:
        return self.get(name) is not None


def auth_problems(auth: Mapping) -> dict[str, str]:
    """What is wrong with an `auth` definition (before its secret is looked up), by field."""
    problems = {}
    kind = auth.get("type")
    if kind not in AUTH_TYPES:
        problems["type"] = f"One of {', '.join(AUTH_TYPES)}."
    secret = auth.get("secret")
    if not isinstance(secret, str) or not SECRET_NAME.match(secret):
        problems["secret"] = (
            "The name of a secret: letters, digits, '_', '.' and '-', at most 64, starting with "
            "a letter or digit."
        )
    if kind == "header":
        name = auth.get("name")
        if not isinstance(name, str) or not HEADER_NAME.match(name):
            problems["name"] = "The name of the header to send, such as X-Api-Key."
        elif name.lower() in RESERVED_HEADERS:
            problems["name"] = f"Machinery sets {name} itself."
    if kind == "basic":
        username = auth.get("username")
        if not isinstance(username, str) or not username or ":" in username:
            problems["username"] = "The user name, without ':'."
    allowed = {"type", "secret"} | {"header": {"name"}, "basic": {"username"}}.get(kind, set())
    for extra in sorted(set(auth) - allowed):
        problems[extra] = "Unknown field."
    return problems


def credential_headers(auth: Mapping, secrets: Secrets) -> dict[str, str]:
    """The headers a service's `auth` asks for; MissingSecret when its secret is not set."""
    value = secrets.get(auth["secret"])
    if value is None:
        raise MissingSecret(auth["secret"])
    kind = auth["type"]
    if kind == "bearer":
        return {"Authorization": f"Bearer {value}"}
    if kind == "header":
        return {auth["name"]: value}
    token = base64.b64encode(f"{auth['username']}:{value}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def secret_header_names(auth: Mapping | None) -> frozenset[str]:
    """The headers that carry the secret of this `auth` (to redact wherever they are shown)."""
    if not auth:
        return frozenset()
    return frozenset({auth["name"].lower()} if auth.get("type") == "header" else {"authorization"})
