"""The states an event goes through and the kinds of step failure."""

QUEUED = "queued"  # accepted and stored, waiting for a worker
RUNNING = "running"  # held by a process (its lease) that is running its steps
WAITING = "waiting"  # a callback service has the step; nothing holds the event until it posts
SUCCEEDED = "succeeded"
FAILED = "failed"
CANCELLED = "cancelled"

# What a waiting event waits for: a callback service's result, or a wait step's time.
WAITING_FOR_CALLBACK = "callback"
WAITING_FOR_TIME = "timer"

STATES = (QUEUED, RUNNING, WAITING, SUCCEEDED, FAILED, CANCELLED)
FINAL_STATES = frozenset({SUCCEEDED, FAILED, CANCELLED})
# What a redrive may run again, from the step that did not complete.
REDRIVABLE_STATES = frozenset({FAILED, CANCELLED})

CONNECTION_ERROR = "connection_error"
TIMEOUT = "timeout"
HTTP_STATUS = "http_status"
INVALID_RESPONSE = "invalid_response"
CONTRACT_VIOLATION = "contract_violation"
REFUSED_ADDRESS = "refused_address"
RESPONSE_TOO_LARGE = "response_too_large"
# A required input whose path finds nothing in the running data: the service is not called.
MISSING_INPUT = "missing_input"
# A callback service's step: no callback URL can be made (Machinery's public URL or its callback
# secrets are not configured), or the callback did not come before the step's deadline (timeout).
CALLBACK_UNAVAILABLE = "callback_unavailable"
# The event was cut off (its process died, or the database went away) with a step that may have
# reached a service that may not be called twice: it fails rather than call it again.
INTERRUPTED = "interrupted"
# A construct found data it cannot use: a map's items that are not an array, a wait's time that
# is not one.
INVALID_DATA = "invalid_data"

# A secret a service's auth names is not set (MACHINERY_SECRET_<NAME>, MACHINERY_SECRETS_DIR): the
# service is not called.
MISSING_SECRET = "missing_secret"

FAILURE_KINDS = (
    CONNECTION_ERROR,
    TIMEOUT,
    HTTP_STATUS,
    INVALID_RESPONSE,
    CONTRACT_VIOLATION,
    REFUSED_ADDRESS,
    RESPONSE_TOO_LARGE,
    MISSING_INPUT,
    CALLBACK_UNAVAILABLE,
    INTERRUPTED,
    INVALID_DATA,
    MISSING_SECRET,
)
