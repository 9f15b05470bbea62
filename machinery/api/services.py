"""/s: register, read, replace and remove services."""

from machinery.api.blueprint import Blueprint
from machinery.api.paging import page, page_size
from machinery.errors import Conflict, InvalidData
from machinery.schemas import PageArgs, ServiceIn, ServiceOut, ServiceReplace, page_of
from machinery.store import store

blp = Blueprint("services", __name__, url_prefix="/s", description="The microservices to call.")


@blp.route("", methods=["POST"], strict_slashes=False)
@blp.arguments(ServiceIn)
@blp.response(201, ServiceOut)
@blp.alt_response(409, description="The name is registered with a different definition")
def register_service(definition):
    """Register a service (again, with the same definition, is a no-op)."""
    return store().services.register(definition)


@blp.route("", methods=["GET"], strict_slashes=False)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(ServiceOut))
def list_services(args):
    """List the registered services by name."""
    items, total = store().services.list(args["page"], page_size(args))
    return page(items, total, args)


@blp.route("/<ref>", methods=["GET"])
@blp.response(200, ServiceOut)
def get_service(ref):
    """Show a service by name or id."""
    return store().services.get(ref)


@blp.route("/<name>", methods=["PUT"])
@blp.arguments(ServiceReplace)
@blp.response(200, ServiceOut)
def replace_service(definition, name):
    """Replace a service's definition."""
    check_name(definition, name)
    return store().services.replace(name, {**definition, "name": name})


@blp.route("/<name>", methods=["DELETE"])
@blp.response(204)
@blp.alt_response(409, description="A workflow uses the service")
def delete_service(name):
    """Remove a service no workflow uses."""
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
