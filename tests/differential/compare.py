"""Differential tier: the same scenarios against Apache ZooKeeper and Herald
must give the same observations (error codes, deterministic Stat fields,
sequential names, watch events, multi results).

    HERALD_BIN=target/release/herald ZK_HOSTS=127.0.0.1:2181 python3 tests/differential/compare.py

Each scenario works under its own fresh root path and records what a client
sees; zxids, times and session ids are reduced to relations that hold on any
correct server. Exits non-zero and prints both sides on any difference.
"""

import json
import os
import pathlib
import socket
import subprocess
import sys
import tempfile
import time

from rawzk import OPEN_ACL, RawClient, create_body, i32, i64, string, acl_vector

ROOT = pathlib.Path(__file__).resolve().parents[2]
PERSISTENT, EPHEMERAL, PERSISTENT_SEQUENTIAL, EPHEMERAL_SEQUENTIAL, CONTAINER, TTL = 0, 1, 2, 3, 4, 5


def stat_of(reader):
    return reader.stat()


def scenario_paths_and_errors(client, base, record):
    """Bad paths and ZooKeeper's order of checks."""
    record("create base", client.call("create", create_body(base))[0])
    for path in [f"{base}/x/", f"{base}//b", f"{base}/.", f"{base}/a/..", "relative", "/", f"{base}/x\u0001"]:
        record(f"create {path!r}", client.call("create", create_body(path))[0])
    record("create missing parent", client.call("create", create_body(f"{base}/no/child"))[0])
    for path in [f"{base}//b", "/zookeeper", "/", f"{base}/missing"]:
        record(f"delete {path!r}", client.call("delete", string(path) + i32(-1))[0])
    for path in [f"{base}//b", f"{base}/missing", "no-slash"]:
        record(f"getData {path!r}", client.call("getData", string(path) + b"\0")[0])
        record(f"exists {path!r}", client.call("exists", string(path) + b"\0")[0])
    record("empty acl", client.call("create", create_body(f"{base}/e", acl=[]))[0])
    record("bad scheme", client.call("create", create_body(f"{base}/e", acl=[(31, "nope", "x")]))[0])
    record("auth acl unauthenticated", client.call("create", create_body(f"{base}/e", acl=[(31, "auth", "")]))[0])
    record("bad flags", client.call("create", create_body(f"{base}/e", flags=42))[0])
    record("ttl zero", client.call("createTTL", create_body(f"{base}/t", flags=TTL, ttl=0))[0])
    record("ttl on plain mode", client.call("createTTL", create_body(f"{base}/t", flags=PERSISTENT, ttl=100))[0])
    record("unknown opcode", client.call_raw_op(999))


def scenario_stats_and_versions(client, base, record):
    err, reader = client.call("create2", create_body(base, b"abc"))
    record("create2", err, reader.string(), stat_of(reader))
    err, reader = client.call("setData", string(base) + string(b"hello") + i32(0))
    record("setData v0", err, stat_of(reader))
    record("setData stale", client.call("setData", string(base) + string(b"x") + i32(0))[0])
    err, reader = client.call("setData", string(base) + string(b"") + i32(-1))
    record("setData any", err, stat_of(reader))
    for name in ["a", "b", "c"]:
        client.call("create", create_body(f"{base}/{name}"))
    client.call("delete", string(f"{base}/b") + i32(-1))
    err, reader = client.call("exists", string(base) + b"\0")
    record("parent after 3 creates 1 delete", err, stat_of(reader))
    record("delete non-empty", client.call("delete", string(base) + i32(-1))[0])
    record("delete bad version", client.call("delete", string(f"{base}/a") + i32(5))[0])
    err, reader = client.call("getChildren2", string(base) + b"\0")
    count = reader.i32()
    record("children", err, sorted(reader.string() for _ in range(count)), stat_of(reader))
    err, reader = client.call("setACL", string(base) + acl_vector(OPEN_ACL) + i32(0))
    record("setACL", err, stat_of(reader))
    record("setACL stale", client.call("setACL", string(base) + acl_vector(OPEN_ACL) + i32(0))[0])
    err, reader = client.call("getAllChildrenNumber", string(base))
    record("all children", err, reader.i32())


