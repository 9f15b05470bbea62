"""The states an event goes through and the kinds of step failure."""

RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"

STATES = (RUNNING, SUCCEEDED, FAILED)
FINAL_STATES = frozenset({SUCCEEDED, FAILED})

CONNECTION_ERROR = "connection_error"
TIMEOUT = "timeout"
HTTP_STATUS = "http_status"
INVALID_RESPONSE = "invalid_response"
CONTRACT_VIOLATION = "contract_violation"
REFUSED_ADDRESS = "refused_address"
RESPONSE_TOO_LARGE = "response_too_large"
# A required input whose path finds nothing in the running data: the service is not called.
MISSING_INPUT = "missing_input"
# Not a step's failure: the event was cut off (the database went away) before its end was kept.
INTERRUPTED = "interrupted"

FAILURE_KINDS = (
    CONNECTION_ERROR,
    TIMEOUT,
    HTTP_STATUS,
    INVALID_RESPONSE,
    CONTRACT_VIOLATION,
    REFUSED_ADDRESS,
    RESPONSE_TOO_LARGE,
    MISSING_INPUT,
)
