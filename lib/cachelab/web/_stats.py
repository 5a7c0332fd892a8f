"""What each worker of the web service has done, readable by every worker: ``GET /stats``.

A request reaches *one* worker process, but ``/stats`` must report them all. So each
worker keeps its counters in a small file of its own in a folder the service shares
(``worker-<pid>.stats``), mapped into its memory: updating a counter is a store into
memory, not a system call, and the operating system makes the change visible to any
process that reads the file. The worker that answers ``/stats`` reads every file.

Each file holds seven signed 64-bit integers, in this order::

    pid, requests, in_flight, db_queries, cache_hits, cache_misses, cpu_us

``requests`` counts the requests a worker has answered (``/stats`` itself excepted),
``in_flight`` those it is serving right now, ``db_queries`` every SQL statement its
shops ran, ``cache_hits`` / ``cache_misses`` its page-cache lookups, and ``cpu_us``
the CPU time the worker process has used so far (all its threads, in microseconds,
``time.process_time()`` when it last published). CPU time is what an answer *costs*:
unlike its latency, it does not grow while the process waits for a core, so it reads
the same on a busy machine as on a quiet one.

>>> import tempfile
>>> folder = tempfile.mkdtemp()
>>> counters = WorkerCounters(folder)
>>> counters.publish(requests=3, db_queries=1, cache_hits=2, cache_misses=1)
>>> [(row["requests"], row["in_flight"]) for row in read_workers(folder)]  # not given: 0
[(3, 0)]
>>> counters.publish(request=4)
Traceback (most recent call last):
...
TypeError: no such counter: ['request']; the counters are ('requests', 'in_flight', ...)
>>> counters.close()
>>> read_workers(folder)
[]
"""

from __future__ import annotations

import mmap
import os
import struct
import time
from pathlib import Path
from typing import Union

__all__ = ["FIELDS", "WorkerCounters", "read_workers", "totals"]

FIELDS = ("pid", "requests", "in_flight", "db_queries", "cache_hits", "cache_misses", "cpu_us")
"""The counters of one worker, in the order they are stored."""

_LAYOUT = struct.Struct("<" + "q" * len(FIELDS))


class WorkerCounters:
    """This worker's counters, in its own file under ``folder`` (created here, removed by
    ``close``).
    """

    def __init__(self, folder: Union[str, Path]) -> None:
        self.pid = os.getpid()
        self.path = Path(folder) / f"worker-{self.pid}.stats"
        with open(self.path, "wb") as file:
            file.write(bytes(_LAYOUT.size))
        self._file = open(self.path, "r+b")
        self._memory = mmap.mmap(self._file.fileno(), _LAYOUT.size)
        self.publish()

    def publish(self, **counters: int) -> None:
        """Store the current values of the counters named in ``FIELDS`` (totals since the worker
        started, not increments; a counter not given is 0), and the CPU time this process has used
        so far.
        """
        unknown = set(counters) - set(FIELDS[1:-1])
        if unknown:
            raise TypeError(f"no such counter: {sorted(unknown)}; the counters are {FIELDS[1:-1]}")
        values = {**counters, "pid": self.pid, "cpu_us": int(time.process_time() * 1e6)}
        _LAYOUT.pack_into(self._memory, 0, *(values.get(name, 0) for name in FIELDS))

    def close(self) -> None:
        """Unmap and remove this worker's file. Safe to call twice."""
        if not self._memory.closed:
            self._memory.close()
            self._file.close()
        self.path.unlink(missing_ok=True)


def read_workers(folder: Union[str, Path]) -> list[dict[str, int]]:
    """Every worker's counters (one dict per worker, by pid), read from the files in ``folder``."""
    rows = []
    for path in sorted(Path(folder).glob("worker-*.stats")):
        try:
            raw = path.read_bytes()
        except FileNotFoundError:  # that worker stopped while we were reading
            continue
        if len(raw) == _LAYOUT.size:
            rows.append(dict(zip(FIELDS, _LAYOUT.unpack(raw))))
    return sorted(rows, key=lambda row: row["pid"])


def totals(workers: list[dict[str, int]]) -> dict[str, int]:
    """The counters added up over ``workers`` (every field but the pid)."""
    return {name: sum(row[name] for row in workers) for name in FIELDS if name != "pid"}
