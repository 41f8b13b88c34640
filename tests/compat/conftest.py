"""Fixtures for the kazoo compatibility suite.

The suite runs against a Herald node it starts itself (the release binary,
`herald dev` on a free loopback port and a fresh data directory), or, when
ZK_HOSTS is set, against that server instead: running it against a real
Apache ZooKeeper shows the expectations are ZooKeeper's, not Herald's.
"""

import os
import pathlib
import shutil
import socket
import subprocess
import tempfile
import time

import pytest
from kazoo.client import KazooClient
from kazoo.retry import KazooRetry

ROOT = pathlib.Path(__file__).resolve().parents[2]
# Tick of the node under test: session timeouts negotiate into [2, 20] ticks.
TICK_MS = int(os.environ.get("HERALD_TEST_TICK_MS", "200"))
START_DEADLINE_S = 30


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(host, port, deadline_s, process=None):
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before listening")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {host}:{port} after {deadline_s}s")


class HeraldNode:
    def __init__(self, binary, data_dir, port):
        self.binary, self.data_dir, self.port = binary, data_dir, port
        self.process = None

    @property
    def hosts(self):
        return f"127.0.0.1:{self.port}"

    def start(self):
        self.log = open(os.path.join(self.data_dir, "herald.log"), "ab")
        self.process = subprocess.Popen(
            [self.binary, "dev", "--listen", self.hosts, "--http-listen", "127.0.0.1:0", "--data-dir", self.data_dir, "--tick-ms", str(TICK_MS)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_for_port("127.0.0.1", self.port, START_DEADLINE_S, self.process)

    def kill(self):
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def herald_binary():
    binary = os.environ.get("HERALD_BIN", str(ROOT / "target" / "release" / "herald"))
    if not os.path.exists(binary):
        pytest.fail(f"{binary} is missing: run `cargo build --release -p herald` first")
    return binary


@pytest.fixture(scope="session")
def server():
    if os.environ.get("ZK_HOSTS"):
        yield type("External", (), {"hosts": os.environ["ZK_HOSTS"], "process": None})()
        return
    data_dir = tempfile.mkdtemp(prefix="herald-compat-")
    node = HeraldNode(herald_binary(), data_dir, free_port())
    node.start()
    yield node
    node.stop()
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def hosts(server):
    return server.hosts


def make_client(hosts, **options):
    options.setdefault("timeout", 4.0)
    client = KazooClient(
        hosts=hosts,
        connection_retry=KazooRetry(max_tries=-1, delay=0.05, max_delay=0.5),
        command_retry=KazooRetry(max_tries=20, delay=0.05, max_delay=0.5),
        **options,
    )
    client.start(timeout=15)
    return client


@pytest.fixture
def zk(hosts):
    client = make_client(hosts)
    yield client
    client.stop()
    client.close()


@pytest.fixture
def root(zk, request):
    """A fresh subtree per test so tests never see each other's nodes."""
    path = f"/t-{request.node.name}-{time.monotonic_ns()}".replace("[", "_").replace("]", "_")
    zk.create(path)
    yield path
    zk.delete(path, recursive=True)


def eventually(condition, deadline_s=15.0, what="condition"):
    """Polls `condition` until it holds or the deadline passes (never a bare sleep)."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"{what} did not hold within {deadline_s}s")
