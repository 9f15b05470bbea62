"""Machinery: a state-aware workflow orchestrator for HTTP microservices."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("machinery")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

__all__ = ["create_app", "__version__"]


def __getattr__(name: str):
    # The web stack is imported only by those who ask for the app: a worker or the CLI client
    # imports machinery.* without Flask.
    if name == "create_app":
        from machinery.app import create_app

        return create_app
    raise AttributeError(f"module 'machinery' has no attribute {name!r}")
