"""Serve the dashboards with Voila: ``python dashboards/serve.py`` (what ``make dashboard`` runs).

Each notebook in ``dashboards/`` becomes a page of its own, for an instructor to project: its
code hidden, its widgets live (Voila runs a kernel per page), on 127.0.0.1 only:

- ``07_ttl_explorer.ipynb``: lesson 07's TTL explorer (``cachelab.show.ttl_dashboard``);
- ``08_early_refresh.ipynb``: lesson 08's XFetch view, β on a slider
  (``cachelab.show.xfetch_dashboard``).

Each page calls the same function as its lesson, so the two cannot drift apart.

The pages use the template ``dashboards/jupyter/voila/templates/course`` (Voila's own, without
its links to a CDN), so nothing is fetched from the network. ``tests/test_browser_dashboard.py``
starts this same command, opens both pages in Chromium and moves their sliders.

    python dashboards/serve.py               # http://127.0.0.1:8866/
    python dashboards/serve.py --port 9000
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

DASHBOARDS = Path(__file__).resolve().parent
PAGES = sorted(path.name for path in DASHBOARDS.glob("[0-9][0-9]_*.ipynb"))
DEFAULT_PORT = 8866


def command(port: int) -> tuple[list[str], dict[str, str]]:
    """The Voila command line and its environment, serving ``dashboards/`` on 127.0.0.1:port."""
    argv = [
        sys.executable,
        "-m",
        "voila",
        str(DASHBOARDS),
        "--no-browser",
        "--Voila.ip=127.0.0.1",
        f"--port={port}",
        "--Voila.port_retries=0",
        "--template=course",
        "--strip_sources=True",
        "--theme=light",
    ]
    env = dict(os.environ)
    env["JUPYTER_PATH"] = os.pathsep.join(
        filter(None, [str(DASHBOARDS / "jupyter"), env.get("JUPYTER_PATH")])
    )
    env["PYTHONUNBUFFERED"] = "1"
    return argv, env


def page_url(base: str, page: str) -> str:
    """Where Voila serves one dashboard notebook."""
    return f"{base.rstrip('/')}/voila/render/{page}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="default: %(default)s")
    args = parser.parse_args(argv)
    voila, env = command(args.port)
    base = f"http://127.0.0.1:{args.port}"
    print("the dashboards, one page each (Ctrl-C stops Voila and its kernels):")
    for page in PAGES:
        print(f"  {page_url(base, page)}")
    sys.stdout.flush()
    os.execve(voila[0], voila, env)  # Voila in this process's place: Ctrl-C and kill reach it
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
