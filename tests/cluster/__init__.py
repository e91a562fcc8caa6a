"""A real Redis Cluster for tests: ``redis-server --cluster-enabled yes`` processes joined by
``redis-cli --cluster create``, on free loopback ports in a temporary directory.

Fixtures (importable from any test package; ``tests/conftest.py`` imports them):

- ``cluster``: three masters, no replicas (module scoped);
- ``cluster_with_replicas``: three masters with one replica each and ``cluster-node-timeout``
  1000 ms, for failover tests (module scoped: a test may kill a node);
- ``tls_cluster``: three masters with one replica each that speak TLS only, to clients, to each
  other (``tls-cluster``) and to their replicas (``tls-replication``); ``url`` is
  ``rediss+cluster://...?ssl_ca_certs=<ca>``;
- ``one_node_cluster``: one ``--cluster-enabled`` node holding all 16384 slots
  (``CLUSTER ADDSLOTSRANGE 0 16383``): Cluster semantics (CROSSSLOT, key-slot checks of scripts)
  on one process.

Every process is started with ``PR_SET_PDEATHSIG`` (it dies with the test process, even on
``kill -9``) and stopped at teardown, whatever the test did.
"""

from __future__ import annotations

import contextlib
import ctypes
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis

from ..tls import TlsFiles, make_tls

#: the number of hash slots of a Redis Cluster
SLOTS = 16384


def _free_cluster_port() -> int:
    """A loopback port P with P and P + 10000 (its cluster bus port) both free."""
    for _ in range(200):
        port = random.randint(20000, 55000)
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 10000))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair for a cluster node")


def _die_with_parent() -> None:
    """``preexec_fn``: the node gets SIGTERM when the test process dies (Linux)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM), 0, 0, 0)   # PR_SET_PDEATHSIG


@dataclass
class Node:
    """One redis-server of a test cluster."""

    port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None
    tls: TlsFiles | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def client(self, **options: Any) -> redis.Redis:
        """A plain (non-cluster) redis-py client to this one node."""
        if self.tls is not None:
            options = {"ssl": True, "ssl_ca_certs": str(self.tls.ca), **options}
        return redis.Redis(host="127.0.0.1", port=self.port, decode_responses=True,
                           socket_timeout=10, **options)

    def start(self, node_timeout_ms: int, slots: bool = True) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.tls is None:
            ports = ["--port", str(self.port)]
        else:                # TLS only: no plain port; the cluster bus and replication use TLS too
            ports = ["--port", "0", "--tls-port", str(self.port), "--tls-cluster", "yes",
                     "--tls-replication", "yes", "--tls-cert-file", str(self.tls.cert),
                     "--tls-key-file", str(self.tls.key), "--tls-ca-cert-file", str(self.tls.ca),
                     "--tls-auth-clients", "no"]
        args = ["redis-server", *ports, "--bind", "127.0.0.1",
                "--dir", str(self.directory), "--appendonly", "no", "--save", "",
                "--daemonize", "no", "--logfile", str(self.directory / "redis.log"),
                "--cluster-enabled", "yes", "--cluster-config-file", str(self.directory / "nodes.conf"),
                "--cluster-node-timeout", str(node_timeout_ms),
                "--enable-debug-command", "local"]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        preexec_fn=_die_with_parent)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server on port {self.port} exited: "
                                   f"{(self.directory / 'redis.log').read_text()[-2000:]}")
            with contextlib.suppress(redis.RedisError), self.client() as probe:
                if probe.ping():
                    return
            time.sleep(0.02)
        raise RuntimeError(f"redis-server on port {self.port} did not answer PING")

    def kill(self) -> None:
        """``kill -9``: no clean shutdown, no goodbye to the other nodes."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


