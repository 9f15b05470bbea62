"""What comes in and what goes out: the marshmallow schemas of services, workflows and events."""

from datetime import UTC, datetime

from flask import current_app
from marshmallow import INCLUDE, Schema, ValidationError, fields, validate, validates_schema
from marshmallow import missing as missing_

from machinery import states
from machinery.config import MAX_PAGE, MAX_PAGE_SIZE
from machinery.credentials import MissingSecret, auth_problems
from machinery.engine.addresses import RefusedAddress
from machinery.graph.render import FORMATS
from machinery.language.parse import (
    CONSTRUCT_KEYS,
    DefinitionError,
    parse_call,
    parse_operations,
    raw_blocks,
)
from machinery.language.types import TYPES, canonical_type
from machinery.store.listing import MAX_CURSOR_LENGTH
from machinery.store.webhooks import DELIVERY_STATES

NAME = validate.Regexp(
    r"^[A-Za-z0-9._-]{1,64}$", error="Use 1 to 64 letters, digits, '-', '_' or '.'."
)
FIELD_NAME = validate.Regexp(
    r"^[A-Za-z0-9_-]{1,64}$", error="Use 1 to 64 letters, digits, '-' or '_'."
)


class JsonBoolean(fields.Boolean):
    """true or false, as JSON spells them (not "yes", 1 or "on")."""

    truthy = frozenset({True})
    falsy = frozenset({False})


class TypeName(fields.String):
    """A field type, stored in its canonical spelling."""

    def _deserialize(self, value, attr, data, **kwargs):
        name = super()._deserialize(value, attr, data, **kwargs)
        try:
            return canonical_type(name)
        except ValueError:
            raise ValidationError(
                f"Unknown type {name!r}; use one of {', '.join(TYPES)} "
                "(or integer, number, boolean)."
            ) from None


class _Key(fields.Nested):
    """Read from a dict by key alone: `items` is a key here, never dict.items."""

    def get_value(self, obj, attr, accessor=None, default=missing_):
        if isinstance(obj, dict):
            return obj.get(attr, missing_)
        return super().get_value(obj, attr, accessor, default)


class _InnerTypes(Schema):
    """An array's `items` (the type of its elements) and an object's `fields`, at any depth."""

    items = _Key(lambda: ElementSchema())
    fields = fields.List(fields.Nested(lambda: FieldSchema()))

    @validates_schema
    def _inner_types_fit(self, data, **kwargs):
        if "items" in data and data.get("type") != "array":
            raise ValidationError("Only an array declares items.", "items")
        if "fields" in data:
            if data.get("type") != "object":
                raise ValidationError("Only an object declares fields.", "fields")
            names = [field["name"] for field in data["fields"]]
            repeated = sorted({name for name in names if names.count(name) > 1})
            if repeated:
                raise ValidationError(f"Field names repeat: {', '.join(repeated)}.", "fields")


class ElementSchema(_InnerTypes):
    """The type of an array's elements."""

    type = TypeName(required=True)


class FieldSchema(_InnerTypes):
    name = fields.String(required=True, validate=FIELD_NAME)
    type = TypeName(required=True)
    description = fields.String(load_default="")
    required = JsonBoolean(load_default=True)


def at_most(setting: str, what: str):
    """A validator refusing a list longer than a configured limit."""

    def check(value):
        limit = current_app.config[setting]
        if len(value) > limit:
            raise ValidationError(f"At most {limit} {what}.")

    return check


def _field_list():
    return fields.List(
        fields.Nested(FieldSchema), load_default=list, validate=at_most("MAX_FIELDS", "fields")
    )


class _Typed(Schema):
    inputs = _field_list()
    outputs = _field_list()

    @validates_schema
    def _unique_field_names(self, data, **kwargs):
        for key in ("inputs", "outputs"):
            names = [field["name"] for field in data.get(key, [])]
            repeated = sorted({name for name in names if names.count(name) > 1})
            if repeated:
                raise ValidationError(f"Field names repeat: {', '.join(repeated)}.", key)


