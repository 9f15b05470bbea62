"""Machinery's domain errors: what a client can act on, raised anywhere below the API (which
answers each as JSON, see api/errors.py)."""


class MachineryError(Exception):
    """An error a client can act on: an HTTP status, a message and machine-readable details."""

    status = 400

    def __init__(self, message: str, **details):
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidJSON(MachineryError):
    """A request body that is not JSON Machinery accepts (see strict_json.parse_json); it is
    refused whole, never read in part."""

    status = 400


class NotFound(MachineryError):
    status = 404


class Forbidden(MachineryError):
    status = 403


class Conflict(MachineryError):
    status = 409


class Gone(MachineryError):
    status = 410


class InvalidData(MachineryError):
    """Well-formed JSON whose fields are wrong; `errors` maps each field to its messages."""

    status = 422


class PayloadTooLarge(MachineryError):
    status = 413


class StoreUnavailable(MachineryError):
    status = 503


def error_body(status: int, message: str, **details) -> dict:
    """The JSON shape every error answers with."""
    return {"code": status, "message": message, **details}
