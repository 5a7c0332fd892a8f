"""``LocalCluster``: a real Redis Cluster of six server processes, started and stopped by the
course.

Real processes throughout (the course's own server binary): the cluster starts with three
primaries and three replicas in agreement, listens on 127.0.0.1 only, keeps the course's caches
working across its shards, moves a slot under a reader without one wrong answer, promotes a
replica when a primary is killed, and leaves no process or folder behind, also when the Python
process that started it is killed (its watchdogs). Marked ``cluster``: about 15 s of processes,
run with the room tests in ``make test``, not in the library run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import psutil
import pytest
import redis
from redis.crc import key_slot

from cachelab import LocalCluster, keys
from cachelab.cache import RedisCache
from cachelab.invalidation import LeaseCache, VersionedKeys
from cachelab.stampedes import SingleFlight

pytestmark = pytest.mark.cluster

PREFIX = keys.learner_prefix("cluster-test")


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster() as started:
        yield started


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _wait_until(done, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_a_started_cluster_has_three_primaries_each_with_one_replica(cluster):
    roles = [cluster.node_client(port).info("replication")["role"] for port in cluster.ports]
    assert sorted(roles) == ["master"] * 3 + ["slave"] * 3
    primaries = {cluster.primary_port(slot) for slot in (0, 8000, 16383)}
    assert len(primaries) == 3, "the 16,384 slots are split across the three primaries"
    assert all(len(cluster.replica_ports(port)) == 1 for port in primaries)
    for port in cluster.ports:
        assert cluster.node_client(port).cluster("info")["cluster_state"] == "ok"


def test_every_node_listens_on_127_0_0_1_only(cluster):
    for node in cluster.nodes:
        listening = [
            c.laddr
            for c in psutil.Process(node.process.pid).net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN
        ]
        assert {address.ip for address in listening} == {"127.0.0.1"}, listening
        assert {address.port for address in listening} == {node.port, node.port + 10_000}


def test_a_node_answers_no_one_without_the_clusters_password(cluster):
    # another local user can find the ports (/proc/net/tcp), so a port is not a secret
    for port in cluster.ports:
        stranger = redis.Redis(host="127.0.0.1", port=port, socket_timeout=5)
        with pytest.raises(redis.AuthenticationError):
            stranger.get("cachelab:ada:page")
    password = cluster.nodes[0].password
    for node in cluster.nodes:
        command_line = " ".join(psutil.Process(node.process.pid).cmdline())
        assert password not in command_line, "every local user can read a command line"
        config = node.folder / "password.conf"
        assert config.stat().st_mode & 0o077 == 0, "the password file is this user's alone"


def test_the_course_caches_work_across_shards_with_a_key_and_its_lock_on_one_slot(cluster):
    cache = RedisCache(cluster.client(), prefix=PREFIX, fail_open=False)
    flight = SingleFlight(cache, lock_ttl=5, wait_timeout=5)
    pages = [keys.trending(), keys.product(1), keys.product(2), keys.product(3)]
    for page in pages:
        assert flight.get_or_load(page, lambda page=page: [page], ttl=60) == [page]
        assert cache.get(page) == [page]
        assert key_slot(keys._redis_key(PREFIX, keys.lock(page)).encode()) == key_slot(
            keys._redis_key(PREFIX, page).encode()
        )
    shards = {cluster.primary_port(keys._redis_key(PREFIX, page)) for page in pages}
    assert len(shards) > 1, "the pages are spread over more than one primary"
    assert flight.stats.late_fills == 0
    for page in pages:
        cache.delete(page)


def test_leases_and_versioned_keys_work_across_shards_unchanged(cluster, shop):
    """Lesson 06's leases and versioned keys, on the cluster as on one Redis: a
    lease and its value share a slot (the lease key's hash tag), and a product's generation and
    its page are found wherever their slots live."""
    cache = RedisCache(cluster.client(), prefix=PREFIX, fail_open=False)
    leases = LeaseCache(cache, lease_ttl=5)
    for page in (keys.product(1), keys.product(2), keys.trending()):
        assert key_slot(keys._redis_key(PREFIX, keys.lease(page)).encode()) == key_slot(
            keys._redis_key(PREFIX, page).encode()
        )
        value, token = leases.lease_get(page)
        assert value is None and token is not None
        assert leases.lease_get(page) == (None, None), "one lease at a time"
        leases.delete(page)  # a write: the lease is voided
        assert not leases.lease_set(page, "an old row", token, ttl=60), "a voided fill is refused"
        value, token = leases.lease_get(page)
        assert (
            leases.lease_set(page, "the new row", token, ttl=60)
            and cache.get(page) == "the new row"
        )
        cache.delete(page)
    versioned = VersionedKeys(shop, cache, ttl=60)
    products = range(1, 9)
    before = {product: versioned.read(product) for product in products}
    shards = {cluster.primary_port(keys._redis_key(PREFIX, versioned.key(p))) for p in products}
    assert len(shards) > 1, "the pages are spread over more than one primary"
    for product in products:
        new_price = before[product]["price_cents"] + 100
        versioned.set_price(product, new_price)
        assert versioned.read(product)["price_cents"] == new_price, "the new generation is read"
        assert versioned.cached(product)["price_cents"] == new_price
    for key in cache.client.scan_iter(match=PREFIX + "*"):
        cache.client.delete(key)


def test_a_slot_moves_live_under_a_reader_with_no_wrong_answer(cluster):
    client = cluster.client()
    names = [f"{PREFIX}{{moving}}:{i}" for i in range(300)]  # one hash tag: one slot
    slot = key_slot(names[0].encode())
    for i, name in enumerate(names):
        client.set(name, str(i))
    source = cluster.primary_port(slot)
    target = next(p for p in {cluster.primary_port(s) for s in (0, 8000, 16383)} if p != source)
    reads, wrong, errors, moving = [0], [0], [], threading.Event()
    moving.set()

    def read() -> None:
        reader = cluster.client()
        while moving.is_set():
            for i in range(0, len(names), 7):
                try:
                    if reader.get(names[i]) != str(i):
                        wrong[0] += 1
                except redis.RedisError as error:
                    errors.append(error)
                reads[0] += 1

    thread = threading.Thread(target=read)
    thread.start()
    try:
        time.sleep(0.1)
        moved = cluster.migrate_slot(slot, target, batch_keys=10)
        time.sleep(0.1)
    finally:
        moving.clear()
        thread.join()
    assert moved == len(names)
    assert cluster.primary_port(slot) == target
    assert reads[0] > len(names), "the reader read while the keys moved"
    assert (wrong[0], errors) == (0, [])
    for name in names:
        client.unlink(name)


def test_a_killed_primary_is_replaced_by_its_replica_and_nothing_is_left_behind():
    with LocalCluster() as cluster:
        client = cluster.client()
        key = PREFIX + "survivor"
        client.set(key, "kept")
        pids = [node.process.pid for node in cluster.nodes]
        folder = cluster.folder
        old = cluster.primary_port(key)
        replica = cluster.replica_ports(old)[0]
        replica_client = cluster.node_client(replica)
        replica_client.execute_command("READONLY")  # a replica answers reads of its slots
        assert _wait_until(lambda: _answers(replica_client, key) == "kept", 5)
        assert cluster.kill_primary(key) == old
        cluster.wait_until_ok(timeout_s=30)
        assert cluster.primary_port(key) == replica, "the replica was promoted"
        assert _wait_until(lambda: _answers(client, key) == "kept", 10), (
            "the same client finds the new primary"
        )
    assert all(_gone(pid) for pid in pids)
    assert not folder.exists()


def _answers(client: redis.Redis, key: str) -> object:
    try:
        return client.get(key)
    except redis.RedisError:
        return None


KERNEL = """
import json, sys, time
from cachelab import LocalCluster
cluster = LocalCluster().start()
watchdogs = [node.watchdog.pid for node in cluster.nodes] + [cluster._folder_watchdog.pid]
print(json.dumps({"pids": [n.process.pid for n in cluster.nodes], "watchdogs": watchdogs,
                  "folder": str(cluster.folder)}), flush=True)
time.sleep(600)
"""


def test_a_killed_kernel_leaves_no_cluster_process_behind():
    kernel = subprocess.Popen(
        [sys.executable, "-c", KERNEL], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        started = json.loads(kernel.stdout.readline())
        assert started["pids"] and all(not _gone(pid) for pid in started["pids"])
    finally:
        os.kill(kernel.pid, signal.SIGKILL)
        kernel.wait()
    everything = started["pids"] + started["watchdogs"]
    try:
        assert _wait_until(lambda: all(_gone(pid) for pid in everything), 20), [
            pid for pid in everything if not _gone(pid)
        ]
        assert _wait_until(lambda: not Path(started["folder"]).exists(), 5)
    finally:  # a failed test still stops what it started, by pid
        for pid in everything:
            if not _gone(pid):
                os.kill(pid, signal.SIGKILL)


def test_stop_is_safe_twice_and_a_bad_shape_is_refused():
    with pytest.raises(ValueError, match="at least 1 primary"):
        LocalCluster(primaries=0)
    cluster = LocalCluster()
    cluster.stop()
    cluster.stop()
    assert repr(cluster) == "LocalCluster(stopped)"