SECONDS = validate.Range(min=0.001, max=3600)


class RetryOn(fields.Field):
    """A failure a retry policy covers: a failure kind, or an HTTP status."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, int) and not isinstance(value, bool) and 400 <= value <= 599:
            return value
        if value in (states.CONNECTION_ERROR, states.TIMEOUT, states.INVALID_RESPONSE):
            return value
        raise ValidationError(
            "An HTTP status from 400 to 599, or connection_error, timeout or invalid_response."
        )


class TimeoutSchema(Schema):
    connect = fields.Float(validate=SECONDS, metadata={"description": "Seconds to connect"})
    read = fields.Float(validate=SECONDS, metadata={"description": "Seconds to wait for answers"})


class TimeoutField(fields.Field):
    """A timeout: seconds (for connecting and for the answer alike), or {"connect", "read"}."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, int | float) and not isinstance(value, bool):
            SECONDS(value)
            return value
        if isinstance(value, dict):
            return TimeoutSchema().load(value)
        raise ValidationError('Seconds, or {"connect": seconds, "read": seconds}.')


class RetrySchema(Schema):
    """When and how to call a service again, in the manner of Step Functions' Retry."""

    max_attempts = fields.Integer(validate=validate.Range(min=1, max=20), load_default=3)
    interval = fields.Float(validate=validate.Range(min=0, max=3600), load_default=1.0)
    backoff_rate = fields.Float(validate=validate.Range(min=1, max=10), load_default=2.0)
    max_delay = fields.Float(validate=validate.Range(min=0, max=3600), load_default=30.0)
    jitter = JsonBoolean(load_default=True)
    on = fields.List(
        RetryOn(),
        metadata={"description": "Failure kinds and HTTP statuses to retry"},
    )


def callable_address(address: str) -> None:
    """Refuse an address the app's address policy never lets it call (literal IPs and names
    only: no DNS lookup, the name may not resolve yet where Machinery is deployed)."""
    try:
        current_app.extensions["machinery.addresses"].check_registration(address)
    except RefusedAddress as refused:
        raise ValidationError(str(refused)) from None


class ServiceIn(_Typed):
    name = fields.String(required=True, validate=NAME)
    address = fields.Url(
        required=True,
        schemes={"http", "https"},
        require_tld=False,
        validate=[validate.Length(max=2048), callable_address],
    )
    idempotent = JsonBoolean(
        load_default=False,
        metadata={"description": "Whether a repeated request does no harm, so may be resent"},
    )
    mode = fields.String(
        load_default="request",
        validate=validate.OneOf(["request", "callback"]),
        metadata={
            "description": "request: the answer is the result; callback: the service posts "
            "the result later to the URL in X-Machinery-Callback-Url"
        },
    )
    timeout = TimeoutField()
    retry = fields.Nested(RetrySchema)
    auth = fields.Dict(
        metadata={
            "description": 'How the service is authenticated: {"type": "bearer", "secret": '
            '"<name>"}, {"type": "header", "name": "X-Api-Key", "secret": "<name>"} or '
            '{"type": "basic", "username": "<user>", "secret": "<name>"}; the secret is read by '
            "name from MACHINERY_SECRET_<NAME> or MACHINERY_SECRETS_DIR/<name>, never stored"
        }
    )

    @validates_schema
    def _auth_can_be_sent(self, data, **kwargs):
        auth = data.get("auth")
        if auth is None:
            return
        problems = auth_problems(auth)
        if problems:
            raise ValidationError({"auth": problems})
        secrets = current_app.extensions["machinery.runtime"].secrets
        if not secrets.has(auth["secret"]):
            raise ValidationError(
                f"Machinery cannot authenticate to this service: {MissingSecret(auth['secret'])}.",
                "auth",
            )

    @validates_schema
    def _callbacks_can_be_made(self, data, **kwargs):
        if data.get("mode") == "callback":
            if not current_app.extensions["machinery.runtime"].callbacks.configured:
                raise ValidationError(
                    "A callback service needs Machinery to give it a URL to post its result "
                    "to: set MACHINERY_PUBLIC_URL (how services reach Machinery) and "
                    "MACHINERY_CALLBACK_SECRETS first.",
                    "mode",
                )


