"""Machinery: a state-aware workflow orchestrator for HTTP microservices."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("machinery")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

from machinery.app import create_app  # noqa: E402

__all__ = ["create_app", "__version__"]
