"""Find the Chromium-family browser that the browser tests drive, or say how to get one.

The browser tests drive the system's browser through Playwright; they never download
Playwright's own (``playwright install``). Which browser is decided here, and only here
(``tests/lab.py`` imports this file, ``make test`` and ``.ci/run`` run it):

1. ``$CHROMIUM``, if set: that program and nothing else (a value that names no program is an
   error, not a reason to look elsewhere);
2. else the first of ``NAMES`` on ``PATH``, then the macOS applications (``MACOS_APPS`` in
   ``/Applications`` or ``~/Applications``);
3. else none: the browser tests are skipped with ``HOW_TO_GET_ONE`` (and fail under
   ``CI=true``, where a skipped browser test must not look like a pass).

Standard library only, so ``.ci/run`` can run it with the system's ``python3`` before the
course's ``.venv`` exists::

    python3 scripts/browser.py             # the browser's path and version, or how to get one
    python3 scripts/browser.py --install   # as root with apt-get, install Debian's chromium first
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Mapping, NamedTuple, Optional

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "microsoft-edge")
"""Chromium-family programs looked for on ``PATH``, in this order."""

MACOS_APPS = (
    "Chromium.app/Contents/MacOS/Chromium",
    "Google Chrome.app/Contents/MacOS/Google Chrome",
)
"""The program inside each macOS application looked for, in this order."""

HOW_TO_GET_ONE = (
    "no Chromium-family browser found (looked at $CHROMIUM, chromium, chromium-browser, "
    "google-chrome, microsoft-edge on PATH, and /Applications): "
    "get one with `sudo apt-get install -y chromium` (Debian/Ubuntu), "
    "`brew install --cask chromium` (macOS), or point CHROMIUM=/path/to/chrome at one you have"
)
"""The one line the browser tests are skipped with when there is no browser."""


class BrowserNotFound(RuntimeError):
    """``$CHROMIUM`` names no program, or there is no browser."""


class Found(NamedTuple):
    path: str  # the browser's program
    how: str  # "$CHROMIUM", "PATH" or "macOS application"


def find_browser(env: Optional[Mapping[str, str]] = None) -> Optional[Found]:
    """The browser to use according to ``env`` (default: this process's environment), or None.

    Raises ``BrowserNotFound`` if ``$CHROMIUM`` is set to something that is not a program.
    """
    env = os.environ if env is None else env
    path = env.get("PATH", "")
    if env.get("CHROMIUM"):
        program = shutil.which(os.path.expanduser(env["CHROMIUM"]), path=path)
        if program is None:
            raise BrowserNotFound(
                f"CHROMIUM={env['CHROMIUM']!r} is not a program that can be run; point it at a "
                "Chromium-family browser (e.g. CHROMIUM=/usr/bin/chromium) or unset it"
            )
        return Found(program, "$CHROMIUM")
    for name in NAMES:
        if program := shutil.which(name, path=path):
            return Found(program, "PATH")
    folders = [Path("/Applications"), Path(env.get("HOME", "/nonexistent")) / "Applications"]
    for app in MACOS_APPS:
        for folder in folders:
            if shutil.which(str(folder / app)):
                return Found(str(folder / app), "macOS application")
    return None


def ci_requires_browser(env: Optional[Mapping[str, str]] = None) -> bool:
    """Under ``CI=true`` (any CI system sets it) a browser test may not be skipped: it fails."""
    env = os.environ if env is None else env
    return env.get("CI", "").strip().lower() in ("true", "1", "yes")


def _install_with_apt_get() -> None:
    """Install Debian's ``chromium``, quietly, when this process is root and has ``apt-get``."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return
    print("browser: none found; installing Debian's chromium with apt-get ...", flush=True)
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"],
    ):
        subprocess.run(command, env=environment, stdin=subprocess.DEVNULL, check=False)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 scripts/browser.py",
        description="Print the browser the browser tests use, or how to get one.",
    )
    parser.add_argument(
        "--install", action="store_true", help="as root with apt-get: install chromium if none"
    )
    try:
        if parser.parse_args(argv).install and find_browser() is None:
            _install_with_apt_get()
        found = find_browser()
        if found is None:
            raise BrowserNotFound(HOW_TO_GET_ONE)
    except BrowserNotFound as error:
        then = "FAIL (CI=true)" if ci_requires_browser() else "be skipped"
        print(f"browser: {error}; the browser tests will {then}", file=sys.stderr)
        return 1
    version = subprocess.run([found.path, "--version"], capture_output=True, text=True).stdout
    print(f"browser: {found.path} ({version.strip() or 'version unknown'}; {found.how})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
