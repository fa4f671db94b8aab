"""Start a local Redis Cluster: 3 masters and 3 replicas on loopback ports.

For the tests of the hub on a Redis Cluster (tests/hub/test_redis_cluster.py)
and for trying ``REDIS_CLUSTER_URL`` by hand (docs/scaling.md, "Redis
Cluster"). Needs ``redis-server`` and ``redis-cli`` (Debian: ``redis-server``,
which pulls ``redis-tools``), Redis 7 or later for sharded pub/sub.

As a command (Ctrl-C stops and removes everything)::

    .venv/bin/python -m scripts.redis_cluster      # prints REDIS_CLUSTER_URL

As a context manager::

    from scripts.redis_cluster import RedisCluster

    with RedisCluster() as cluster:
        cluster.url                # redis://127.0.0.1:PORT (one node: a seed)
        cluster.master_of("chan")  # port of the master serving that slot now
        cluster.stop_node(port)    # SHUTDOWN NOSAVE: a crashed master

Each node runs in its own temporary directory with ``--cluster-enabled yes``,
``--save ''`` and ``--appendonly no`` (the hub keeps nothing in Redis) and a
short ``--cluster-node-timeout`` (:data:`NODE_TIMEOUT_MS`), so a replica takes
over a stopped master within a couple of seconds. Ports are free loopback
ports below Linux's ephemeral range whose cluster bus port (port + 10000) is
free too.
"""

from __future__ import annotations

import contextlib
import random
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import redis
from redis.crc import key_slot

from scripts.topology import die_with_parent, port_free

HOST = "127.0.0.1"
# Client ports are drawn here; their bus ports (+10000) stay below 32768.
PORT_RANGE = (12000, 22000)
NODE_TIMEOUT_MS = 1000
BINARIES = ("redis-server", "redis-cli")


class MissingRedis(RuntimeError):
    """redis-server or redis-cli is not installed."""


def binaries() -> dict[str, str]:
    """Paths of redis-server and redis-cli; :class:`MissingRedis` if absent."""
    found = {name: shutil.which(name) for name in BINARIES}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        raise MissingRedis(
            f"{' and '.join(missing)} not found: install Debian's redis-server "
            "package (it brings redis-tools), Redis 7 or later"
        )
    return found


def free_cluster_ports(count: int) -> list[int]:
    """``count`` ports whose client and cluster-bus ports are both free."""
    ports: list[int] = []
    candidates = list(range(*PORT_RANGE))
    random.shuffle(candidates)
    for port in candidates:
        if port_free(port) and port_free(port + 10000):
            ports.append(port)
            if len(ports) == count:
                return ports
    raise RuntimeError("no free loopback ports for a Redis Cluster")


class RedisCluster:
    """Six redis-server processes made into one cluster (3 masters, 3 replicas)."""

    def __init__(self, masters: int = 3, startup_timeout: float = 30.0) -> None:
        self.count = masters * 2
        self.startup_timeout = startup_timeout
        self.paths = binaries()
        self.ports: list[int] = []
        self.processes: dict[int, subprocess.Popen] = {}
        self.workdir: Path | None = None

    @property
    def url(self) -> str:
        """A seed node's URL: the client discovers the others."""
        return f"redis://{HOST}:{self.ports[0]}"

    def __enter__(self) -> RedisCluster:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> RedisCluster:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="hub-redis-cluster-"))
        self.ports = free_cluster_ports(self.count)
        for port in self.ports:
            self._start_node(port)
        for port in self.ports:
            self._wait_for_ping(port)
        self.cli(
            "--cluster",
            "create",
            *(f"{HOST}:{port}" for port in self.ports),
            "--cluster-replicas",
            "1",
            "--cluster-yes",
        )
        deadline = time.monotonic() + self.startup_timeout
        while not all(
            self._cluster_ok(port) and self._replica_synced(port) for port in self.ports
        ):
            if time.monotonic() > deadline:
                raise RuntimeError(
                    "the Redis Cluster did not reach cluster_state:ok with every "
                    "replica in sync"
                )
            time.sleep(0.1)

    def _start_node(self, port: int) -> None:
        node_dir = self.workdir / str(port)
        node_dir.mkdir()
        self.processes[port] = subprocess.Popen(
            [
                self.paths["redis-server"],
                "--port",
                str(port),
                "--bind",
                HOST,
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                str(NODE_TIMEOUT_MS),
                "--save",
                "",
                "--appendonly",
                "no",
                # Replicas sync at once (not after the default 5 s), so a
                # master stopped right after start has a replica to take over.
                "--repl-diskless-sync-delay",
                "0",
                "--dir",
                str(node_dir),
                "--logfile",
                str(node_dir / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent(),  # no node left behind by a killed run
        )

    def _wait_for_ping(self, port: int) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.processes[port].poll() is not None:
                raise RuntimeError(f"redis-server on port {port} exited at start")
            with contextlib.suppress(subprocess.CalledProcessError):
                if self.cli("-p", str(port), "ping").strip() == "PONG":
                    return
            time.sleep(0.05)
        raise RuntimeError(f"redis-server on port {port} did not answer")

    def cli(self, *args: str) -> str:
        """Run ``redis-cli -h 127.0.0.1 ARGS``; return its output."""
        return subprocess.run(
            [self.paths["redis-cli"], "-h", HOST, *args],
            check=True,
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout

    def _cluster_ok(self, port: int) -> bool:
        try:
            return "cluster_state:ok" in self.cli("-p", str(port), "cluster", "info")
        except subprocess.CalledProcessError:
            return False

    def _replica_synced(self, port: int) -> bool:
        """A master, or a replica whose link to its master is up."""
        info = self.cli("-p", str(port), "info", "replication")
        return "role:master" in info or "master_link_status:up" in info

    def slots(self) -> list[tuple[int, int, int]]:
        """``(first slot, last slot, master port)`` of each slot range, as the
        first live node sees them now (``CLUSTER SLOTS``)."""
        client = redis.Redis(host=HOST, port=self.live_ports()[0], socket_timeout=5)
        try:
            rows = client.execute_command("CLUSTER", "SLOTS")
        finally:
            client.close()
        return [(row[0], row[1], int(row[2][1])) for row in rows]

    def master_of(self, channel: str) -> int:
        """The port of the master serving ``channel``'s hash slot now."""
        slot = key_slot(channel.encode())
        for low, high, port in self.slots():
            if low <= slot <= high:
                return port
        raise RuntimeError(f"no master serves the slot of {channel!r}")

    def live_ports(self) -> list[int]:
        return [p for p in self.ports if self.processes[p].poll() is None]

    def stop_node(self, port: int) -> None:
        """Stop one node at once, without saving (a crash, for the cluster)."""
        with contextlib.suppress(subprocess.CalledProcessError):
            self.cli("-p", str(port), "shutdown", "nosave")
        self.processes[port].wait(10)

    def wait_for_ok(self, timeout: float = 30.0) -> None:
        """Wait until every live node says ``cluster_state:ok``."""
        deadline = time.monotonic() + timeout
        while not all(self._cluster_ok(port) for port in self.live_ports()):
            if time.monotonic() > deadline:
                raise RuntimeError("the Redis Cluster did not recover")
            time.sleep(0.1)

    def stop(self) -> None:
        """Stop every node and remove their directories."""
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes = {}
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None


def main() -> None:
    with RedisCluster() as cluster:
        print(f"REDIS_CLUSTER_URL={cluster.url}  (nodes: {cluster.ports})", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            signal.signal(signal.SIGTERM, signal.default_int_handler)
            signal.pause()


if __name__ == "__main__":
    main()
