"""The two-key scripts (a lock or lease filled and released with its value) run on Redis Cluster.

A Cluster refuses a script whose keys hash to different slots (``CROSSSLOT``), even when one
node serves every slot. So these tests start a real one-node cluster (the course's own server
binary, ``--cluster-enabled yes``, every slot added to it) and run each guard that fills and
releases in one script through a ``RedisCache`` on it. Before the companion keys carried a hash
tag (``keys._redis_key``), each of them failed with ``CROSSSLOT``.
"""

from __future__ import annotations

import random
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest
import redis
from redis.crc import key_slot

from cachelab import keys
from cachelab.cache import RedisCache
from cachelab.environment.redis_server import PrivateRedisServer
from cachelab.invalidation import LeaseCache
from cachelab.stampedes import EarlyRefresh, SingleFlight, StaleWhileRevalidate

PREFIX = keys.learner_prefix("cluster-test")
HOT = keys.trending()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def cluster_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[redis.Redis]:
    """A client of a one-node Redis Cluster that serves all 16,384 slots, on 127.0.0.1."""
    folder: Path = tmp_path_factory.mktemp("cluster")
    port, bus_port = _free_port(), _free_port()  # the bus port: port + 10,000 may not exist
    command = [
        PrivateRedisServer().executable,
        "--port", str(port), "--bind", "127.0.0.1", "--cluster-port", str(bus_port),
        "--cluster-enabled", "yes", "--cluster-config-file", str(folder / "nodes.conf"),
        "--dir", str(folder), "--save", "", "--appendonly", "no",
    ]  # fmt: skip
    log = open(folder / "server.log", "wb")
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    client = redis.Redis(host="127.0.0.1", port=port, decode_responses=True, socket_timeout=5)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or server.poll() is not None:
                    log.flush()
                    pytest.fail(
                        f"the cluster node did not start: {(folder / 'server.log').read_text()}"
                    )
                time.sleep(0.05)
        client.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
        while client.cluster("info")["cluster_state"] != "ok":
            assert time.monotonic() < deadline, "the one-node cluster never became ready"
            time.sleep(0.05)
        yield client
    finally:
        server.terminate()
        server.wait(10)
        log.close()


@pytest.fixture
def cluster_cache(cluster_client: redis.Redis) -> RedisCache:
    return RedisCache(cluster_client, prefix=PREFIX, fail_open=False)


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
