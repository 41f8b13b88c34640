#!/usr/bin/env bash
# Runs one scripted zkCli.sh session (Debian's `zookeeper` package) against a
# Herald node and against Apache ZooKeeper, and requires the two transcripts
# to match once the values that legitimately differ are masked (zxids,
# times, session ids).
#
#   tests/zkcli/run.sh HERALD_BINARY ZOOKEEPER_HOST:PORT
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
herald=${1:?herald binary}
zookeeper=${2:?zookeeper host:port}
zkcli=$(command -v zkCli.sh || echo /usr/share/zookeeper/bin/zkCli.sh)
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$herald" dev --listen "127.0.0.1:$port" --data-dir "$work/data" >"$work/herald.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done

# The transcript without log lines, with run-specific values masked.
session() {
  set +e
  "$zkcli" -server "$1" <"$here/session.txt" 2>&1 |
    grep -v -E '^[0-9]{4}-[0-9]{2}-[0-9]{2} |^\s+at |^log4j|^SLF4J|^Connecting to|WatchedEvent state:(SyncConnected|Closed) type:None|^WATCHER::|^$' |
    sed -E -e 's/^(cZxid|mZxid|pZxid) = 0x[0-9a-f]+/\1 = ZXID/' \
      -e 's/^(ctime|mtime) = .*/\1 = TIME/' \
      -e 's/^ephemeralOwner = 0x[0-9a-f]*[1-9a-f][0-9a-f]*$/ephemeralOwner = SESSION/'
  echo "exit status: ${PIPESTATUS[0]}"
  set -e
}

session "$zookeeper" >"$work/zookeeper.txt"
session "127.0.0.1:$port" >"$work/herald.txt"
# A transcript that never connected would match another one: require content.
grep -q '^Created /zkcli/seq-0000000001$' "$work/zookeeper.txt"
if diff -u "$work/zookeeper.txt" "$work/herald.txt"; then
  echo "zkCli: $(wc -l <"$work/herald.txt") transcript lines identical on ZooKeeper and Herald"
else
  echo "zkCli: Herald's transcript differs from ZooKeeper's (- ZooKeeper, + Herald)" >&2
  exit 1
fi
