"""Find a Chromium-family browser for the browser tests -- or install Debian's, as root.

One decision, used by ``.ci/run``, ``make test``, ``make bench`` and the tests
themselves (``tests/test_browser_widgets.py`` imports this file), so they can never
disagree about which browser is used or why there is none:

1. ``$CHROMIUM``, if set: that program and nothing else (an override that points
   at nothing is an error, not a reason to look elsewhere);
2. else the first of ``chromium``, ``chromium-browser``, ``google-chrome``,
   ``google-chrome-stable``, ``microsoft-edge``, ``microsoft-edge-stable`` on ``PATH``;
3. else the macOS application bundles (Chromium, Google Chrome, Microsoft Edge in
   ``/Applications`` or ``~/Applications``);
4. else, only when asked to install (``--install``), running as root and with
   ``apt-get`` on ``PATH`` (containers, CI): ``apt-get install chromium``, Debian's
   package, which puts ``/usr/bin/chromium``;
5. else none: the browser tests are skipped with ``HOW_TO_GET_ONE`` (and fail under
   ``CI=true``, where a skipped browser test must not look like a pass).

It is plain Python with the standard library only, so ``.ci/run`` can run it with
the system's ``python3`` before the course's ``.venv`` exists::

    python3 scripts/browser.py             # print the browser's path, or why there is none
    python3 scripts/browser.py --install   # the same, installing Debian's chromium as root

Playwright's own browser download (``playwright install``) is never used.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Mapping, NamedTuple, Optional

__all__ = [
    "PROGRAM_NAMES",
    "MACOS_APPLICATIONS",
    "HOW_TO_GET_ONE",
    "BrowserNotFound",
    "Found",
    "find_browser",
    "can_install",
    "install_chromium",
    "ensure_browser",
    "ci_requires_browser",
    "main",
]

PROGRAM_NAMES = (
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
    "microsoft-edge",
    "microsoft-edge-stable",
)
"""Chromium-family programs looked for on ``PATH``, in this order."""

MACOS_APPLICATIONS = (
    "Chromium.app/Contents/MacOS/Chromium",
    "Google Chrome.app/Contents/MacOS/Google Chrome",
    "Microsoft Edge.app/Contents/MacOS/Microsoft Edge",
)
"""Where the macOS bundles keep their program, under ``/Applications`` or ``~/Applications``."""

HOW_TO_GET_ONE = (
    "no Chromium-family browser found (looked at $CHROMIUM, chromium, chromium-browser, "
    "google-chrome(-stable), microsoft-edge(-stable) on PATH, and /Applications): "
    "get one with `sudo apt-get install chromium` (Debian/Ubuntu), "
    "`brew install --cask chromium` (macOS), or point CHROMIUM=/path/to/chrome at one you have"
)
"""The one line the browser tests are skipped with when there is no browser."""

APT_PACKAGE = "chromium"


class BrowserNotFound(RuntimeError):
    """``$CHROMIUM`` names no program, or no browser could be found or installed."""


class Found(NamedTuple):
    path: str  # the browser's program
    how: str  # "$CHROMIUM", "PATH", "macOS application" or "installed with apt-get in 42 s"


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_browser(env: Optional[Mapping[str, str]] = None) -> Optional[Found]:
    """The browser to use according to ``env`` (default: this process's environment), or None.

    Looks at ``$CHROMIUM``, then ``PROGRAM_NAMES`` on ``$PATH``, then the macOS
    bundles; installs nothing. Raises ``BrowserNotFound`` if ``$CHROMIUM`` is set to
    something that is not a program.
    """
    env = os.environ if env is None else env
    override = env.get("CHROMIUM")
    if override:
        program = shutil.which(override, path=env.get("PATH", ""))
        if program is None and _executable(Path(override).expanduser()):
            program = str(Path(override).expanduser())
        if program is None:
            raise BrowserNotFound(
                f"CHROMIUM={override!r} is not a program that can be run; point it at a "
                "Chromium-family browser (e.g. CHROMIUM=/usr/bin/chromium) or unset it"
            )
        return Found(program, "$CHROMIUM")
    for name in PROGRAM_NAMES:
        program = shutil.which(name, path=env.get("PATH", ""))
        if program:
            return Found(program, "PATH")
    homes = [Path("/Applications")]
    if env.get("HOME"):
        homes.append(Path(env["HOME"]) / "Applications")
    for folder in homes:
        for bundle in MACOS_APPLICATIONS:
            if _executable(folder / bundle):
                return Found(str(folder / bundle), "macOS application")
    return None


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def can_install(env: Optional[Mapping[str, str]] = None) -> bool:
    """True when this process may install Debian's chromium itself: it is root and has apt-get."""
    env = os.environ if env is None else env
    return _is_root() and shutil.which("apt-get", path=env.get("PATH", "")) is not None


def install_chromium(env: Optional[Mapping[str, str]] = None) -> Found:
    """``apt-get update`` + ``apt-get install chromium`` (as root), timed; return what it put.

    The same commands ``.ci/run`` always used: quiet, no questions, no recommended
    extras. Raises ``BrowserNotFound`` if it is not allowed or the install fails.
    """
    env = dict(os.environ if env is None else env)
    if not can_install(env):
        raise BrowserNotFound(f"{HOW_TO_GET_ONE} (installing needs root and apt-get)")
    apt_get = shutil.which("apt-get", path=env.get("PATH", ""))
    env["DEBIAN_FRONTEND"] = "noninteractive"
    started = time.monotonic()
    print(f"browser: none found; installing Debian's {APT_PACKAGE} with apt-get ...", flush=True)
    for command in (
        [apt_get, "update", "-qq"],
        [apt_get, "install", "-y", "-qq", "--no-install-recommends", APT_PACKAGE],
    ):
        result = subprocess.run(command, env=env, stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            raise BrowserNotFound(
                f"`{' '.join(command)}` failed with exit code {result.returncode}; {HOW_TO_GET_ONE}"
            )
    seconds = time.monotonic() - started
    found = find_browser(env)
    if found is None:
        raise BrowserNotFound(f"apt-get installed {APT_PACKAGE} but no browser is on PATH")
    return Found(found.path, f"installed with apt-get in {seconds:.0f} s")


def ensure_browser(install: bool = False, env: Optional[Mapping[str, str]] = None) -> Found:
    """``find_browser``, then (with ``install=True``, as root with apt-get) ``install_chromium``.

    Raises ``BrowserNotFound`` with ``HOW_TO_GET_ONE`` when there is still no browser.
    """
    found = find_browser(env)
    if found is not None:
        return found
    if install and can_install(env):
        return install_chromium(env)
    raise BrowserNotFound(HOW_TO_GET_ONE)


def ci_requires_browser(env: Optional[Mapping[str, str]] = None) -> bool:
    """Under ``CI=true`` (any CI system sets it) a browser test may not be skipped: it fails."""
    env = os.environ if env is None else env
    return env.get("CI", "").strip().lower() in ("true", "1", "yes")


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 scripts/browser.py",
        description="Print the Chromium-family browser the browser tests use (or why there is "
        "none).",
    )
    parser.add_argument(
        "--install",
        action="store_true",
        help="if none is found and this is root with apt-get, install Debian's chromium",
    )
    parser.add_argument(
        "--path-only", action="store_true", help="print only the path (for scripts)"
    )
    args = parser.parse_args(argv)
    try:
        found = ensure_browser(install=args.install)
    except BrowserNotFound as error:
        advice = (
            "the browser tests will FAIL (CI=true)"
            if ci_requires_browser()
            else ("the browser tests will be skipped")
        )
        print(f"browser: {error}; {advice}", file=sys.stderr)
        return 1
    if args.path_only:
        print(found.path)
    else:
        version = subprocess.run(
            [found.path, "--version"], capture_output=True, text=True, timeout=30
        ).stdout.strip()
        print(f"browser: {found.path} ({version or 'version unknown'}; {found.how})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
