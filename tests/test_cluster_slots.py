"""The two-key scripts (a lock or lease filled and released with its value) run on Redis Cluster.

A Cluster refuses a script whose keys hash to different slots (``CROSSSLOT``), even when one
node serves every slot. So these tests start a real one-node cluster (``LocalCluster`` with one
primary and no replica: the course's own server binary, every slot added to it) and run each guard
that fills and releases in one script through a ``RedisCache`` on it. Before the companion keys
carried a hash tag (``keys._redis_key``), each of them failed with ``CROSSSLOT``.
"""

from __future__ import annotations

import random
from typing import Iterator

import pytest
import redis
from redis.crc import key_slot

from cachelab import LocalCluster, keys
from cachelab.cache import RedisCache
from cachelab.invalidation import LeaseCache
from cachelab.stampedes import EarlyRefresh, SingleFlight, StaleWhileRevalidate

PREFIX = keys.learner_prefix("cluster-test")
HOT = keys.trending()


@pytest.fixture(scope="module")
def one_node() -> Iterator[LocalCluster]:
    """A Redis Cluster of one node that serves all 16,384 slots, on 127.0.0.1 (about 0.2 s)."""
    with LocalCluster(primaries=1, replicas=0) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def cluster_client(one_node: LocalCluster) -> redis.Redis:
    """A plain client of the node: what it refuses is the server's answer, not redis-py's."""
    return one_node.node_client(one_node.ports[0])


@pytest.fixture
def cluster_cache(one_node: LocalCluster) -> RedisCache:
    """The course's cache on redis-py's cluster client, as lesson 12 uses it."""
    return RedisCache(one_node.client(), prefix=PREFIX, fail_open=False)


def test_a_cluster_refuses_a_script_whose_keys_are_in_two_slots(cluster_client):
    """The failure the hash tags prevent, shown on this very cluster."""
    with pytest.raises(redis.ResponseError, match="CROSSSLOT|same slot"):
        cluster_client.eval("return 1", 2, PREFIX + "a", PREFIX + "lock:a")  # valkey: 'same slot'


@pytest.mark.parametrize(
    "companion",
    [keys.lock(HOT), keys.lease(HOT), keys.refresh_lock(HOT), keys._early_refresh(HOT)],
)
def test_a_key_and_its_companions_share_a_slot(companion):
    assert key_slot(keys._redis_key(PREFIX, companion).encode()) == key_slot(
        keys._redis_key(PREFIX, HOT).encode()
    )


def test_stale_while_revalidate_keys_share_a_slot():
    record = keys._stale_while_revalidate(HOT)
    slots = {
        key_slot(keys._redis_key(PREFIX, key).encode())
        for key in (record, keys.lock(record), keys.refresh_lock(HOT))
    }
    assert len(slots) == 1


def test_single_flight_fills_and_releases_on_a_cluster(cluster_cache):
    flight = SingleFlight(cluster_cache, lock_ttl=5, wait_timeout=5)
    assert flight.get_or_load(HOT, lambda: ["the page"], ttl=60) == ["the page"]
    assert cluster_cache.get(HOT) == ["the page"] and flight.stats.late_fills == 0


def test_a_lease_fill_runs_on_a_cluster(cluster_cache):
    leases = LeaseCache(cluster_cache)
    key = keys.product(7)
    value, token = leases.lease_get(key)
    assert value is None and token is not None
    assert leases.lease_set(key, {"id": 7}, token) is True
    assert cluster_cache.get(key) == {"id": 7}


def test_early_refresh_with_a_marker_runs_on_a_cluster(cluster_cache):
    early = EarlyRefresh(cluster_cache, beta=1.0, rng=random.Random(0), lock_ttl=5)
    early.store(HOT, "old", delta_s=1.0, ttl=0.5)  # so close to expiry that a read refreshes
    assert early.get_or_load(HOT, lambda: "new", ttl=60) == "new"
    assert early.stats.early_refreshes == 1 and early.entry(HOT)["value"] == "new"


def test_stale_while_revalidate_refreshes_on_a_cluster(cluster_cache):
    now = [1_000.0]
    swr = StaleWhileRevalidate(cluster_cache, 10, 60, clock=lambda: now[0], spawn=lambda job: job())
    assert swr.get_or_load(HOT, lambda: "v1") == "v1"
    now[0] += 20
    assert swr.get_or_load(HOT, lambda: "v2") == "v1", "stale, and refreshed behind it"
    assert swr.entry(HOT)["value"] == "v2"
    now[0] += 100
    assert swr.get_or_load(HOT, lambda: "v3") == "v3", "too old: one foreground load"


@pytest.fixture(autouse=True)
def _clean(cluster_client):
    yield
    for key in cluster_client.scan_iter(match=keys._scan_pattern(PREFIX)):
        cluster_client.unlink(key)
