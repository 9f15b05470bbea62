"""OpenTelemetry spans, exported over OTLP when MACHINERY_OTEL_EXPORT=otlp (off by default; the
`otel` extra installs the SDK): a span for each run of an event, in the trace the event continues,
and a client span for each call to a service, whose id is the parent span id the service receives
in its traceparent. The exporter reads the standard OTEL_EXPORTER_OTLP_* variables.
"""

import contextvars
from dataclasses import dataclass, field

from machinery.engine.executor import Listener, RunState

SERVICE_NAME = "machinery"
# The trace id the next root span takes: an event sent without a traceparent is the trace its
# id names, as the calls it makes already say.
_next_trace_id: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "machinery_next_trace_id", default=None
)


class Telemetry:
    """A tracer over its own provider, exporting to `exporter` (an OTLP one when None)."""

    def __init__(self, exporter=None, batch: bool = True):
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
        from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

        class EventTraceIds(RandomIdGenerator):
            def generate_trace_id(self) -> int:
                chosen = _next_trace_id.get()
                return chosen if chosen is not None else super().generate_trace_id()

        if exporter is None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter()
        self.provider = TracerProvider(
            resource=Resource.create({"service.name": SERVICE_NAME}), id_generator=EventTraceIds()
        )
        processor = BatchSpanProcessor if batch else SimpleSpanProcessor
        self.provider.add_span_processor(processor(exporter))
        self.tracer = self.provider.get_tracer("machinery")

    def for_event(self, event: dict, trace_id: str) -> "EventSpans":
        """The spans of one run of an event, its own span started."""
        from opentelemetry import trace

        attributes = {
            "machinery.event_id": event["id"],
            "machinery.workflow": event.get("workflow", ""),
            "machinery.run": event.get("run", 0),
        }
        name = f"event {event.get('workflow', '')}"
        parent = event.get("parent_span_id")
        if parent:  # continue the caller's span
            remote = trace.SpanContext(
                trace_id=int(trace_id, 16),
                span_id=int(parent, 16),
                is_remote=True,
                trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED),
            )
            context = trace.set_span_in_context(trace.NonRecordingSpan(remote))
            span = self.tracer.start_span(name, context=context, attributes=attributes)
        else:
            token = _next_trace_id.set(int(trace_id, 16))
            try:
                span = self.tracer.start_span(name, context=None, attributes=attributes)
            finally:
                _next_trace_id.reset(token)
        return EventSpans(self, span)

    def shutdown(self) -> None:
        self.provider.shutdown()


@dataclass
class EventSpans(Listener):
    """The event's span, ended with the event (or when its run stops), and its calls' spans."""

    telemetry: Telemetry
    span: object
    calls: dict = field(default_factory=dict)

    def start_call(self, key: tuple[int, str], service: str, address: str) -> str:
        """Start the span of a call (`key`: its step's index and map item, or ""); its id, for the
        traceparent the service receives."""
        index = key[0]
        from opentelemetry import trace

        span = self.telemetry.tracer.start_span(
            f"call {service}",
            context=trace.set_span_in_context(self.span),
            kind=trace.SpanKind.CLIENT,
            attributes={"machinery.step": index, "machinery.service": service, "url.full": address},
        )
        self.calls[key] = span
        return format(span.get_span_context().span_id, "016x")

    def end_call(self, key: tuple[int, str], status_code: int | None, failure: str | None) -> None:
        from opentelemetry.trace import Status, StatusCode

        span = self.calls.pop(key, None)
        if span is None:
            return
        if status_code is not None:
            span.set_attribute("http.response.status_code", status_code)
        if failure is not None:
            span.set_status(Status(StatusCode.ERROR, failure))
        span.end()

    def on_event_end(self, state: RunState) -> None:
        from opentelemetry.trace import Status, StatusCode

        self.span.set_attribute("machinery.status", state.status)
        if state.status == "failed":
            message = (state.error or {}).get("message", "")
            self.span.set_status(Status(StatusCode.ERROR, message))
        self.end()

    def end(self) -> None:
        """End the event's span (once): at the event's end, or when this run of it stops."""
        if self.span.is_recording():
            self.span.end()
