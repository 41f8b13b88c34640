"""A minimal ZooKeeper wire client for differential tests: it sends exactly
the bytes asked for (no client-side path normalisation, unlike kazoo) and
reports error codes, results and watch notifications as plain values."""

import socket
import struct

OP = {
    "create": 1, "delete": 2, "exists": 3, "getData": 4, "setData": 5, "getACL": 6, "setACL": 7,
    "getChildren": 8, "sync": 9, "ping": 11, "getChildren2": 12, "check": 13, "multi": 14,
    "create2": 15, "checkWatches": 17, "removeWatches": 18, "createContainer": 19, "createTTL": 21,
    "multiRead": 22, "auth": 100, "getEphemerals": 103, "getAllChildrenNumber": 104, "addWatch": 106,
    "whoAmI": 107,
}
OPEN_ACL = [(31, "world", "anyone")]


def i32(value):
    return struct.pack(">i", value)


def i64(value):
    return struct.pack(">q", value)


def string(value):
    data = value.encode() if isinstance(value, str) else value
    return i32(len(data)) + data


def acl_vector(acl):
    return i32(len(acl)) + b"".join(i32(p) + string(s) + string(i) for p, s, i in acl)


class Reader:
    def __init__(self, data):
        self.data, self.at = data, 0

    def take(self, fmt):
        (value,) = struct.unpack_from(fmt, self.data, self.at)
        self.at += struct.calcsize(fmt)
        return value

    def i32(self):
        return self.take(">i")

    def i64(self):
        return self.take(">q")

    def buffer(self):
        length = self.i32()
        if length < 0:
            return None
        value = self.data[self.at:self.at + length]
        self.at += length
        return value

    def string(self):
        value = self.buffer()
        return None if value is None else value.decode()

    def stat(self):
        czxid, mzxid, ctime, mtime = self.i64(), self.i64(), self.i64(), self.i64()
        version, cversion, aversion = self.i32(), self.i32(), self.i32()
        owner, data_length, children, pzxid = self.i64(), self.i32(), self.i32(), self.i64()
        # Only what is deterministic across servers: no zxids or times, only their relations.
        return {
            "version": version, "cversion": cversion, "aversion": aversion, "dataLength": data_length,
            "numChildren": children, "ephemeral": owner != 0, "czxid==mzxid": czxid == mzxid,
            "pzxid>=czxid": pzxid >= czxid,
        }


class RawClient:
    def __init__(self, host, port, timeout_ms=10_000, session_id=0, password=b"\0" * 16, last_zxid=0):
        """Opens a session, or resumes `session_id` with its password."""
        self.address = (host, port)
        self.sock = socket.create_connection((host, port), timeout=10)
        self.buffer = b""
        self.xid = 0
        self.events = []
        self.last_zxid = last_zxid
        self.send(i32(0) + i64(last_zxid) + i32(timeout_ms) + i64(session_id) + string(password) + b"\0")
        reply = Reader(self.frame())
        reply.i32()
        self.timeout = reply.i32()
        self.session_id = reply.i64()
        self.password = reply.buffer()

    def send(self, body):
        self.sock.sendall(i32(len(body)) + body)

    def frame(self):
        while len(self.buffer) < 4 or len(self.buffer) < 4 + struct.unpack(">i", self.buffer[:4])[0]:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection")
            self.buffer += chunk
        length = struct.unpack(">i", self.buffer[:4])[0]
        body, self.buffer = self.buffer[4:4 + length], self.buffer[4 + length:]
        return body

    def call(self, op, body=b""):
        """Sends one request; returns (err, reader over the reply body)."""
        self.xid += 1
        self.send(i32(self.xid) + i32(OP[op]) + body)
        while True:
            reader = Reader(self.frame())
            xid, zxid, err = reader.i32(), reader.i64(), reader.i32()
            self.last_zxid = max(self.last_zxid, zxid)
            if xid == -1:
                event_type, _state, path = reader.i32(), reader.i32(), reader.string()
                self.events.append((event_type, path))
                continue
            assert xid == self.xid, f"reply xid {xid} for request {self.xid}"
            return err, reader

    def close(self):
        self.sock.close()


def create_body(path, data=b"", flags=0, acl=OPEN_ACL, ttl=None):
    body = string(path) + string(data) + acl_vector(acl) + i32(flags)
    return body + (i64(ttl) if ttl is not None else b"")
