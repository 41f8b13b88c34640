"""kazoo (PyPI) against the node under test: CRUD, errors, sequential and
ephemeral nodes, sessions, ACLs, multi, watches and kazoo's recipes."""

import os
import socket
import struct
import subprocess
import sys
import threading

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import (
    BadVersionError,
    NoAuthError,
    NoChildrenForEphemeralsError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    RolledBackError,
    RuntimeInconsistency,
)
from kazoo.protocol.states import EventType, KazooState
from kazoo.security import make_acl, make_digest_acl

from conftest import eventually, make_client


def test_crud_and_stat(zk, root):
    path = zk.create(f"{root}/a", b"hello")
    assert path == f"{root}/a"
    data, stat = zk.get(path)
    assert data == b"hello"
    assert (stat.version, stat.data_length, stat.numChildren, stat.ephemeralOwner) == (0, 5, 0, 0)
    assert stat.czxid == stat.mzxid == stat.pzxid
    stat2 = zk.set(path, b"world!", version=0)
    assert (stat2.version, stat2.data_length, stat2.czxid) == (1, 6, stat.czxid)
    assert stat2.mzxid > stat.mzxid
    with pytest.raises(BadVersionError):
        zk.set(path, b"x", version=0)
    zk.create(f"{path}/child")
    parent = zk.exists(path)
    assert (parent.numChildren, parent.cversion) == (1, 1)
    with pytest.raises(NotEmptyError):
        zk.delete(path)
    with pytest.raises(NodeExistsError):
        zk.create(path)
    with pytest.raises(NoNodeError):
        zk.get(f"{root}/missing")
    with pytest.raises(NoNodeError):
        zk.create(f"{root}/missing/child")
    with pytest.raises(BadVersionError):
        zk.delete(f"{path}/child", version=3)
    zk.delete(path, recursive=True)
    assert zk.exists(path) is None


def test_sequential_suffixes_follow_zookeeper(zk, root):
    names = [zk.create(f"{root}/n-", sequence=True) for _ in range(3)]
    assert names == [f"{root}/n-000000000{i}" for i in range(3)]
    zk.create(f"{root}/plain")
    zk.delete(f"{root}/plain")
    assert zk.exists(root).cversion == 5
    assert zk.create(f"{root}/n-", sequence=True) == f"{root}/n-0000000004"


def test_ephemerals_go_with_their_session(zk, hosts, root):
    owner = make_client(hosts)
    path = owner.create(f"{root}/e", ephemeral=True)
    assert zk.exists(path).ephemeralOwner == owner.client_id[0]
    with pytest.raises(NoChildrenForEphemeralsError):
        owner.create(f"{path}/child")
    deleted = threading.Event()
    zk.exists(path, watch=lambda event: event.type == EventType.DELETED and deleted.set())
    owner.stop()
    owner.close()
    assert deleted.wait(10), "closing the session deletes its ephemerals and fires their watches"
    assert zk.exists(path) is None


