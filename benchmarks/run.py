"""Run every benchmark of the course and print how the library compares with its baselines.

    python benchmarks/run.py                 # everything (``make bench``)
    python benchmarks/run.py cache build     # only bench_cache.py and bench_build.py
    python benchmarks/run.py --quick         # fewer rounds: a smoke test, not a measurement

Each ``benchmarks/bench_<name>.py`` module exposes ``run(quick: bool = False) -> list[dict]``
(a ``run()`` without the argument is accepted too). Each dict is one row:

    name      what is measured, e.g. "MemoryCache.get hit vs cachetools.TTLCache.get hit"
    median    median seconds per operation of the thing measured
    baseline  median seconds per operation of the baseline, measured in the same run
    target    the largest acceptable ratio median / baseline (0.5 means "at least 2x faster")
    ratio     median / baseline (filled in here if the module leaves it out)
    met       ratio <= target (filled in here if the module leaves it out)
    note      optional: samples, sizes, anything a reader needs to trust the figure
    target_text / budget_s   optional: how to show the target when it is not a plain ratio
                             (``budget_s``: an absolute limit on the median, in seconds)

A new benchmark needs no change here: drop a ``bench_<name>.py`` next to this file.
The table goes to stdout and, with the machine's details, to
``benchmarks/results/latest.json`` (git-ignored). Benchmarks inform; they never
fail the build, so this script exits 0 even when a target is missed.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import platform
import sys
import time
import traceback
from pathlib import Path

from cachelab.lab.timing import format_seconds

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "latest.json"


def discover(only: list[str]) -> list[Path]:
    """The ``bench_*.py`` files next to this script, in name order (only those named in ``only``, if
    any).
    """
    found = sorted(HERE.glob("bench_*.py"))
    if only:
        found = [
            path for path in found if path.stem.removeprefix("bench_") in only or path.stem in only
        ]
    return found


def load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


def complete(row: dict, source: str) -> dict:
    """Check a row has what the table needs and fill in ``ratio`` and ``met``."""
    missing = {"name", "median", "baseline", "target"} - set(row)
    if missing:
        raise ValueError(f"{source}: a row lacks {sorted(missing)}: {row}")
    row = {"module": source, **row}
    row.setdefault("ratio", row["median"] / row["baseline"])
    row.setdefault("met", row["ratio"] <= row["target"])
    return row


def target_text(row: dict) -> str:
    """The target as a reader says it: a module's own ``target_text``, an absolute ``budget_s``, or
    the
    ratio.
    """
    if row.get("target_text"):
        return row["target_text"]
    if row.get("budget_s"):
        return f"median < {format_seconds(row['budget_s'])}"
    target = row["target"]
    return f"≥ {1 / target:.3g}× faster" if target < 1 else f"within {target:.3g}×"


def print_table(rows: list[dict]) -> None:
    header = ("benchmark", "median", "baseline", "ratio", "target", "")
    lines = [
        (
            row["name"],
            format_seconds(row["median"]),
            format_seconds(row["baseline"]),
            f"{row['ratio']:.3f}",
            target_text(row),
            "PASS" if row["met"] else "MISS",
        )
        for row in rows
    ]
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *lines)]
    for line in (header, tuple("-" * w for w in widths), *lines):
        print("  ".join(str(cell).ljust(w) for cell, w in zip(line, widths)).rstrip())
    for row in rows:
        if row.get("note"):
            print(f"  · {row['name']}: {row['note']}")


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    only = [arg for arg in argv if not arg.startswith("-")]
    sys.path.insert(0, str(HERE))
    rows: list[dict] = []
    failures: list[str] = []
    started = time.perf_counter()
    for path in discover(only):
        print(f"running {path.name} ...", file=sys.stderr, flush=True)
        try:
            module = load(path)
            accepts_quick = "quick" in inspect.signature(module.run).parameters
            produced = module.run(quick=quick) if accepts_quick else module.run()
            rows += [complete(row, path.stem) for row in produced]
        except Exception:  # one broken benchmark must not hide the others' figures
            failures.append(path.name)
            traceback.print_exc()
    print()
    print_table(rows)
    met = sum(row["met"] for row in rows)
    print(
        f"\n{met} of {len(rows)} targets met in {time.perf_counter() - started:.0f} s"
        + (f"; FAILED to run: {', '.join(failures)}" if failures else "")
        + ("  (--quick: figures are rough)" if quick else "")
    )
    print(
        "ratio = median / baseline, both measured in this run; figures vary with what else the "
        "machine is doing, ratios much less"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "when_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "command": " ".join([Path(sys.executable).name, "benchmarks/run.py", *argv]),
                "quick": quick,
                "machine": {
                    "python": platform.python_version(),
                    "platform": platform.platform(),
                    "cpus": os.cpu_count(),
                    "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
                },
                "rows": rows,
                "failed_to_run": failures,
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"written to {RESULTS.relative_to(HERE.parent)}")
    return 0  # benchmarks inform; they do not gate


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
