"""The lab's instruments: what the lessons measure with, and the traffic they measure under.

- ``timing``     medians and percentiles, the latency-ladder chart, and competing work;
- ``workload``   seeded random traffic: the one generator of reads and writes;
- ``sim``        a seeded simulation of TTL caching, and its closed-form model;
- ``staleness``  measuring stale reads: how often, how old;
- ``loadtest``   many concurrent users hammering a page (threads);
- ``workers``    the shop served by several worker processes;
- ``burst``      a hot key expiring under load, measured: the herd, and the fixes on one burst;
- ``capstone``   lesson 09's mixed page, its budgets, and the seeded replay that grades a design.
"""

__all__: list[str] = []