class ServiceReplace(ServiceIn):
    name = fields.String(validate=NAME)


class StepSchema(Schema):
    service = fields.String(required=True, validate=NAME)
    catch = fields.Raw()
    timeout = TimeoutField()
    retry = fields.Nested(RetrySchema)
    retry_non_idempotent = JsonBoolean(
        metadata={"description": "Resend even a request that may have reached the service"}
    )
    input = fields.Dict(
        keys=fields.String(validate=FIELD_NAME),
        metadata={"description": "Service input -> a path into the running data, or a literal"},
    )
    output = fields.Dict(
        keys=fields.String(validate=FIELD_NAME),
        values=fields.String(),
        metadata={"description": "Name in the running data -> a path in the service's answer"},
    )


class StepEntry(fields.Field):
    """A workflow step: a service name, a service with input and output mappings (and a catch),
    or a construct (choice, parallel, map, wait), checked by the language's parser."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            NAME(value)
            return value
        if not isinstance(value, dict):
            raise ValidationError(
                'A step is a service name, a {"service": ...} object, or a choice, parallel, '
                "map or wait."
            )
        if not any(key in value for key in CONSTRUCT_KEYS) and "catch" not in value:
            step = StepSchema().load(value)
            try:
                parse_call(step, 0)
            except DefinitionError as error:
                raise ValidationError(str(error)) from None
            return step
        # The shape of each call it holds; what the construct means is checked with the whole
        # workflow, where each problem is named by its place (services[2].choice[1].steps[0]).
        _check_calls(value)
        return value

    def _jsonschema_type_mapping(self):
        return {"oneOf": [{"type": "string"}, {"type": "object"}]}


def _check_calls(entry: dict) -> None:
    """Check the shape of every call object a construct holds, as a top-level one's."""
    if "service" in entry:
        StepSchema().load(entry)
    for block in raw_blocks(entry):
        for inner in block if isinstance(block, list) else []:
            if isinstance(inner, str):
                NAME(inner)
            elif isinstance(inner, dict):
                _check_calls(inner)