def scenario_sequential_and_ephemeral(client, base, record):
    client.call("create", create_body(base))
    for _ in range(3):
        err, reader = client.call("create", create_body(f"{base}/n-", flags=PERSISTENT_SEQUENTIAL))
        record("seq", err, reader.string())
    client.call("create", create_body(f"{base}/plain"))
    client.call("delete", string(f"{base}/plain") + i32(-1))
    err, reader = client.call("exists", string(base) + b"\0")
    record("cversion", stat_of(reader)["cversion"])
    err, reader = client.call("create", create_body(f"{base}/n-", flags=PERSISTENT_SEQUENTIAL))
    record("seq after delete", err, reader.string())
    err, reader = client.call("create", create_body(f"{base}/e-", flags=EPHEMERAL_SEQUENTIAL))
    ephemeral = reader.string()
    record("ephemeral seq", err, ephemeral)
    record("child of ephemeral", client.call("create", create_body(f"{ephemeral}/c"))[0])
    err, reader = client.call("getEphemerals", string(base))
    count = reader.i32()
    record("ephemerals", err, [reader.string() for _ in range(count)])
    err, reader = client.call("create2", create_body(f"{base}/c", flags=CONTAINER))
    reader.string()
    record("container", err, stat_of(reader))


def scenario_multi(client, base, record):
    client.call("create", create_body(base))

    def op(kind, body):
        from rawzk import OP

        return i32(OP[kind]) + b"\0" + i32(-1) + body

    def multi(*ops):
        body = b"".join(ops) + i32(-1) + b"\1" + i32(-1)
        err, reader = client.call("multi", body)
        results = []
        while True:
            kind, done, code = reader.i32(), reader.take(">?"), reader.i32()
            if done:
                break
            if kind == -1:
                results.append(("error", reader.i32()))
            elif kind in (1, 15):
                results.append(("create", reader.string()))
                if kind == 15:
                    reader.stat()
            elif kind == 5:
                results.append(("setData", reader.stat()["version"]))
            else:
                results.append((kind, code))
        return err, results

    record("ok multi", *multi(
        op("create", create_body(f"{base}/m")),
        op("create", create_body(f"{base}/m/s-", flags=PERSISTENT_SEQUENTIAL)),
        op("setData", string(f"{base}/m") + string(b"v") + i32(0)),
        op("check", string(f"{base}/m") + i32(1)),
    ))
    record("failed multi", *multi(
        op("create", create_body(f"{base}/never")),
        op("check", string(f"{base}/m") + i32(7)),
        op("delete", string(f"{base}/m/s-0000000000") + i32(-1)),
    ))
    record("nothing applied", client.call("exists", string(f"{base}/never") + b"\0")[0])
    record("delete then check", *multi(
        op("delete", string(f"{base}/m/s-0000000000") + i32(-1)),
        op("check", string(f"{base}/m/s-0000000000") + i32(-1)),
    ))


def scenario_watches(client, base, record, other):
    client.call("create", create_body(base, b"0"))
    client.call("getData", string(base) + b"\1")
    client.call("getChildren", string(base) + b"\1")
    client.call("exists", string(f"{base}/later") + b"\1")
    other.call("setData", string(base) + string(b"1") + i32(-1))
    other.call("setData", string(base) + string(b"2") + i32(-1))
    other.call("create", create_body(f"{base}/later"))
    other.call("delete", string(f"{base}/later") + i32(-1))
    # A read after the writes: every event they fired precedes its reply.
    client.call("exists", string(base) + b"\0")
    record("one-shot events", sorted(client.events))
    client.events.clear()
    record("remove missing watch", client.call("removeWatches", string(base) + i32(1))[0])
    client.call("getData", string(base) + b"\1")
    record("check data watch", client.call("checkWatches", string(base) + i32(2))[0])
    record("remove data watch", client.call("removeWatches", string(base) + i32(2))[0])
    client.call("addWatch", string(base) + i32(1))
    other.call("create", create_body(f"{base}/r"))
    other.call("setData", string(f"{base}/r") + string(b"x") + i32(-1))
    other.call("delete", string(f"{base}/r") + i32(-1))
    client.call("exists", string(base) + b"\0")
    record("recursive events", client.events)


