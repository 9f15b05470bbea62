"""The HTTP caller: JSON POSTs to services over pooled keep-alive connections, with timeouts."""

import json

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ReadTimeoutError,
)

from machinery.datatypes import parse_json
from machinery.engine import states
from machinery.engine.executor import StepFailed

_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
_EXCERPT = 200


class HttpCaller:
    """Call service addresses with a JSON POST; one per process (connection pools do not fork)."""

    def __init__(self, connect_timeout: float, read_timeout: float, pool_size: int = 10):
        self._timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
        self._pools = urllib3.PoolManager(num_pools=50, maxsize=pool_size, block=False)

    def __call__(self, address: str, payload: dict) -> tuple[int, dict]:
        """POST the payload to the address; return (status, JSON object) or raise StepFailed."""
        try:
            response = self._pools.request(
                "POST",
                address,
                body=json.dumps(payload).encode(),
                headers=_HEADERS,
                timeout=self._timeout,
                retries=False,
                redirect=False,
            )
        except NewConnectionError as error:  # before its base class, ConnectTimeoutError
            raise StepFailed(
                states.CONNECTION_ERROR, f"could not connect to {address}: {_reason(error)}"
            ) from error
        except (ConnectTimeoutError, ReadTimeoutError) as error:
            raise StepFailed(states.TIMEOUT, f"timed out calling {address}: {error}") from error
        except HTTPError as error:
            raise StepFailed(
                states.CONNECTION_ERROR, f"connection to {address} failed: {_reason(error)}"
            ) from error
        if not 200 <= response.status < 300:
            raise StepFailed(
                states.HTTP_STATUS,
                f"answered HTTP {response.status}: {_excerpt(response.data)}",
                response.status,
            )
        try:
            answer = parse_json(response.data)
        except ValueError as error:
            raise StepFailed(
                states.INVALID_RESPONSE,
                f"answered a body that is not JSON: {_excerpt(response.data)}",
                response.status,
            ) from error
        if not isinstance(answer, dict):
            raise StepFailed(
                states.INVALID_RESPONSE,
                f"answered JSON that is not an object: {_excerpt(response.data)}",
                response.status,
            )
        return response.status, answer

    def close(self) -> None:
        self._pools.clear()


def _reason(error: Exception) -> str:
    return str(getattr(error, "reason", None) or error)


def _excerpt(body: bytes) -> str:
    text = body[:_EXCERPT].decode("utf-8", "replace")
    return text + ("..." if len(body) > _EXCERPT else "")
