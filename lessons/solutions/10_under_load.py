"""Reference solutions for lesson 10 · Under load: the shop as a web service.

For instructors. Each function answers one exercise; the test suite runs the
lesson's checks against them.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence


def sustained_rate(runs: Sequence, p95_budget_s: float) -> Optional[float]:
    """Exercise 1: the throughput the service sustains within a p95 budget, or None.

    A run counts when its p95 is at most the budget and at most 1 % of its requests
    failed; of those, the one that served the most answers per second is the answer.
    Its throughput, not the rate it was offered: that is what the service did.
    """
    good = [
        run.throughput_per_s
        for run in runs
        if run.p95_s <= p95_budget_s and run.error_fraction <= 0.01
    ]
    return max(good, default=None)


def cores_needed(rate_per_s: float, service_time_s: float, utilization: float = 0.7) -> int:
    """Exercise 2: how many cores serve ``rate_per_s`` at ``utilization`` or less.

    Each request keeps a core busy for ``service_time_s``, so on average
    ``rate_per_s × service_time_s`` cores are busy (Little's law applied to the requests
    in service). Dividing by the target utilization leaves headroom, so that queues
    stay short; rounding up keeps the utilization under the target; one at least.
    """
    if rate_per_s < 0 or service_time_s < 0:
        raise ValueError(
            f"rate_per_s and service_time_s must be >= 0, got {rate_per_s!r}, {service_time_s!r}"
        )
    if not 0 < utilization <= 1:
        raise ValueError(f"utilization must be in (0, 1], got {utilization!r}")
    return max(1, math.ceil(rate_per_s * service_time_s / utilization))


def oldest_page_s(server_ttl_s: Optional[float], max_age_s: float, deletes_on_write: bool) -> float:
    """Exercise 3: how old a page a browser shows can be, in seconds.

    The service may answer from its cache an entry that is already ``server_ttl_s``
    old, and the browser may then reuse that answer for ``max_age_s`` more without
    asking (``Cache-Control: max-age``): the ages add up. Delete-on-write keeps the
    server's copy in step with the database (but for lesson 06's race, which this
    bound leaves out), and it cannot reach a browser's copy,
    so ``max_age_s`` is left. Without a server cache (``None``) only ``max_age_s``.
    """
    if (server_ttl_s is not None and server_ttl_s < 0) or max_age_s < 0:
        raise ValueError(
            f"server_ttl_s and max_age_s must be >= 0, got {server_ttl_s!r}, {max_age_s!r}"
        )
    server_part = 0 if server_ttl_s is None or deletes_on_write else server_ttl_s
    return server_part + max_age_s
