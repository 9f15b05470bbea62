"""The package's metadata: one list of dependencies, in pyproject.toml and requirements.txt."""

import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def requirements_txt() -> list[str]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith(("#", "-"))]


def by_name(requirements) -> dict[str, str]:
    parsed = (Requirement(text) for text in requirements)
    return {r.name.lower(): str(r.specifier) for r in parsed}


def test_requirements_txt_pins_what_pyproject_declares():
    assert by_name(requirements_txt()) == by_name(pyproject()["project"]["dependencies"])


def test_every_dependency_has_a_lower_and_an_upper_bound():
    for requirement in map(Requirement, pyproject()["project"]["dependencies"]):
        operators = {spec.operator for spec in requirement.specifier}
        assert ">=" in operators and "<" in operators, requirement


def test_the_version_and_the_command_are_declared():
    project = pyproject()["project"]
    assert project["version"]
    assert project["scripts"] == {"machinery-cli": "machinery.cli:main"}
    assert pyproject()["build-system"]["build-backend"] == "setuptools.build_meta"


def test_setup_py_is_only_a_shim():
    code = (ROOT / "setup.py").read_text()
    assert "setup()" in code and "install_requires" not in code
