"""Packaging for Machinery."""

from pathlib import Path

from setuptools import find_packages, setup


def requirements() -> list[str]:
    lines = Path(__file__).with_name("requirements.txt").read_text().splitlines()
    return [line for line in lines if line and not line.startswith(("#", "-"))]


setup(
    name="machinery",
    version="0.1.0",
    description="A state-aware workflow orchestrator for HTTP microservices.",
    long_description=Path(__file__).with_name("README.md").read_text(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    packages=find_packages(include=["machinery", "machinery.*"]),
    # The console's templates and files, Swagger UI's among them (with its licence).
    package_data={
        "machinery.web": ["templates/*.html", "static/*.css", "static/*.js", "static/vendor/*/*"]
    },
    python_requires=">=3.11",
    install_requires=requirements(),
    entry_points={"console_scripts": ["machinery-cli=machinery.cli:main"]},
)
