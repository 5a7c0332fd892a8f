"""``scripts/browser.py``: which browser the browser tests use, and what happens without one.

Tested for real: PATHs built in a temporary folder, holding (or not) a link to the
machine's real browser; the browser test itself run by pytest in a child process with
such a PATH, with and without ``CI=true``. Nothing stands in for the browser: where one
is needed it is the real one, found the ordinary way first.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lab import REPO, browser


@pytest.fixture(scope="module")
def real_browser() -> str:
    """This machine's browser (make test installs one as root): the links below point at it."""
    found = browser.find_browser()
    if found is None:
        if browser.ci_requires_browser():
            pytest.fail(browser.HOW_TO_GET_ONE, pytrace=False)
        pytest.skip(browser.HOW_TO_GET_ONE)
    return found.path


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """An environment whose PATH is an empty folder of this test's and whose HOME has no apps."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    return {"PATH": str(bin_dir), "HOME": str(tmp_path), **extra}


def test_an_empty_path_has_no_browser(tmp_path: Path) -> None:
    assert browser.find_browser(_env(tmp_path)) is None


@pytest.mark.parametrize("name", browser.NAMES)
def test_each_chromium_family_name_on_path_is_found(
    name: str, real_browser: str, tmp_path: Path
) -> None:
    env = _env(tmp_path)
    (Path(env["PATH"]) / name).symlink_to(real_browser)
    found = browser.find_browser(env)
    assert found == browser.Found(str(Path(env["PATH"]) / name), "PATH")
    version = subprocess.run(
        [found.path, "--version"], capture_output=True, text=True, timeout=60
    ).stdout
    assert re.search(r"Chrom|Edge", version), f"{found.path} --version said {version!r}"


def test_chromium_comes_before_chrome_and_edge(real_browser: str, tmp_path: Path) -> None:
    env = _env(tmp_path)
    for name in ("microsoft-edge", "google-chrome", "chromium"):
        (Path(env["PATH"]) / name).symlink_to(real_browser)
    assert Path(browser.find_browser(env).path).name == "chromium"


def test_a_file_that_cannot_be_run_is_not_a_browser(tmp_path: Path) -> None:
    env = _env(tmp_path)
    (Path(env["PATH"]) / "chromium").write_text("not a program")
    assert browser.find_browser(env) is None


def test_the_chromium_override_wins_over_path(real_browser: str, tmp_path: Path) -> None:
    env = _env(tmp_path, CHROMIUM=real_browser)
    (Path(env["PATH"]) / "google-chrome").symlink_to(real_browser)
    assert browser.find_browser(env) == browser.Found(real_browser, "$CHROMIUM")


def test_an_override_that_names_no_program_is_an_error_not_a_fallback(
    real_browser: str, tmp_path: Path
) -> None:
    env = _env(tmp_path, CHROMIUM=str(tmp_path / "no-such-chrome"))
    (Path(env["PATH"]) / "chromium").symlink_to(real_browser)
    with pytest.raises(browser.BrowserNotFound, match="CHROMIUM=.*is not a program"):
        browser.find_browser(env)


def test_a_macos_application_in_the_home_folder_is_found(real_browser: str, tmp_path: Path) -> None:
    env = _env(tmp_path)
    program = tmp_path / "Applications" / browser.MACOS_APPS[1]
    program.parent.mkdir(parents=True)
    program.symlink_to(real_browser)
    assert browser.find_browser(env) == browser.Found(str(program), "macOS application")


@pytest.mark.parametrize("value, required", [("true", True), ("1", True), ("", False)])
def test_ci_true_makes_the_browser_required(value: str, required: bool) -> None:
    assert browser.ci_requires_browser({"CI": value}) is required


def _run_browser_test(tmp_path: Path, **extra: str) -> subprocess.CompletedProcess:
    """The real browser test of lesson 00, run by pytest in a child process with no browser."""
    env = {k: v for k, v in os.environ.items() if k not in ("CHROMIUM", "CI")}
    env.update(_env(tmp_path, **extra))
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/test_browser_widgets.py",
            "-k",
            "runs_in_the_browser and 00_setup",
            "-p",
            "no:randomly",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_without_a_browser_the_browser_test_is_skipped_with_how_to_get_one(
    tmp_path: Path,
) -> None:
    result = _run_browser_test(tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "1 skipped" in result.stdout, result.stdout[-3000:]
    # The summary (make test's too: -rfEs is in pyproject's addopts) names the reason.
    assert "SKIPPED" in result.stdout and browser.HOW_TO_GET_ONE in result.stdout.replace(
        "\n", ""
    ), result.stdout[-3000:]


def test_without_a_browser_under_ci_the_browser_test_fails(tmp_path: Path) -> None:
    result = _run_browser_test(tmp_path, CI="true")
    assert result.returncode == 1, result.stdout[-3000:]
    # An error in the browser fixture: pytest counts it apart from failures, and exits 1.
    assert re.search(r"\b1 (failed|error)\b", result.stdout), result.stdout[-3000:]
    assert "CI=true: a browser test may not be skipped" in result.stdout, result.stdout[-3000:]


@pytest.mark.parametrize("options", [[], ["--install"]])
def test_the_command_line_says_how_to_get_a_browser(options: list[str], tmp_path: Path) -> None:
    """With no browser and no apt-get on PATH, even --install installs nothing, and says how."""
    env = {**_env(tmp_path), "CI": ""}
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "browser.py"), *options],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert browser.HOW_TO_GET_ONE in result.stderr and "skipped" in result.stderr
    assert "installing" not in result.stdout