class Operations(fields.Raw):
    """A workflow's operations: a list of set, rename, remove and pick (`{}` means none)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, list | dict) or (isinstance(value, dict) and value):
            raise ValidationError("A list of operations.")
        return value


class WorkflowIn(_Typed):
    name = fields.String(required=True, validate=NAME)
    services = fields.List(
        StepEntry(),
        required=True,
        validate=[validate.Length(min=1), at_most("MAX_STEPS", "steps")],
    )
    operations = Operations(load_default=list, validate=at_most("MAX_STEPS", "operations"))
    durability = fields.String(
        load_default="step",
        validate=validate.OneOf(["step", "event"]),
        metadata={
            "description": "step: the run state is saved after every step (a crash resumes after "
            "the last completed step); event: once, at the end (fewer writes; a crash runs the "
            "event again where every service is idempotent)"
        },
    )

    @validates_schema
    def _operations_fit_the_steps(self, data, **kwargs):
        if "services" in data:
            try:
                parse_operations(data.get("operations"), len(data["services"]))
            except DefinitionError as error:
                raise ValidationError(str(error), "operations") from None


class WorkflowReplace(WorkflowIn):
    name = fields.String(validate=NAME)


class ServiceOut(Schema):
    service_id = fields.String(attribute="id")
    name = fields.String()
    version = fields.Integer()
    address = fields.String()
    inputs = fields.List(fields.Nested(FieldSchema))
    outputs = fields.List(fields.Nested(FieldSchema))
    idempotent = fields.Boolean()
    mode = fields.String()
    timeout = fields.Raw()
    retry = fields.Dict()
    auth = fields.Dict(metadata={"description": "How it is authenticated: names, never values"})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class WorkflowOut(Schema):
    workflow_id = fields.String(attribute="id")
    name = fields.String()
    version = fields.Integer()
    services = fields.List(fields.Raw())
    inputs = fields.List(fields.Nested(FieldSchema))
    outputs = fields.List(fields.Nested(FieldSchema))
    operations = fields.Raw()
    durability = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class FlowWarning(Schema):
    """Something that may not be there when events run: a workflow output nothing produces,
    or a required input fed by an optional value."""

    output = fields.String()
    step = fields.Integer()
    service = fields.String()
    field = fields.String()
    message = fields.String()


class WorkflowSaved(WorkflowOut):
    """A workflow as registered, with what its definition-time check warns of."""

    warnings = fields.List(fields.Nested(FlowWarning))


class Lineage(Schema):
    workflow = fields.String()
    version = fields.Integer()
    steps = fields.List(fields.Dict(), metadata={"description": "Where each step input comes from"})
    outputs = fields.Dict(metadata={"description": "Where each workflow output comes from"})


class VersionArgs(Schema):
    version = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1))


class ForceArgs(Schema):
    force = fields.Boolean(
        load_default=False, metadata={"description": "Replace even if workflows break"}
    )


class WorkflowImpact(Schema):
    workflow = fields.String()
    version = fields.Integer()
    compatible = fields.Boolean()
    problems = fields.List(fields.Dict(), metadata={"description": "What would no longer flow"})
    lost_outputs = fields.List(fields.Dict(), metadata={"description": "Outputs no longer made"})


class ImpactOut(Schema):
    service = fields.String()
    compatible = fields.Boolean()
    workflows = fields.List(fields.Nested(WorkflowImpact))


class VersionOut(Schema):
    version = fields.Integer()
    updated_at = fields.DateTime()


class EventData(Schema):
    """The event data itself, any JSON object; it is checked against the workflow's inputs."""

    class Meta:
        unknown = INCLUDE


class CallbackResult(Schema):
    """The result a callback service posts: a JSON object checked against its outputs."""

    class Meta:
        unknown = INCLUDE


class IdempotencyArgs(Schema):
    key = fields.String(
        data_key="Idempotency-Key",
        validate=validate.Regexp(r"^[\x21-\x7e]{1,255}$", error="1 to 255 printable characters."),
        metadata={"description": "Sending the same key again answers the original event"},
    )


def durability_override():
    return fields.String(
        validate=validate.OneOf(["step", "event"]),
        metadata={"description": "Overrides the workflow's durability for this event"},
    )


class RunOptions(Schema):
    """How to run an event, given beside its data in the wrapped forms."""

    async_ = JsonBoolean(
        data_key="async",
        attribute="async",
        metadata={"description": "Answer 202 at once; a worker runs the event"},
    )
    callback_url = fields.String(
        validate=validate.Length(max=2048),
        metadata={"description": "Where to POST the event, signed, when it ends"},
    )
    durability = durability_override()


class EventSubmission(RunOptions):
    workflow = fields.String(required=True, metadata={"description": "Workflow name or id"})
    data = fields.Dict(required=True)


class QueryBoolean(fields.Boolean):
    """true or false, as a query string spells them."""

    truthy = frozenset({"true"})
    falsy = frozenset({"false"})


class RunArgs(Schema):
    async_ = QueryBoolean(
        data_key="async",
        attribute="async",
        metadata={"description": "Answer 202 at once; a worker runs the event"},
    )
    durability = durability_override()


class WaitArgs(Schema):
    wait = fields.Float(
        validate=validate.Range(min=0, max=60),
        metadata={"description": "Seconds to wait for the event to end (at most 60)"},
    )