@dataclass
class Cluster:
    """A running test cluster; ``url`` is the ``redis+cluster://`` URL of two of its masters."""

    directory: Path
    masters: int = 3
    replicas: int = 0
    node_timeout_ms: int = 5000
    tls: TlsFiles | None = None
    nodes: list[Node] = field(default_factory=list)

    @property
    def url(self) -> str:
        seeds = ",".join(node.address for node in self.nodes[:2])
        if self.tls is not None:
            return f"rediss+cluster://{seeds}?ssl_ca_certs={self.tls.ca}"
        return f"redis+cluster://{seeds}"

    def start(self) -> None:
        count = self.masters * (1 + self.replicas)
        self.nodes = [Node(_free_cluster_port(), self.directory / f"node{i}", tls=self.tls) for i in range(count)]
        try:
            for node in self.nodes:
                node.start(self.node_timeout_ms)
            create = ["redis-cli", "--cluster", "create", *(n.address for n in self.nodes),
                      "--cluster-replicas", str(self.replicas), "--cluster-yes"]
            if self.tls is not None:
                create += ["--tls", "--cacert", str(self.tls.ca)]
            done = subprocess.run(create, capture_output=True, text=True, timeout=60)
            if done.returncode != 0:
                raise RuntimeError(f"redis-cli --cluster create failed: {done.stdout}\n{done.stderr}")
            self.wait_ok()
            if self.replicas:
                self._wait_replicas_synced()
        except BaseException:
            self.stop()
            raise

    def wait_ok(self, timeout: float = 30) -> None:
        """Until every live node says ``cluster_state:ok`` and agrees on who owns every slot."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            try:
                states = []
                views = set()
                for node in self.nodes:
                    if not node.alive:
                        continue
                    with node.client() as client:
                        states.append(client.execute_command("CLUSTER", "INFO"))
                        views.add(tuple(sorted((s[0], s[1], s[2][1]) for s in
                                               client.execute_command("CLUSTER", "SLOTS"))))
                if all("cluster_state:ok" in str(s) for s in states) and len(views) == 1:
                    return
                last = str(states)
            except redis.RedisError as exc:
                last = str(exc)
            time.sleep(0.05)
        raise RuntimeError(f"the cluster did not reach cluster_state:ok: {last[-500:]}")

    def _wait_replicas_synced(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            linked = 0
            for node in self.nodes:
                with node.client() as client:
                    info = client.info("replication")
                if info.get("role") == "slave" and info.get("master_link_status") == "up":
                    linked += 1
            if linked == self.masters * self.replicas:
                return
            time.sleep(0.05)
        raise RuntimeError("the replicas did not sync with their masters")

    def live(self) -> Node:
        return next(node for node in self.nodes if node.alive)

    def node_at(self, address: str) -> Node:
        return next(node for node in self.nodes if node.address == address)

    def slot_owners(self) -> dict[int, Node]:
        """Slot -> master, as a live node sees it now."""
        with self.live().client() as client:
            ranges = client.execute_command("CLUSTER", "SLOTS")
        owners: dict[int, Node] = {}
        for start, end, master, *_ in ranges:
            node = self.node_at(f"127.0.0.1:{master[1]}")
            for slot in range(int(start), int(end) + 1):
                owners[slot] = node
        return owners

    def master_of(self, slot: int) -> Node:
        return self.slot_owners()[slot]

    def primaries(self) -> list[Node]:
        """The live masters, in port order."""
        return sorted({n.port: n for n in self.slot_owners().values()}.values(), key=lambda n: n.port)

    def keyslot(self, key: str) -> int:
        with self.live().client() as client:
            return int(client.execute_command("CLUSTER", "KEYSLOT", key))

    def key_on(self, node: Node, prefix: str = "k") -> str:
        """A key (``prefix:<n>``) whose slot ``node`` owns."""
        owners = self.slot_owners()
        for n in range(100000):
            key = f"{prefix}:{n}"
            if owners[self.keyslot(key)] is node:
                return key
        raise AssertionError(f"no key of {prefix} on {node.address}")

    def node_id(self, node: Node) -> str:
        with node.client() as client:
            return str(client.execute_command("CLUSTER", "MYID"))

    def kill(self, node: Node) -> None:
        node.kill()

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


@contextlib.contextmanager
def running_cluster(masters: int = 3, replicas: int = 0, node_timeout_ms: int = 5000,
                    tls: bool = False) -> Iterator[Cluster]:
    """A cluster for the duration of the ``with``; every node is stopped after it."""
    directory = Path(tempfile.mkdtemp(prefix="hotmesh-cluster-"))
    files = make_tls(directory / "tls") if tls else None
    cluster = Cluster(directory, masters, replicas, node_timeout_ms, files)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(directory, ignore_errors=True)


@dataclass
class OneNodeCluster:
    """One ``--cluster-enabled`` node holding every slot."""

    node: Node

    @property
    def url(self) -> str:
        return f"redis+cluster://{self.node.address}"

    @property
    def plain_url(self) -> str:
        """A ``redis://`` URL of the node: one process, every slot, Cluster rules (CROSSSLOT)."""
        return f"redis://{self.node.address}"


@contextlib.contextmanager
def one_node(slots: tuple[int, int] | None = (0, SLOTS - 1)) -> Iterator[OneNodeCluster]:
    """A one-node cluster with ``slots`` (a range, or None: no slot, ``cluster_state:fail``)."""
    directory = Path(tempfile.mkdtemp(prefix="hotmesh-cluster1-"))
    node = Node(_free_cluster_port(), directory)
    try:
        node.start(node_timeout_ms=5000)
        with node.client() as client:
            if slots is not None:
                client.execute_command("CLUSTER", "ADDSLOTSRANGE", *slots)
            if slots == (0, SLOTS - 1):                # else it stays cluster_state:fail
                deadline = time.monotonic() + 10
                while "cluster_state:ok" not in str(client.execute_command("CLUSTER", "INFO")):
                    if time.monotonic() > deadline:
                        raise RuntimeError("the one-node cluster did not reach cluster_state:ok")
                    time.sleep(0.02)
        yield OneNodeCluster(node)
    finally:
        node.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """Three masters, no replicas."""
    with running_cluster(3, 0) as running:
        yield running


@pytest.fixture(scope="module")
def cluster_with_replicas() -> Iterator[Cluster]:
    """Three masters with one replica each; a dead master is replaced within about 2 s."""
    with running_cluster(3, 1, node_timeout_ms=1000) as running:
        yield running


@pytest.fixture(scope="module")
def tls_cluster() -> Iterator[Cluster]:
    """Three TLS-only masters with one replica each (failover within about 2 s)."""
    with running_cluster(3, 1, node_timeout_ms=1000, tls=True) as running:
        yield running


@pytest.fixture(scope="module")
def one_node_cluster() -> Iterator[OneNodeCluster]:
    """One cluster-enabled node holding all 16384 slots."""
    with one_node() as running:
        yield running
