"""Every request's id (the client's X-Request-Id, or a new one), echoed on its answer, and the
trace it continues (a W3C traceparent), both bound to the log lines written while it is served."""

from flask import Flask, g, request

from machinery import logs, tracing


def init_app(app: Flask) -> None:
    app.before_request(_begin)
    app.after_request(_echo)
    app.teardown_request(_end)


def current_request_id() -> str | None:
    return g.get("request_id")


def current_trace_id() -> str | None:
    """The trace id of the traceparent the request came with, if valid."""
    return g.get("trace_id")


def current_parent_span_id() -> str | None:
    """The span id of the traceparent the request came with, if valid: the caller's span."""
    return g.get("parent_span_id")


def _begin() -> None:
    g.request_id = tracing.request_id(request.headers.get(tracing.REQUEST_ID_HEADER))
    parsed = tracing.parse_traceparent(request.headers.get(tracing.TRACEPARENT_HEADER))
    g.trace_id, g.parent_span_id = parsed or (None, None)
    g.log_token = logs.bind(request_id=g.request_id, trace_id=g.trace_id)


def _echo(response):
    if "request_id" not in g:  # refused before _begin ran (a body too large, say)
        g.request_id = tracing.request_id(request.headers.get(tracing.REQUEST_ID_HEADER))
    response.headers[tracing.REQUEST_ID_HEADER] = g.request_id
    return response


def _end(error=None) -> None:
    token = g.pop("log_token", None)
    if token is not None:
        try:
            logs.unbind(token)
        except ValueError:  # bound in another context (a copied one): it ends with it
            pass
