#!/usr/bin/env bash
# Runs Debian's Apache ZooKeeper (package `zookeeper`) on loopback, standalone
# or as an ensemble, for the differential, compatibility and benchmark tiers.
#
#   scripts/zookeeper.sh start PORT DIR [TICK_MS]   # returns once it answers ruok
#   scripts/zookeeper.sh stop DIR
#   scripts/zookeeper.sh start-ensemble N BASE_PORT DIR [TICK_MS]
#       member i (1..N) serves clients on BASE_PORT+i-1, peers on
#       BASE_PORT+100+i, elections on BASE_PORT+200+i; data in DIR/i.
#       Returns once every member answers srvr with a leader or follower mode.
#   scripts/zookeeper.sh stop-ensemble N DIR
#
# Debian's zookeeper.jar names an incomplete classpath in its manifest; the
# jars added here are the ones the server needs to log and to start Netty.
set -euo pipefail

jars=(zookeeper zookeeper-jute slf4j-api slf4j-log4j12 log4j-1.2 netty-codec netty-resolver
  netty-transport-native-unix-common netty-transport netty-buffer netty-common netty-handler
  servlet-api commons-cli metrics-core snappy-java)
classpath=""
for jar in "${jars[@]}"; do
  if [[ -f /usr/share/java/$jar.jar ]]; then classpath+="/usr/share/java/$jar.jar:"; fi
done

# launch PORT DIR TICK EXTRA_CONFIG: writes zoo.cfg and starts the JVM.
launch() {
  local port=$1 dir=$2 tick=$3 extra=$4
  mkdir -p "$dir/data"
  cat >"$dir/zoo.cfg" <<CFG
tickTime=$tick
dataDir=$dir/data
clientPort=$port
clientPortAddress=127.0.0.1
4lw.commands.whitelist=*
admin.enableServer=false
maxClientCnxns=0
$extra
CFG
  cat >"$dir/log4j.properties" <<'LOG'
log4j.rootLogger=WARN, FILE
log4j.appender.FILE=org.apache.log4j.FileAppender
log4j.appender.FILE.File=${zookeeper.log.file}
log4j.appender.FILE.layout=org.apache.log4j.PatternLayout
log4j.appender.FILE.layout.ConversionPattern=%d %p [%t] %c{1}: %m%n
LOG
  # ZK_JVM_OPTS: the JVM options; unset, a 512 MB heap cap (the test tiers run
  # several servers beside builds). The benchmark sets it to Debian's default (none).
  # shellcheck disable=SC2086
  java ${ZK_JVM_OPTS--Xmx512m} -cp "$classpath" \
    -Dlog4j.configuration="file:$dir/log4j.properties" -Dzookeeper.log.file="$dir/zookeeper.log" \
    -Dzookeeper.extendedTypesEnabled=true -Dzookeeper.admin.enableServer=false \
    org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg" >"$dir/stdout.log" 2>&1 &
  echo $! >"$dir/pid"
}

# wait_for PORT DIR PATTERN WORD: polls a four-letter word until it matches.
wait_for() {
  local port=$1 dir=$2 pattern=$3 word=$4
  for _ in $(seq 1 300); do
    if (printf '%s' "$word" | nc -N -w 2 127.0.0.1 "$port") 2>/dev/null | grep -Eq "$pattern"; then
      echo "zookeeper: serving on 127.0.0.1:$port (data in $dir)"
      return 0
    fi
    if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
      echo "zookeeper: exited during start" >&2
      cat "$dir/stdout.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "zookeeper: not serving after 30s" >&2
  exit 1
}

command=${1:?start or stop}
case "$command" in
start)
  port=${2:?port}
  dir=$(realpath -m "${3:?data dir}")
  tick=${4:-2000}
  launch "$port" "$dir" "$tick" ""
  wait_for "$port" "$dir" imok "ruok"
  ;;
start-ensemble)
  count=${2:?member count}
  base=${3:?base port}
  root=$(realpath -m "${4:?data dir}")
  tick=${5:-2000}
  servers=""
  for i in $(seq 1 "$count"); do
    servers+="server.$i=127.0.0.1:$((base + 100 + i)):$((base + 200 + i)):participant"$'\n'
  done
  for i in $(seq 1 "$count"); do
    mkdir -p "$root/$i/data"
    echo "$i" >"$root/$i/data/myid"
    launch "$((base + i - 1))" "$root/$i" "$tick" "initLimit=10
syncLimit=5
$servers"
  done
  for i in $(seq 1 "$count"); do
    wait_for "$((base + i - 1))" "$root/$i" "Mode: (leader|follower)" "srvr"
  done
  ;;
stop-ensemble)
  count=${2:?member count}
  root=${3:?data dir}
  for i in $(seq 1 "$count"); do "$0" stop "$root/$i"; done
  ;;
stop)
  dir=${2:?data dir}
  if [[ -f $dir/pid ]]; then
    pid=$(cat "$dir/pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  ;;
*)
  echo "usage: $0 start PORT DIR [TICK_MS] | stop DIR | start-ensemble N BASE_PORT DIR [TICK_MS] | stop-ensemble N DIR" >&2
  exit 2
  ;;
esac
