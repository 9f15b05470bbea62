"""/w: compose registered services into workflows."""

from machinery.api.blueprint import Blueprint
from machinery.api.paging import page, page_size
from machinery.api.services import check_name
from machinery.errors import Conflict
from machinery.schemas import PageArgs, WorkflowIn, WorkflowOut, WorkflowReplace, page_of
from machinery.store import store

blp = Blueprint("workflows", __name__, url_prefix="/w", description="Ordered services to call.")


@blp.route("", methods=["POST"], strict_slashes=False)
@blp.arguments(WorkflowIn)
@blp.response(201, WorkflowOut)
@blp.alt_response(409, description="A listed service is not registered, or the name is taken")
def register_workflow(definition):
    """Register a workflow of registered services (again, identically, is a no-op)."""
    require_services(definition["services"])
    return store().workflows.register(definition)


@blp.route("", methods=["GET"], strict_slashes=False)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(WorkflowOut))
def list_workflows(args):
    """List the workflows by name."""
    items, total = store().workflows.list(args["page"], page_size(args))
    return page(items, total, args)


@blp.route("/<ref>", methods=["GET"])
@blp.response(200, WorkflowOut)
def get_workflow(ref):
    """Show a workflow by name or id."""
    return store().workflows.get(ref)


@blp.route("/<name>", methods=["PUT"])
@blp.arguments(WorkflowReplace)
@blp.response(200, WorkflowOut)
def replace_workflow(definition, name):
    """Replace a workflow's definition."""
    check_name(definition, name)
    store().workflows.require(name)
    require_services(definition["services"])
    return store().workflows.replace(name, {**definition, "name": name})


@blp.route("/<name>", methods=["DELETE"])
@blp.response(204)
def delete_workflow(name):
    """Remove a workflow; its events stay readable."""
    store().workflows.delete(name)


def require_services(names: list[str]) -> None:
    """Refuse a workflow that calls services not registered, naming every one of them."""
    registered = store().services.by_names(names)
    missing = sorted({name for name in names if name not in registered})
    if missing:
        raise Conflict(
            f"These services are not registered: {', '.join(missing)}. "
            "Register them with POST /s first.",
            missing_services=missing,
        )