def spawn_session_owner(hosts, path, timeout_s):
    """A child process that opens a session, creates an ephemeral at `path` and
    prints its session id and password; killing it leaves the session open
    and unclosed, as a crashed client would."""
    script = (
        "import sys, time\n"
        "from kazoo.client import KazooClient\n"
        f"c = KazooClient(hosts='{hosts}', timeout={timeout_s})\n"
        "c.start(timeout=15)\n"
        f"c.create('{path}', ephemeral=True)\n"
        "print(c.client_id[0], c.client_id[1].hex(), flush=True)\n"
        "time.sleep(600)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    session_id, password = child.stdout.readline().split()
    return child, int(session_id), bytes.fromhex(password.decode())


def test_a_dead_clients_session_expires(zk, hosts, root):
    child, _, _ = spawn_session_owner(hosts, f"{root}/dead", 1.0)
    try:
        assert zk.exists(f"{root}/dead") is not None
        gone = threading.Event()
        zk.exists(f"{root}/dead", watch=lambda event: event.type == EventType.DELETED and gone.set())
    finally:
        child.kill()
        child.wait()
    assert gone.wait(20), "expiry deletes the ephemeral and fires its watch"
    assert zk.exists(f"{root}/dead") is None


def test_reconnect_with_session_id_and_password(zk, hosts, root):
    path = f"{root}/mine"
    child, session_id, password = spawn_session_owner(hosts, path, 10.0)
    child.kill()
    child.wait()
    # A wrong password is refused as an expired session: kazoo then starts a new one.
    wrong = make_client(hosts, client_id=(session_id, b"\0" * 16), timeout=10.0)
    assert wrong.client_id[0] != session_id
    assert wrong.exists(path).ephemeralOwner == session_id
    wrong.stop()
    wrong.close()
    # The right one resumes the session, ephemerals and all.
    resumed = make_client(hosts, client_id=(session_id, password), timeout=10.0)
    assert resumed.client_id[0] == session_id
    assert resumed.exists(path).ephemeralOwner == session_id
    resumed.stop()
    resumed.close()
    eventually(lambda: zk.exists(path) is None, 10, "closing the resumed session")


def test_digest_acls(hosts, root):
    alice = make_client(hosts, auth_data=[("digest", "alice:secret")])
    stranger = make_client(hosts)
    acl = [make_digest_acl("alice", "secret", all=True), make_acl("world", "anyone", read=True)]
    path = alice.create(f"{root}/private", b"x", acl=acl)
    assert stranger.get(path)[0] == b"x"
    with pytest.raises(NoAuthError):
        stranger.set(path, b"y")
    with pytest.raises(NoAuthError):
        stranger.create(f"{path}/child")
    alice.set(path, b"y")
    stranger.add_auth("digest", "alice:secret")
    stranger.set(path, b"z")
    acls, stat = alice.get_acls(path)
    assert stat.aversion == 0 and len(acls) == 2
    alice.set_acls(path, [make_acl("world", "anyone", all=True)], version=0)
    assert alice.exists(path).aversion == 1
    for client in (alice, stranger):
        client.stop()
        client.close()


def test_multi_is_atomic_and_reports_each_op(zk, root):
    tx = zk.transaction()
    tx.create(f"{root}/m1", b"1")
    tx.create(f"{root}/m1/m2", b"2")
    tx.set_data(f"{root}/m1", b"one")
    tx.check(f"{root}/m1", 1)
    results = tx.commit()
    assert results[0] == f"{root}/m1" and results[1] == f"{root}/m1/m2"
    assert results[2].version == 1 and results[3] is True

    tx = zk.transaction()
    tx.create(f"{root}/never")
    tx.check(f"{root}/m1", 7)
    tx.delete(f"{root}/m1/m2")
    results = tx.commit()
    assert isinstance(results[0], RolledBackError)
    assert isinstance(results[1], BadVersionError)
    assert isinstance(results[2], RuntimeInconsistency)
    assert zk.exists(f"{root}/never") is None
    assert zk.exists(f"{root}/m1/m2") is not None


def test_one_shot_data_and_child_watches(zk, hosts, root):
    other = make_client(hosts)
    path = zk.create(f"{root}/w", b"0")
    events = []
    zk.get(path, watch=events.append)
    other.set(path, b"1")
    other.set(path, b"2")
    eventually(lambda: events, 10, "the data watch")
    # On an ensemble the two clients may talk to different members: the
    # watcher's member may not have applied the second set yet. sync is
    # ZooKeeper's way to read what another client wrote.
    zk.sync(path)
    assert zk.get(path)[0] == b"2"
    assert [event.type for event in events] == [EventType.CHANGED]

    child_events = []
    zk.get_children(path, watch=child_events.append)
    other.create(f"{path}/c")
    eventually(lambda: child_events, 10, "the child watch")
    assert child_events[0].type == EventType.CHILD and child_events[0].path == path

    created = []
    zk.exists(f"{root}/later", watch=created.append)
    other.create(f"{root}/later")
    eventually(lambda: created, 10, "the exists watch")
    assert created[0].type == EventType.CREATED
    other.stop()
    other.close()


def test_a_watch_event_arrives_before_the_read_that_reflects_it(zk, hosts, root):
    # ZooKeeper's ordering guarantee: the watch fires before the client can
    # see the new value. kazoo runs callbacks on its event thread, in order.
    other = make_client(hosts)
    path = zk.create(f"{root}/order", b"old")
    for round_number in range(20):
        seen = []
        zk.get(path, watch=lambda event: seen.append("event"))
        other.set(path, str(round_number).encode())
        while True:
            data, _ = zk.get(path)
            if data == str(round_number).encode():
                break
        eventually(lambda: seen, 5, "the event")
    other.stop()
    other.close()


def test_data_and_children_watch_recipes(zk, hosts, root):
    other = make_client(hosts)
    path = zk.create(f"{root}/dw", b"a")
    values = []
    zk.DataWatch(path, lambda data, stat: values.append(data))
    children = []
    zk.ChildrenWatch(path, lambda names: children.append(sorted(names)))
    eventually(lambda: values == [b"a"] and children == [[]], 10, "initial callbacks")
    other.set(path, b"b")
    other.create(f"{path}/x")
    eventually(lambda: b"b" in values and ["x"] in children, 10, "changes delivered")
    other.stop()
    other.close()


def test_lock_recipe_gives_mutual_exclusion(hosts, root):
    clients = [make_client(hosts) for _ in range(4)]
    inside, violations, done = [0], [], []
    guard = threading.Lock()

    def worker(client, index):
        lock = client.Lock(f"{root}/lock", f"worker-{index}")
        for _ in range(5):
            with lock:
                with guard:
                    inside[0] += 1
                    if inside[0] != 1:
                        violations.append(inside[0])
                with guard:
                    inside[0] -= 1
        done.append(index)

    threads = [threading.Thread(target=worker, args=(c, i)) for i, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(done) == [0, 1, 2, 3]
    assert violations == []
    for client in clients:
        client.stop()
        client.close()


# Stopping the first leader's client is the failure under test; its election
# thread then dies with ConnectionClosedError, which is expected.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_election_recipe_picks_one_leader_and_fails_over(hosts, root):
    leaders = []
    clients = [make_client(hosts) for _ in range(3)]
    elections = [c.Election(f"{root}/election", f"candidate-{i}") for i, c in enumerate(clients)]
    stop = threading.Event()

    def run(index):
        def lead():
            leaders.append(index)
            stop.wait(30)

        elections[index].run(lead)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(3)]
    for thread in threads:
        thread.start()
    eventually(lambda: leaders, 10, "a leader")
    first = leaders[0]
    assert len(leaders) == 1
    # The other candidates register on their own threads, maybe through
    # other members of an ensemble: their nodes appear soon, not at once.
    eventually(lambda: len(elections[(first + 1) % 3].contenders()) == 3, 10, "three contenders")
    assert len(leaders) == 1
    clients[first].stop()
    eventually(lambda: len(leaders) == 2, 15, "failover to a second leader")
    assert leaders[1] != first
    stop.set()
    for election in elections:
        election.cancel()
    for thread in threads:
        thread.join(10)
    for client in clients:
        client.stop()
        client.close()


def test_queue_counter_and_barrier_recipes(hosts, root):
    producer, consumer = make_client(hosts), make_client(hosts)
    queue = producer.Queue(f"{root}/queue")
    for item in [b"1", b"2", b"3"]:
        queue.put(item)
    consumed = [consumer.Queue(f"{root}/queue").get() for _ in range(3)]
    assert consumed == [b"1", b"2", b"3"]
    assert consumer.Queue(f"{root}/queue").get() is None

    counters = [make_client(hosts) for _ in range(3)]

    def bump(client):
        counter = client.Counter(f"{root}/counter")
        for _ in range(10):
            counter += 1

    threads = [threading.Thread(target=bump, args=(c,)) for c in counters]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert producer.Counter(f"{root}/counter").value == 30

    barrier = producer.Barrier(f"{root}/barrier")
    barrier.create()
    released = []
    waiter = threading.Thread(target=lambda: released.append(consumer.Barrier(f"{root}/barrier").wait(20)))
    waiter.start()
    eventually(lambda: waiter.is_alive(), 5, "the waiter blocks")
    barrier.remove()
    waiter.join(20)
    assert released == [True]
    for client in [producer, consumer, *counters]:
        client.stop()
        client.close()


def test_garbage_and_oversized_frames_close_only_their_connection(zk, hosts, root):
    host, port = hosts.split(",")[0].split(":")
    # Garbage that is not a connect request.
    with socket.create_connection((host, int(port)), timeout=10) as garbage:
        garbage.sendall(struct.pack(">i", 8) + b"\xff" * 8)
        assert garbage.recv(64) == b"", "the server closes a connection that sent garbage"
    # A frame one byte over jute.maxbuffer (1 MiB): refused without reading it.
    with socket.create_connection((host, int(port)), timeout=10) as oversized:
        oversized.sendall(struct.pack(">i", 1024 * 1024 + 1) + b"\0" * 4096)
        try:
            assert oversized.recv(64) == b""
        except ConnectionResetError:
            pass
    # Everyone else keeps working.
    assert zk.create(f"{root}/still-alive") == f"{root}/still-alive"


def test_many_concurrent_clients(hosts, root):
    clients = [make_client(hosts) for _ in range(8)]
    errors = []

    def work(index, client):
        try:
            for i in range(25):
                path = client.create(f"{root}/c{index}-", str(i).encode(), sequence=True)
                assert client.get(path)[0] == str(i).encode()
        except Exception as error:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(i, c)) for i, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert len(clients[0].get_children(root)) == 8 * 25
    for client in clients:
        client.stop()
        client.close()

