"""/s: register, read, replace and remove services."""

from machinery.api.blueprint import Blueprint
from machinery.api.context import store
from machinery.api.paging import page, page_request
from machinery.contracts import require_compatible, service_impact
from machinery.errors import Conflict, InvalidData
from machinery.schemas import (
    ErrorOut,
    ForceArgs,
    ImpactOut,
    PageArgs,
    ServiceIn,
    ServiceOut,
    ServiceReplace,
    VersionArgs,
    VersionOut,
    page_of,
)

blp = Blueprint("services", __name__, url_prefix="/s", description="The microservices to call.")


@blp.route("", methods=["POST"], strict_slashes=False)
@blp.arguments(ServiceIn)
@blp.response(201, ServiceOut)
@blp.alt_response(
    409, schema=ErrorOut, description="The name is registered with a different definition"
)
def register_service(definition):
    """Register a service (again, with the same definition, is a no-op)."""
    return store().services.register(definition)


@blp.route("", methods=["GET"], strict_slashes=False)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(ServiceOut))
def list_services(args):
    """List the registered services by name."""
    return page(store().services.list(page_request(args)), args)


@blp.route("/<ref>", methods=["GET"])
@blp.arguments(VersionArgs, location="query")
@blp.response(200, ServiceOut)
def get_service(args, ref):
    """Show a service by name or id, at its current version or the one asked for."""
    return store().services.get(ref, args.get("version"))


@blp.route("/<name>/versions", methods=["GET"])
@blp.response(200, VersionOut(many=True))
def list_service_versions(name):
    """List a service's versions, oldest first."""
    return store().services.history(name)


@blp.route("/<ref>", methods=["PUT"])
@blp.arguments(ServiceReplace)
@blp.arguments(ForceArgs, location="query")
@blp.response(200, ServiceOut)
@blp.alt_response(
    409, schema=ErrorOut, description="The change breaks workflows that call the service"
)
def replace_service(definition, args, ref):
    """Replace a service's definition (by name) with a new version, unless it breaks a workflow."""
    name = ref
    check_name(definition, name)
    existing = store().services.require(name)
    definition = {**definition, "name": name}
    if not args["force"]:
        require_compatible(store(), name, definition)
    return store().services.replace(name, definition, expected=existing)


@blp.route("/<name>/impact", methods=["POST"])
@blp.arguments(ServiceReplace)
@blp.response(200, ImpactOut)
def service_impact_of(definition, name):
    """Show what a new definition of the service would do to the workflows calling it."""
    check_name(definition, name)
    return service_impact(store(), name, {**definition, "name": name})


@blp.route("/<ref>", methods=["DELETE"])
@blp.response(204)
@blp.alt_response(409, schema=ErrorOut, description="A workflow uses the service")
def delete_service(ref):
    """Remove a service (by name) no workflow uses."""
    name = ref
    users = store().workflows.names_using(name)
    if users:
        raise Conflict(
            f"Service {name!r} is used by workflows {', '.join(users)}; "
            "change or delete them first.",
            workflows=users,
        )
    store().services.delete(name)


def check_name(definition: dict, name: str) -> None:
    """A replacement may leave its name out, but may not rename."""
    if definition.get("name", name) != name:
        raise InvalidData(
            "The body's name differs from the one in the path.",
            errors={"name": [f"Must be {name!r}, as in the path."]},
        )