class GraphArgs(Schema):
    format = fields.String(
        load_default="json",
        validate=validate.OneOf(FORMATS),
        metadata={"description": "json (nodes and edges), mermaid, dot (Graphviz) or svg"},
    )


class GraphVersionArgs(GraphArgs, VersionArgs):
    pass


class GraphNodeOut(Schema):
    id = fields.String()
    kind = fields.String(
        metadata={
            "description": "inputs, outputs, call, operation, choice, parallel, join, map, "
            "collect or wait"
        }
    )
    label = fields.String()
    detail = fields.String()
    step = fields.Integer()
    outcome = fields.String(
        metadata={
            "description": "In an event's graph: succeeded, failed, running, waiting or not_reached"
        }
    )
    duration_ms = fields.Float()
    attempts = fields.Integer()
    status_code = fields.Integer(allow_none=True)


class GraphEdgeOut(Schema):
    source = fields.String()
    target = fields.String()
    control = fields.Boolean(metadata={"description": "Whether the target runs after the source"})
    fields_ = fields.List(
        fields.String(),
        data_key="fields",
        attribute="fields",
        metadata={"description": "The fields that flow along the edge (from the lineage)"},
    )
    label = fields.String(
        metadata={"description": "On a control edge: the branch it takes (condition, catch)"}
    )


class GraphEventOut(Schema):
    event_id = fields.String()
    status = fields.String()


class GraphOut(Schema):
    """A workflow (or an event's run of it) as nodes and edges."""

    workflow = fields.String()
    version = fields.Integer(allow_none=True)
    event = fields.Nested(GraphEventOut)
    nodes = fields.List(fields.Nested(GraphNodeOut))
    edges = fields.List(fields.Nested(GraphEdgeOut))


class StepFailureOut(Schema):
    step = fields.Integer()
    service = fields.String()
    address = fields.String()
    kind = fields.String(metadata={"enum": list(states.FAILURE_KINDS)})
    status_code = fields.Integer(allow_none=True)
    attempts = fields.Integer(metadata={"description": "How many times the service was called"})
    message = fields.String()
    place = fields.String(
        metadata={"description": "Where the failed step is written, when nested or a construct"}
    )
    within = fields.String(
        metadata={"description": "The parallel, map or sub-workflow step it failed inside"}
    )
    workflow = fields.String(metadata={"description": "The sub-workflow whose step failed"})
    instance = fields.String(metadata={"description": "The map item (by position) it ran for"})


class EpochTime(fields.DateTime):
    """A time kept as seconds since the epoch, shown as an ISO 8601 date-time (0: null)."""

    def _serialize(self, value, attr, obj, **kwargs):
        if not value:
            return None
        return super()._serialize(datetime.fromtimestamp(value, UTC), attr, obj, **kwargs)


class WebhookAttemptOut(Schema):
    attempt = fields.Integer()
    at = fields.DateTime()
    duration_ms = fields.Float()
    status_code = fields.Integer(allow_none=True, metadata={"description": "null: no answer"})
    error_kind = fields.String(metadata={"enum": list(states.FAILURE_KINDS)})
    error = fields.String()


class WebhookOut(Schema):
    status = fields.String(
        metadata={
            "enum": list(DELIVERY_STATES),
            "description": "pending: to be sent when the event ends, or to be tried again",
        }
    )
    attempts = fields.List(fields.Nested(WebhookAttemptOut))
    next_at = EpochTime(
        allow_none=True,
        metadata={"description": "When it is tried next (null: as soon as the event ends)"},
    )
    deadline = EpochTime(metadata={"description": "The last time it is tried"})


