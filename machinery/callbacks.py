"""Callback URLs for callback services: each names one step of one run of an event, carries a
single-use nonce, and is signed, so that only the service Machinery called can post the step's
result, once.

The token in the URL is signed with the deployment's callback secrets (itsdangerous; the last
secret signs, every one verifies, so secrets can be rotated). Whether it is still good (the step
still waiting for that nonce, its deadline not passed) is for the store to say: a heartbeat moves
the deadline without a new URL.
"""

import secrets
from dataclasses import dataclass

from itsdangerous import BadData, URLSafeSerializer

from machinery import states
from machinery.engine.failures import StepFailed

_SALT = "machinery.callback"


class ForgedToken(ValueError):
    """A token Machinery did not issue (or issued with a secret no longer configured)."""


@dataclass(frozen=True)
class Claim:
    """What a callback token says: which step of which run of which event, and its nonce."""

    event_id: str
    run: int
    step: int
    nonce: str


class CallbackTokens:
    def __init__(self, public_url: str | None, keys: tuple[str, ...]):
        self.public_url = public_url.rstrip("/") if public_url else None
        self._serializer = URLSafeSerializer(list(keys), salt=_SALT) if keys else None

    @property
    def configured(self) -> bool:
        return self.public_url is not None and self._serializer is not None

    def issue(self, event_id: str, run: int, step: int) -> tuple[str, str]:
        """(the callback URL for the step, its nonce); StepFailed when none can be made."""
        if not self.configured:
            raise StepFailed(
                states.CALLBACK_UNAVAILABLE,
                "a callback service needs a URL to post its result to: set MACHINERY_PUBLIC_URL "
                "(how services reach Machinery) and MACHINERY_CALLBACK_SECRETS",
                sent=False,
            )
        nonce = secrets.token_urlsafe(16)
        token = self._serializer.dumps([event_id, run, step, nonce])
        return f"{self.public_url}/callbacks/{token}", nonce

    def read(self, token: str) -> Claim:
        """The claim a token carries; ForgedToken when Machinery did not sign it."""
        if self._serializer is None:
            raise ForgedToken("this deployment issues no callback tokens")
        try:
            event_id, run, step, nonce = self._serializer.loads(token)
        except (BadData, ValueError, TypeError):
            raise ForgedToken("not a callback token this deployment issued") from None
        return Claim(str(event_id), int(run), int(step), str(nonce))
