"""Retry policies: which failures retry, how long between attempts, and when never to resend."""

import pytest

from machinery import states
from machinery.engine.failures import StepFailed
from machinery.engine.retries import call_with_retries
from machinery.language.model import RetryPolicy


class Flaky:
    """Fails with the given failures in turn, then answers."""

    def __init__(self, *failures):
        self.failures = list(failures)
        self.attempts = []

    def __call__(self, number):
        self.attempts.append(number)
        if self.failures:
            raise self.failures.pop(0)
        return 200, {"ok": True}


def refused():
    return StepFailed(states.CONNECTION_ERROR, "refused", sent=False)


def status(code, retry_after=None):
    return StepFailed(states.HTTP_STATUS, f"HTTP {code}", code, retry_after=retry_after)


def run(flaky, policy, repeatable=True):
    sleeps = []
    result = call_with_retries(flaky, policy, repeatable, sleeps.append)
    return result, sleeps


def test_no_policy_means_one_attempt():
    flaky = Flaky(status(503))
    with pytest.raises(StepFailed):
        run(flaky, RetryPolicy())
    assert flaky.attempts == [1]


def test_a_500_then_a_200_succeeds_on_the_second_attempt():
    flaky = Flaky(status(503))
    result, sleeps = run(flaky, RetryPolicy(max_attempts=3, interval=0.5, jitter=False))
    assert result == (200, {"ok": True})
    assert flaky.attempts == [1, 2]
    assert sleeps == [0.5]


def test_backoff_grows_by_the_rate_and_stops_at_max_delay():
    flaky = Flaky(*[status(503)] * 5)
    policy = RetryPolicy(max_attempts=5, interval=1, backoff_rate=3, max_delay=5, jitter=False)
    with pytest.raises(StepFailed):
        run(flaky, policy)
    assert flaky.attempts == [1, 2, 3, 4, 5]


def test_the_delays_follow_the_policy():
    flaky = Flaky(*[status(503)] * 4)
    policy = RetryPolicy(max_attempts=5, interval=1, backoff_rate=3, max_delay=5, jitter=False)
    _, sleeps = run(flaky, policy)
    assert sleeps == [1, 3, 5, 5]


def test_jitter_draws_between_zero_and_the_backoff():
    policy = RetryPolicy(interval=2, backoff_rate=2, max_delay=30, jitter=True)
    assert policy.delay(3, None, draw=lambda low, high: (low, high)) == (0, 8)


def test_retry_after_is_honoured_within_the_longest_delay():
    policy = RetryPolicy(interval=0.1, max_delay=10, jitter=False)
    assert policy.delay(1) == 0.1
    assert policy.delay(1, retry_after=4) == 4
    assert policy.delay(1, retry_after=60) == 10
    assert policy.delay(1, retry_after=0) == 0.1


def test_a_retry_after_answered_by_the_service_sets_the_wait_between_attempts():
    flaky = Flaky(status(503, retry_after=4), status(503))
    _, sleeps = run(flaky, RetryPolicy(max_attempts=3, interval=0.5, max_delay=10, jitter=False))
    assert sleeps == [4, 1.0]


@pytest.mark.parametrize(
    ("failure", "retried"),
    [
        (status(503), True),
        (status(429), True),
        (status(500), False),
        (status(404), False),
        (StepFailed(states.TIMEOUT, "slow"), True),
        (refused(), True),
        (StepFailed(states.INVALID_RESPONSE, "html"), False),
        (StepFailed(states.CONTRACT_VIOLATION, "wrong type"), False),
    ],
)
def test_which_failures_the_default_policy_retries(failure, retried):
    flaky = Flaky(failure)
    policy = RetryPolicy(max_attempts=2, interval=0)
    if retried:
        run(flaky, policy)
        assert flaky.attempts == [1, 2]
    else:
        with pytest.raises(StepFailed):
            run(flaky, policy)
        assert flaky.attempts == [1]


def test_a_policy_may_name_its_own_statuses_and_kinds():
    policy = RetryPolicy.from_spec({"max_attempts": 2, "interval": 0, "on": [500]})
    flaky = Flaky(status(500))
    run(flaky, policy)
    assert flaky.attempts == [1, 2]
    timeouts = Flaky(StepFailed(states.TIMEOUT, "slow"))
    with pytest.raises(StepFailed):
        run(timeouts, policy)
    assert timeouts.attempts == [1]


def test_a_request_that_may_have_arrived_is_not_resent_to_a_non_idempotent_service():
    policy = RetryPolicy(max_attempts=3, interval=0)
    for failure in (status(503), StepFailed(states.TIMEOUT, "slow")):
        flaky = Flaky(failure)
        with pytest.raises(StepFailed):
            run(flaky, policy, repeatable=False)
        assert flaky.attempts == [1]


def test_a_refused_connection_is_retried_even_for_a_non_idempotent_service():
    flaky = Flaky(refused(), refused())
    result, _ = run(flaky, RetryPolicy(max_attempts=3, interval=0), repeatable=False)
    assert result[0] == 200
    assert flaky.attempts == [1, 2, 3]


def test_the_last_failure_is_raised_as_it_was():
    last = status(504)
    flaky = Flaky(status(503), last)
    with pytest.raises(StepFailed) as raised:
        run(flaky, RetryPolicy(max_attempts=2, interval=0))
    assert raised.value is last


@pytest.mark.parametrize(
    ("kind", "status_code", "retried"),
    [
        (states.HTTP_STATUS, 503, True),
        (states.HTTP_STATUS, 429, True),
        (states.HTTP_STATUS, 500, False),
        (states.TIMEOUT, None, True),
        (states.CONNECTION_ERROR, None, True),
        (states.INVALID_RESPONSE, 200, False),
        (states.MISSING_INPUT, None, False),
        (states.INTERRUPTED, None, False),
    ],
)
def test_retries_tells_a_failure_kind_and_an_http_status_apart(kind, status_code, retried):
    assert RetryPolicy().retries(kind, status_code) is retried


@pytest.mark.parametrize("spec", [None, {}])
def test_no_retry_spec_is_a_single_attempt(spec):
    assert RetryPolicy.from_spec(spec) == RetryPolicy()
    assert RetryPolicy.from_spec(spec).max_attempts == 1


def test_from_spec_reads_every_setting_of_a_retry_object():
    spec = {
        "max_attempts": 4,
        "interval": 0.5,
        "backoff_rate": 3,
        "max_delay": 8,
        "jitter": False,
        "on": ["timeout", 500],
    }
    assert RetryPolicy.from_spec(spec) == RetryPolicy(
        max_attempts=4,
        interval=0.5,
        backoff_rate=3,
        max_delay=8,
        jitter=False,
        on=frozenset({states.TIMEOUT, 500}),
    )
    assert RetryPolicy.from_spec({"max_attempts": 2}).on == RetryPolicy().on