class EventOut(Schema):
    event_id = fields.String(attribute="id")
    workflow_id = fields.String()
    workflow = fields.String()
    workflow_version = fields.Integer()
    status = fields.String(metadata={"enum": list(states.STATES)})
    acked_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)
    outputs = fields.Dict(allow_none=True)
    error = fields.Nested(StepFailureOut, allow_none=True)
    message = fields.String(metadata={"description": "Why the event failed (failed events only)"})
    current_step = fields.Integer(
        allow_none=True, metadata={"description": "The step a running event is at"}
    )
    run = fields.Integer(metadata={"description": "How many times the event was redriven"})
    redrives = fields.List(fields.Dict(), metadata={"description": "Each redrive, oldest first"})
    cancel_requested = fields.Boolean()
    callback_url = fields.String()
    durability = fields.String(
        metadata={"enum": ["step", "event"], "description": "When its run state is saved"}
    )
    webhook = fields.Nested(
        WebhookOut, metadata={"description": "The delivery of the event's end to callback_url"}
    )
    trace_id = fields.String(
        metadata={"description": "The W3C trace the event continues (from its traceparent)"}
    )
    request_id = fields.String(metadata={"description": "The X-Request-Id that sent it"})


class StepRequestOut(Schema):
    headers = fields.Dict(metadata={"description": "The headers sent, credentials redacted"})
    body = fields.Dict(allow_none=True, metadata={"description": "The JSON body sent"})
    body_omitted = fields.Dict(metadata={"description": "The body's size, when too large to keep"})


class AttemptOut(Schema):
    attempt = fields.Integer()
    started_at = fields.DateTime()
    duration_ms = fields.Float()
    outcome = fields.String(metadata={"enum": ["succeeded", "failed"]})
    status_code = fields.Integer(allow_none=True)
    error_kind = fields.String()
    error = fields.String()


class StepOut(Schema):
    """A step's record in the event's history: a call (`index`, `service`...) or a construct
    (`construct`: what it did, `outcome`)."""

    index = fields.Integer(metadata={"description": "The call (absent in a construct's record)"})
    construct = fields.String(
        validate=validate.OneOf(("choice", "parallel", "map", "wait", "workflow", "catch")),
        metadata={"description": "The construct the record is of (absent in a call's record)"},
    )
    outcome = fields.String(
        metadata={"description": "A construct's: succeeded, failed; a wait's: waiting, cancelled"}
    )
    branch = fields.String(
        metadata={"description": "The branch a choice took: choice[N] or otherwise"}
    )
    branches = fields.Integer(metadata={"description": "The branches a parallel ran"})
    items = fields.Integer(  # not "items" in the record: a dict's items() would be read
        attribute="item_count", metadata={"description": "The items a map ran its steps for"}
    )
    wake_at = fields.DateTime(metadata={"description": "When a wait ends"})
    callee = fields.String(metadata={"description": "The workflow a workflow step ran"})
    callee_version = fields.Integer(metadata={"description": "Its version"})
    caught_error = fields.Dict(
        metadata={"description": "The failure a catch took (kind, message, where)"}
    )
    place = fields.String(
        metadata={"description": "Where the step is written, when nested in a construct"}
    )
    instance = fields.String(metadata={"description": "The map item (by position) it ran for"})
    caught = fields.Boolean(metadata={"description": "A catch took its failure"})
    workflow = fields.String(metadata={"description": "The sub-workflow the step belongs to"})
    run = fields.Integer(metadata={"description": "The run of the event (0, then each redrive)"})
    service = fields.String()
    service_version = fields.Integer()
    address = fields.String()
    started_at = fields.DateTime()
    duration_ms = fields.Float()
    status_code = fields.Integer(allow_none=True)
    outputs = fields.Dict(allow_none=True)
    error = fields.Dict(allow_none=True)
    attempts = fields.List(fields.Nested(AttemptOut))
    request = fields.Nested(
        StepRequestOut, metadata={"description": "What the step sent (its last attempt)"}
    )


class EventDetailOut(EventOut):
    data = fields.Dict()
    steps = fields.List(fields.Nested(StepOut))


