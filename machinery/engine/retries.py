"""Calling a step's service again when it failed in a way worth retrying, with backoff.

A policy in the manner of Step Functions' Retry: how many attempts, the first interval, the
backoff rate, the longest delay, full jitter, and which failures retry: failure kinds
(`connection_error`, `timeout`, ...) and HTTP statuses (502, 503, 504, 429, ...). A
`Retry-After` answered by the service is honoured, within the longest delay.

Retrying is only safe when a repeated request does no harm: a request that may have reached a
service that is not idempotent is never sent again, unless the step says it may be.
"""

from collections.abc import Callable

import tenacity

from machinery.engine.failures import StepFailed
from machinery.language.model import RetryPolicy


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
        if not isinstance(failure, StepFailed):
            return False
        if not policy.retries(failure.kind, failure.status_code):
            return False
        return repeatable or not failure.sent

    def wait(state: tenacity.RetryCallState) -> float:
        return policy.delay(state.attempt_number, state.outcome.exception().retry_after)

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
