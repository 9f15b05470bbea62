"""/w: compose registered services into workflows, checked for data flow when saved."""

from machinery.api.blueprint import Blueprint
from machinery.api.context import runtime, store
from machinery.api.graphs import GRAPH_CONTENT, answer_graph
from machinery.api.paging import page, page_request
from machinery.api.services import check_name
from machinery.contracts import analyse, check_definition, service_names, workflow_loader
from machinery.graph.sources import workflow_graph
from machinery.orchestrator import dry_run
from machinery.schemas import (
    DryRunIn,
    DryRunOut,
    DryRunUnsavedIn,
    ErrorOut,
    GraphOut,
    GraphVersionArgs,
    Lineage,
    PageArgs,
    VersionArgs,
    VersionOut,
    WorkflowIn,
    WorkflowOut,
    WorkflowReplace,
    WorkflowSaved,
    page_of,
)

blp = Blueprint("workflows", __name__, url_prefix="/w", description="Ordered services to call.")


def flow_errors(view):
    """Declare the errors of a view that checks a workflow's data flow."""
    view = blp.alt_response(
        422, schema=ErrorOut, description="Invalid, or its data cannot flow (`problems`)"
    )(view)
    return blp.alt_response(
        409,
        schema=ErrorOut,
        description="A listed service is not registered (`missing_services`), or the name is "
        "taken by another definition",
    )(view)


@blp.route("", methods=["POST"], strict_slashes=False)
@blp.arguments(WorkflowIn)
@blp.response(201, WorkflowSaved)
@flow_errors
def register_workflow(definition):
    """Register a workflow whose data flows (again, identically, is a no-op)."""
    analysis = check_definition(store(), definition, limits=runtime().limits)
    return {**store().workflows.register(definition), "warnings": analysis.warnings}


@blp.route("", methods=["GET"], strict_slashes=False)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(WorkflowOut))
def list_workflows(args):
    """List the workflows by name."""
    return page(store().workflows.list(page_request(args)), args)


@blp.route("/<ref>", methods=["GET"])
@blp.arguments(VersionArgs, location="query")
@blp.response(200, WorkflowOut)
def get_workflow(args, ref):
    """Show a workflow by name or id, at its current version or the one asked for."""
    return store().workflows.get(ref, args.get("version"))


@blp.route("/<name>/versions", methods=["GET"])
@blp.response(200, VersionOut(many=True))
def list_workflow_versions(name):
    """List a workflow's versions, oldest first."""
    return store().workflows.history(name)


@blp.route("/<ref>/lineage", methods=["GET"])
@blp.arguments(VersionArgs, location="query")
@blp.response(200, Lineage)
def get_lineage(args, ref):
    """Show where each step input and each workflow output takes its value from."""
    workflow = store().workflows.get(ref, args.get("version"))
    services = store().services.by_names(service_names(workflow["services"]))
    lineage = analyse(workflow, services, load=workflow_loader(store())).lineage
    return {"workflow": workflow["name"], "version": workflow["version"], **lineage}


@blp.route("/<ref>/graph", methods=["GET"])
@blp.arguments(GraphVersionArgs, location="query")
@blp.response(200, GraphOut)
@blp.doc(**GRAPH_CONTENT)
def get_workflow_graph(args, ref):
    """Draw a workflow: its steps and the fields flowing between them (json, mermaid, dot, svg)."""
    graph = workflow_graph(runtime(), ref, args.get("version"))
    return answer_graph(graph, args["format"])


@blp.route("/<ref>", methods=["PUT"])
@blp.arguments(WorkflowReplace)
@blp.response(200, WorkflowSaved)
@flow_errors
def replace_workflow(definition, ref):
    """Replace a workflow's definition (by name) with a new version; events keep theirs."""
    name = ref
    check_name(definition, name)
    existing = store().workflows.require(name)
    definition = {**definition, "name": name}
    analysis = check_definition(store(), definition, limits=runtime().limits)
    workflow = store().workflows.replace(name, definition, expected=existing)
    return {**workflow, "warnings": analysis.warnings}


@blp.route("/<ref>", methods=["DELETE"])
@blp.response(204)
def delete_workflow(ref):
    """Remove a workflow (by name) and its versions; its events stay readable."""
    store().workflows.delete(ref)


@blp.route("/<ref>/dry-run", methods=["POST"])
@blp.arguments(DryRunIn)
@blp.response(200, DryRunOut)
@flow_errors
def dry_run_workflow(request, ref):
    """Walk a registered workflow without calling any service."""
    workflow = store().workflows.get(ref)
    return dry_run(
        runtime(), workflow, request.get("data"), request["samples"], request["branches"]
    )


@blp.route("/dry-run", methods=["POST"])
@blp.arguments(DryRunUnsavedIn)
@blp.response(200, DryRunOut)
@flow_errors
def dry_run_definition(request):
    """Walk a workflow definition that is not saved, without calling any service."""
    return dry_run(
        runtime(), request["workflow"], request.get("data"), request["samples"], request["branches"]
    )