class DryRunIn(Schema):
    data = fields.Dict(metadata={"description": "The event data; left out, made up"})
    samples = fields.Dict(
        load_default=dict,
        metadata={"description": "Answers to use, by step index or service; others made up"},
    )
    branches = fields.Dict(
        keys=fields.String(),
        values=fields.Raw(),
        load_default=dict,
        metadata={
            "description": "The branch to take at a choice, by its place (services[0]): a "
            'branch\'s index, or "otherwise"; others follow the data'
        },
    )


class DryRunUnsavedIn(DryRunIn):
    workflow = fields.Nested(WorkflowIn, required=True)


class DryRunStep(Schema):
    index = fields.Integer()
    place = fields.String(metadata={"description": "Where the step is written, when nested"})
    instance = fields.String(metadata={"description": "The map item it ran for"})
    service = fields.String()
    request = fields.Dict()
    response = fields.Raw()
    sampled = fields.Boolean(metadata={"description": "Whether the answer was made up"})


class DryRunOut(Schema):
    workflow = fields.String()
    status = fields.String(metadata={"enum": list(states.STATES)})
    data = fields.Dict()
    outputs = fields.Dict()
    error = fields.Nested(StepFailureOut, allow_none=True)
    steps = fields.List(fields.Nested(DryRunStep))
    warnings = fields.List(fields.Nested(FlowWarning))


class PageArgs(Schema):
    """Which page of a listing: the first, or the one after a cursor (`next` of the page
    before); `page`, a page number, is kept for older clients and is slow on long listings."""

    cursor = fields.String(
        validate=validate.Length(min=1, max=MAX_CURSOR_LENGTH),
        metadata={"description": "The `next` of the previous page: answers the page after it"},
    )
    page_size = fields.Integer(load_default=None, validate=validate.Range(min=1, max=MAX_PAGE_SIZE))
    count = QueryBoolean(
        metadata={
            "description": "Count the whole listing into `total` (it reads every match; the "
            "default is not to count, unless `page` is given)"
        }
    )
    page = fields.Integer(
        validate=validate.Range(min=1, max=MAX_PAGE),
        metadata={
            "description": "Deprecated: a page number. It skips the items before the page and "
            "counts them all, so it slows as the listing grows; use cursor"
        },
    )

    @validates_schema
    def _page_or_cursor(self, data, **kwargs):
        if "page" in data and "cursor" in data:
            raise ValidationError("Give cursor or page, not both.", "cursor")


class EventListArgs(PageArgs):
    workflow = fields.String(metadata={"description": "Workflow name or id"})
    status = fields.String(validate=validate.OneOf(states.STATES))


class ErrorOut(Schema):
    """Every error: a status code, a message, and details where there are some."""

    class Meta:
        unknown = INCLUDE  # details beyond those listed may be added

    code = fields.Integer()
    message = fields.String()
    errors = fields.Dict(metadata={"description": "Field name -> messages, for invalid fields"})
    problems = fields.List(
        fields.Dict(), metadata={"description": "Why a workflow's data cannot flow"}
    )
    warnings = fields.List(fields.Dict(), metadata={"description": "Outputs nothing produces"})
    missing_services = fields.List(fields.String(), metadata={"description": "Not registered"})
    workflows = fields.List(fields.Raw(), metadata={"description": "Workflows in the way"})
    event_id = fields.String(metadata={"description": "The event the error is about"})


def page_of(item_schema: type[Schema]) -> type[Schema]:
    """A schema for one page of a listing of items."""
    return Schema.from_dict(
        {
            "items": fields.List(fields.Nested(item_schema)),
            "page": fields.Integer(
                metadata={"description": "The page number: on the first page and with ?page="}
            ),
            "page_size": fields.Integer(),
            "total": fields.Integer(
                metadata={
                    "description": "How many items the listing holds: with ?count=true or ?page="
                }
            ),
            "next": fields.String(
                allow_none=True,
                metadata={"description": "Pass as ?cursor= for the next page; null on the last"},
            ),
        },
        name=f"{item_schema.__name__.removesuffix('Out')}Page",
    )