def scenario_resume_and_set_watches(client, base, record, other):
    """A client leaves with watches set, changes happen, it resumes its
    session on a new connection and re-registers them with setWatches."""
    client.call("create", create_body(base))
    for name in ["changed", "deleted", "quiet", "children"]:
        client.call("create", create_body(f"{base}/{name}"))
    client.call("create", create_body(f"{base}/mine", flags=EPHEMERAL))
    seen_zxid = client.last_zxid
    session, password = client.session_id, client.password
    client.close()
    other.call("setData", string(f"{base}/changed") + string(b"x") + i32(-1))
    other.call("delete", string(f"{base}/deleted") + i32(-1))
    other.call("create", create_body(f"{base}/appeared"))
    other.call("create", create_body(f"{base}/children/c"))
    wrong = RawClient(*other.address, session_id=session, password=b"\1" * 16, last_zxid=seen_zxid)
    record("wrong password", wrong.timeout, wrong.session_id)
    wrong.close()
    resumed = RawClient(*other.address, session_id=session, password=password, last_zxid=seen_zxid)
    record("resumed", resumed.session_id == session, resumed.timeout > 0)
    data = [f"{base}/changed", f"{base}/deleted", f"{base}/quiet"]
    exist = [f"{base}/appeared", f"{base}/still-missing"]
    child = [f"{base}/children"]
    watches = b"".join(i32(len(paths)) + b"".join(string(p) for p in paths) for paths in (data, exist, child))
    resumed.send(i32(-8) + i32(101) + i64(seen_zxid) + watches)
    # The reply to setWatches (xid -8) follows the events it fires at once.
    while True:
        reader = __import__("rawzk").Reader(resumed.frame())
        xid, _zxid, err = reader.i32(), reader.i64(), reader.i32()
        if xid == -1:
            resumed.events.append((reader.i32(), reader.i32(), reader.string()))
            continue
        record("setWatches reply", xid, err)
        break
    record("missed while away", sorted(resumed.events))
    resumed.events.clear()
    other.call("setData", string(f"{base}/quiet") + string(b"y") + i32(-1))
    other.call("create", create_body(f"{base}/still-missing"))
    resumed.call("exists", string(base) + b"\0")
    record("fired later", sorted(resumed.events))
    err, reader = resumed.call("exists", string(f"{base}/mine") + b"\0")
    record("ephemeral kept", err, reader.stat()["ephemeral"])
    resumed.close()


SCENARIOS = [
    scenario_paths_and_errors,
    scenario_stats_and_versions,
    scenario_sequential_and_ephemeral,
    scenario_multi,
    scenario_watches,
    scenario_resume_and_set_watches,
]


def call_raw_op(self, op_code):
    self.xid += 1
    self.send(i32(self.xid) + i32(op_code))
    from rawzk import Reader

    reader = Reader(self.frame())
    return reader.i32() == self.xid, reader.i64() is not None, reader.i32()


RawClient.call_raw_op = call_raw_op


def observe(host, port, run_id):
    observations = {}
    for scenario in SCENARIOS:
        lines = []
        client = RawClient(host, port)
        other = RawClient(host, port)
        base = f"/diff-{run_id}-{scenario.__name__}"

        def record(label, *values):
            lines.append(json.loads(json.dumps([label, *values])))

        if scenario in (scenario_watches, scenario_resume_and_set_watches):
            scenario(client, base, record, other)
        else:
            scenario(client, base, record)
        client.close()
        other.close()
        observations[scenario.__name__] = lines
    return observations


def start_herald():
    binary = os.environ.get("HERALD_BIN", str(ROOT / "target" / "release" / "herald"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data_dir = tempfile.mkdtemp(prefix="herald-diff-")
    process = subprocess.Popen([binary, "dev", "--listen", f"127.0.0.1:{port}", "--http-listen", "127.0.0.1:0", "--data-dir", data_dir],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return process, port
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("herald did not start")


def main():
    zk_host, zk_port = os.environ["ZK_HOSTS"].split(",")[0].split(":")
    run_id = str(time.time_ns())
    herald, herald_port = start_herald()
    try:
        expected = observe(zk_host, int(zk_port), run_id)
        actual = observe("127.0.0.1", herald_port, run_id)
    finally:
        herald.terminate()
        herald.wait(10)
    differences = 0
    for name in expected:
        for index, (want, got) in enumerate(zip(expected[name], actual[name])):
            if want != got:
                differences += 1
                print(f"{name}[{index}]\n  zookeeper: {want}\n  herald:    {got}")
        if len(expected[name]) != len(actual[name]):
            differences += 1
            print(f"{name}: {len(expected[name])} observations on zookeeper, {len(actual[name])} on herald")
    total = sum(len(lines) for lines in expected.values())
    if differences:
        print(f"differential: {differences} of {total} observations differ")
        sys.exit(1)
    print(f"differential: {total} observations in {len(expected)} scenarios identical on ZooKeeper and Herald")


if __name__ == "__main__":
    main()
