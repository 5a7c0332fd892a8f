"""Eight processes read and write the shop through the Redis cache at once, with the races made
wide.

Every Redis call goes through a proxy that adds 1 ms to it, and every product load
takes 5 ms longer, so that a reader's load and a writer's write overlap often. In
each of ``ROUNDS`` rounds seven processes read one product while the eighth changes
its price; then the cached row is compared with the database's. Versioned keys (a write
deletes the generation, a reader starts a new one with ``SET NX``) and leases (``SET NX``
to hand one out, a Lua compare-and-set to fill) must leave no round stale. TTL-only
caching must leave many -- that shows the comparison can see a stale row at all. Delete-on-write and
write-through are counted and reported: their races are the ones lesson 06 teaches,
and nothing in them closes those races.
"""

from __future__ import annotations

import multiprocessing

import pytest
from concurrent_pages import race
from latency_proxy import LatencyProxy

from cachelab.environment.redis_server import PrivateRedisServer
from cachelab.invalidation import _ALL_STRATEGIES

PROCESSES = 8
ROUNDS = 60
PRODUCTS = [1, 2, 3, 4, 5]
TTL = 600.0
RACE_FREE = {"versioned keys", "delete-on-write + leases"}
STRATEGY_NAMES = [cls.name for cls in _ALL_STRATEGIES]


@pytest.fixture(scope="module")
def server():
    server = PrivateRedisServer().start()
    yield server
    server.stop()


def stale_rounds(strategy_name: str, server, shop_path) -> tuple[int, int, int]:
    """Run the rounds in ``PROCESSES`` processes; (stale rounds, writes, Redis errors).

    They are forked from a fork server that imported ``concurrent_pages`` (and so cachelab)
    once, not spawned: forty fresh interpreters each importing the course took about 20 s of
    CPU, most of what this file cost. Forked from a server with no threads, not from pytest.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["concurrent_pages"])
    barrier, results = context.Barrier(PROCESSES, timeout=60), context.Queue()
    prefix = f"cachelab:ada:concurrency:{STRATEGY_NAMES.index(strategy_name)}:"
    with LatencyProxy(server.socket_path, delay_s=0.001) as proxy:
        processes = [
            context.Process(
                target=race,
                args=(
                    index,
                    strategy_name,
                    str(shop_path),
                    proxy.url,
                    prefix,
                    ROUNDS,
                    PRODUCTS,
                    TTL,
                    barrier,
                    results,
                ),
            )
            for index in range(PROCESSES)
        ]
        for process in processes:
            process.start()
        outcome = results.get(timeout=120)
        for process in processes:
            process.join(30)
    assert all(process.exitcode == 0 for process in processes), [p.exitcode for p in processes]
    return outcome


@pytest.mark.parametrize("strategy_name", STRATEGY_NAMES)
def test_readers_racing_a_writer(strategy_name, server, shop, capsys):
    stale, writes, errors = stale_rounds(strategy_name, server, shop.path)
    with capsys.disabled():
        print(
            f"\n  {strategy_name}: {stale} of {writes} rounds left the cache older than the "
            "database "
            f"({PROCESSES - 1} readers racing 1 writer per round)"
        )
    assert errors == 0 and writes == ROUNDS
    if strategy_name in RACE_FREE:
        assert stale == 0, f"{strategy_name} left the cache stale in {stale} round(s)"
    elif strategy_name == "TTL only":
        assert stale >= 10, (
            "TTL-only caching leaves old rows: if few are seen, the comparison is blind"
        )
