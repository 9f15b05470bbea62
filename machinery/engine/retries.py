"""Calling a step's service again when it failed in a way worth retrying, with backoff.

A policy in the manner of Step Functions' Retry: how many attempts, the first interval, the
backoff rate, the longest delay, full jitter, and which failures retry: failure kinds
(`connection_error`, `timeout`, ...) and HTTP statuses (502, 503, 504, 429, ...). A
`Retry-After` answered by the service is honoured, within the longest delay.

Retrying is only safe when a repeated request does no harm: a request that may have reached a
service that is not idempotent is never sent again, unless the step says it may be.
"""

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import tenacity

from machinery.engine import states
from machinery.engine.failures import StepFailed

DEFAULT_ON = frozenset({states.CONNECTION_ERROR, states.TIMEOUT, 429, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 1
    interval: float = 1.0
    backoff_rate: float = 2.0
    max_delay: float = 30.0
    jitter: bool = True
    on: frozenset = DEFAULT_ON

    @classmethod
    def from_spec(cls, spec: Mapping | None) -> "RetryPolicy":
        """The policy a definition's `retry` object describes (none: a single attempt)."""
        if not spec:
            return cls()
        names = ("max_attempts", "interval", "backoff_rate", "max_delay", "jitter")
        values = {key: spec[key] for key in names if key in spec}
        if "on" in spec:
            values["on"] = frozenset(spec["on"])
        return cls(**values)

    def retries(self, failure: StepFailed) -> bool:
        """Whether this kind of failure is one the policy retries."""
        if failure.kind == states.HTTP_STATUS:
            return failure.status_code in self.on
        return failure.kind in self.on

    def delay(self, attempt: int, failure: StepFailed | None, draw=random.uniform) -> float:
        """How long to wait after the given attempt (counted from 1) failed."""
        base = min(self.interval * self.backoff_rate ** (attempt - 1), self.max_delay)
        wait = draw(0, base) if self.jitter else base
        if failure is not None and failure.retry_after is not None:
            wait = max(wait, min(failure.retry_after, self.max_delay))
        return wait


def call_with_retries(
    attempt: Callable[[int], tuple[int, dict]],
    policy: RetryPolicy,
    repeatable: bool,
    sleep: Callable[[float], None],
) -> tuple[int, dict]:
    """Call attempt(n) for n = 1, 2, ... until it succeeds or the policy gives up.

    `repeatable`: whether a request that may have reached the service may be sent again.
    The last failure is raised as it was.
    """
    if policy.max_attempts <= 1:
        return attempt(1)  # the usual case: no retry machinery on the hot path

    def worth_retrying(state: tenacity.RetryCallState) -> bool:
        failure = state.outcome.exception()
        if not isinstance(failure, StepFailed) or not policy.retries(failure):
            return False
        return repeatable or not failure.sent

    def wait(state: tenacity.RetryCallState) -> float:
        return policy.delay(state.attempt_number, state.outcome.exception())

    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(policy.max_attempts),
        wait=wait,
        retry=worth_retrying,
        sleep=sleep,
        reraise=True,
    )
    for try_ in retrying:
        with try_:
            result = attempt(try_.retry_state.attempt_number)
    return result
