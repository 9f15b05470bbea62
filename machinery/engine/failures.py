"""How a call to a service fails: raised by callers, recorded by the executor."""


class StepFailed(Exception):
    """A service call that did not give a JSON object back.

    `sent`: whether the request may have reached the service (False when the connection was
    refused, so the service never saw it). `retry_after`: seconds the service asked to wait.
    """

    def __init__(
        self,
        kind: str,
        message: str,
        status_code: int | None = None,
        sent: bool = True,
        retry_after: float | None = None,
    ):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status_code = status_code
        self.sent = sent
        self.retry_after = retry_after
