"""kazoo against a Herald ensemble whose members die under it.

Starts three `herald server` processes itself (the release binary), so it
can SIGKILL the member a kazoo client is connected to: the client must move
to another member with the same session and its ephemeral node, and its
DataWatch must go on seeing changes.
"""

import os
import re
import signal
import subprocess
import tempfile
import time

import pytest
from kazoo.client import KazooState

from conftest import START_DEADLINE_S, TICK_MS, eventually, free_port, herald_binary, make_client

MEMBERS = 3


class Ensemble:
    def __init__(self, binary, data_dir):
        self.client_ports = [free_port() for _ in range(MEMBERS)]
        self.peer_ports = [free_port() for _ in range(MEMBERS)]
        self.processes = []
        self.logs = []
        members = [f"--member={i + 1}=127.0.0.1:{port}" for i, port in enumerate(self.peer_ports)]
        for index in range(MEMBERS):
            log_path = os.path.join(data_dir, f"member-{index + 1}.log")
            self.logs.append(log_path)
            with open(log_path, "ab") as log:
                self.processes.append(
                    subprocess.Popen(
                        [
                            binary, "server",
                            f"--id={index + 1}",
                            f"--listen=127.0.0.1:{self.client_ports[index]}",
                            f"--peer-listen=127.0.0.1:{self.peer_ports[index]}",
                            f"--tick-ms={TICK_MS}",
                            "--data-dir", os.path.join(data_dir, str(index + 1)),
                            *members,
                        ],
                        stdout=log,
                        stderr=subprocess.DEVNULL,
                    )
                )

    @property
    def hosts(self):
        return ",".join(f"127.0.0.1:{port}" for port in self.client_ports)

    def status(self, index):
        """The member's last printed status line (`leader, serving`, ...)."""
        with open(self.logs[index], encoding="utf-8", errors="replace") as log:
            lines = [line for line in log if re.match(r"herald server: (leader|follower|looking)", line)]
        return lines[-1].strip() if lines else ""

    def settled(self):
        statuses = [self.status(i) for i in range(MEMBERS) if self.processes[i].poll() is None]
        leaders = sum("leader, serving" in status for status in statuses)
        return leaders == 1 and all(", serving" in status for status in statuses)

    def stop(self):
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()


@pytest.fixture
def ensemble():
    data_dir = tempfile.mkdtemp(prefix="herald-ensemble-")
    members = Ensemble(herald_binary(), data_dir)
    try:
        eventually(members.settled, START_DEADLINE_S, "an ensemble serving under one leader")
        yield members
    finally:
        members.stop()


@pytest.mark.skipif(bool(os.environ.get("ZK_HOSTS")), reason="starts and kills its own Herald members")
def test_a_session_on_a_killed_member_moves_with_its_ephemeral_and_data_watch(ensemble):
    client = make_client(ensemble.hosts)
    try:
        session_id = client.client_id[0]
        client.create("/moving", b"", ephemeral=True)
        client.create("/watched", b"v1")
        # kazoo drops one-shot watches on a connection loss by design; its
        # DataWatch recipe sets them again, which is what applications use.
        values = []
        client.DataWatch("/watched", lambda data, stat: values.append(data))
        eventually(lambda: values == [b"v1"], 10, "the first DataWatch call")
        connected_port = client._connection._socket.getpeername()[1]
        victim = ensemble.client_ports.index(connected_port)
        states = []
        client.add_listener(states.append)

        os.kill(ensemble.processes[victim].pid, signal.SIGKILL)
        ensemble.processes[victim].wait()

        eventually(lambda: KazooState.SUSPENDED in states, 10, "the client noticed the loss")
        eventually(lambda: client.state == KazooState.CONNECTED, 20, "the client reconnected")
        assert client.client_id[0] == session_id, "the same session, not a new one"
        assert KazooState.LOST not in states
        assert client._connection._socket.getpeername()[1] != connected_port
        stat = client.exists("/moving")
        assert stat is not None and stat.ephemeralOwner == session_id

        other = make_client(ensemble.hosts)
        try:
            other.set("/watched", b"v2")
        finally:
            other.stop()
            other.close()
        eventually(lambda: b"v2" in values, 10, "the DataWatch saw the change after the move")
    finally:
        client.stop()
        client.close()
