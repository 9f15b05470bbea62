"""Webhook signatures, in the manner of Stripe and GitHub: sign a body, verify a signed one.

Machinery signs every webhook it sends with a header

    Machinery-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">

with one `v1` entry per configured secret (MACHINERY_WEBHOOK_SECRETS: several while a secret is
being rotated). A receiver verifies with the secrets it knows:

    from machinery.signatures import InvalidSignature, verify

    try:
        verify(request_body_bytes, request.headers["Machinery-Signature"], ["whsec-..."])
    except InvalidSignature as error:
        return 400, error.reason

Only the standard library is imported here (no web stack, no MongoDB driver), so a receiver can
copy this one module or import it with Machinery installed.
"""

import hashlib
import hmac
import time
from collections.abc import Iterable

HEADER = "Machinery-Signature"
SCHEME = "v1"
# How far the signed time may be from the receiver's clock, either way: replays of a captured
# delivery are refused after this.
DEFAULT_TOLERANCE_S = 300

Secrets = str | bytes | Iterable[str | bytes]


class InvalidSignature(ValueError):
    """A signature that does not prove the body came from Machinery; `reason` says why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def sign(body: bytes, secrets: Secrets, timestamp: int | None = None) -> str:
    """The Machinery-Signature header for the body: `t=<timestamp>,v1=<hex>`, one `v1` per secret.

    timestamp: seconds since the epoch (default: now).
    """
    keys = _keys(secrets)
    t = int(time.time()) if timestamp is None else int(timestamp)
    signatures = ",".join(f"{SCHEME}={_digest(key, t, body)}" for key in keys)
    return f"t={t},{signatures}"


def verify(
    body: bytes,
    header: str | None,
    secrets: Secrets,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> None:
    """Check that the header signs this body with one of the secrets, within the tolerance.

    body: the request body exactly as received (bytes: parsing and serialising it again would
    change it). Raises InvalidSignature saying why: a missing or malformed header, no `v1`
    matching any secret, or a time further than `tolerance_s` from `now` (default: the clock).
    """
    if not isinstance(body, bytes | bytearray):
        raise TypeError("verify the body as the bytes received, not as parsed or decoded text")
    keys = _keys(secrets)
    t, candidates = _parse(header)
    expected = [_digest(key, t, bytes(body)).encode() for key in keys]
    # Every candidate against every secret, each in constant time.
    matched = False
    for candidate in candidates:
        for digest in expected:
            matched |= hmac.compare_digest(digest, candidate.encode("utf-8", "replace"))
    if not matched:
        raise InvalidSignature(f"no {SCHEME} signature matches the body with any secret")
    moment = time.time() if now is None else now
    if abs(moment - t) > tolerance_s:
        raise InvalidSignature(
            f"the signature's time t={t} is more than {tolerance_s:g} s from now "
            "(a replay, or clocks apart)"
        )


def _parse(header: str | None) -> tuple[int, list[str]]:
    """(t, the v1 signatures) of a header; other schemes are ignored, as Stripe's are."""
    if not header or not header.strip():
        raise InvalidSignature(f"no {HEADER} header")
    t, candidates = None, []
    for item in header.split(","):
        name, equals, value = item.strip().partition("=")
        if not equals or not name:
            raise InvalidSignature(f"malformed {HEADER} header: items are name=value")
        if name == "t":
            if t is not None or not value.isascii() or not value.isdigit():
                raise InvalidSignature(f"malformed {HEADER} header: one t=<unix time> is needed")
            t = int(value)
        elif name == SCHEME:
            candidates.append(value)
    if t is None:
        raise InvalidSignature(f"malformed {HEADER} header: no t=<unix time>")
    if not candidates:
        raise InvalidSignature(f"malformed {HEADER} header: no {SCHEME}=<signature>")
    return t, candidates


def _keys(secrets: Secrets) -> list[bytes]:
    if isinstance(secrets, str | bytes):  # one secret, not a sequence of characters
        secrets = [secrets]
    keys = [s.encode() if isinstance(s, str) else bytes(s) for s in secrets]
    if not keys or not all(keys):
        raise ValueError("no secret to sign or verify with (an empty secret counts as none)")
    return keys


def _digest(key: bytes, t: int, body: bytes) -> str:
    return hmac.new(key, f"{t}.".encode() + body, hashlib.sha256).hexdigest()
