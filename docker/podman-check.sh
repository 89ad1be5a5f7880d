#!/usr/bin/env bash
# Proves the image built by docker/build-local.sh on this host (issue 8's acceptance), with podman:
#  1. `podman run` of each role (ingest-node, dvr-node, replicator, config-sidecar) starts and answers /healthz;
#  2. `podman kube play` of the dev overlay's ingest Deployment (rendered by kubectl kustomize, with its ConfigMap
#     and Secret) runs both containers, and its fake1 stream plays over HLS (ffprobe decodes it when installed).
# Everything it starts is removed at the end. Exit 0 only when every check passed.
#
# What podman 4.3 (Debian 12) cannot take from the manifests, and how this script bridges it:
#  - `fieldRef: status.podIP` is unsupported: POD_IP becomes 127.0.0.1 (the pod's network is slirp4netns);
#  - a Secret is read by `secretKeyRef` only from a podman secret holding its `data` as JSON: the script creates it;
#  - `$(VAR)` references in env values are not expanded (SIDECAR_ADVERTISE stays literal; only capture-once with
#    PostgreSQL reads it, not the dev overlay's file upstream);
#  - the runtime must be runc, with nofile and nproc limits the host allows (see build-local.sh).
# Needs root (or rootful podman), podman, runc, catatonit, slirp4netns, kubectl, python3 with PyYAML, curl.
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE="${IMAGE:-estuary:local}"
work="$(mktemp -d)"
NOFILE="$(ulimit -Hn)"
[[ "$NOFILE" == unlimited || "$NOFILE" -gt 65536 ]] && NOFILE=65536
cat >"$work/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=$NOFILE:$NOFILE", "nproc=4096:4096"]
[engine]
runtime = "runc"
CONF
export CONTAINERS_CONF="$work/containers.conf"
roles=(ingest-node dvr-node replicator config-sidecar)
secret=""
cleanup() {
    for role in "${roles[@]}"; do podman rm -f "estuary-check-$role" >/dev/null 2>&1 || true; done
    [[ -f "$work/ingest.yaml" ]] && podman kube down "$work/ingest.yaml" >/dev/null 2>&1 || true
    [[ -n "$secret" ]] && podman secret rm "$secret" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
failures=0
check() { # NAME URL [PATTERN]: waits up to 30 s for a 200 answer (containing PATTERN).
    local name="$1" url="$2" pattern="${3:-}"
    for _ in $(seq 60); do
        if body="$(curl -sf -m 3 "$url")" && [[ -z "$pattern" || "$body" == *"$pattern"* ]]; then
            echo "PASS $name"
            return 0
        fi
        sleep 0.5
    done
    echo "FAIL $name ($url)"
    failures=$((failures + 1))
}

# 1. Each role, on the host network, on ports apart from the usual ones.
mkdir -p "$work/etc"
printf 'streams:\n  - {name: fake1, inputs: [{url: "fake://fake1"}]}\n' >"$work/etc/central.yaml"
run=(podman run -d --network host)
"${run[@]}" --name estuary-check-ingest-node -e ESTUARY_HTTP_PORT=18180 -e ESTUARY_RTMP_PORT=11936 "$IMAGE" ingest-node >/dev/null
"${run[@]}" --name estuary-check-dvr-node -e ESTUARY_HTTP_PORT=18182 "$IMAGE" dvr-node >/dev/null
"${run[@]}" --name estuary-check-replicator -e REPLICATOR_LISTEN=127.0.0.1:18190 \
    -e REPLICATOR_TARGET=http://127.0.0.1:18182 "$IMAGE" replicator >/dev/null
"${run[@]}" --name estuary-check-config-sidecar -v "$work/etc:/etc/estuary:ro" -e SIDECAR_LISTEN=127.0.0.1:18170 \
    -e SIDECAR_UPSTREAM=file:///etc/estuary/central.yaml -e SIDECAR_REPLICA=/tmp/replica.sqlite \
    -e SIDECAR_NODE_URL=http://127.0.0.1:18180 "$IMAGE" config-sidecar >/dev/null
check "podman run ingest-node: /healthz" http://127.0.0.1:18180/healthz ok
check "podman run dvr-node: /healthz" http://127.0.0.1:18182/healthz ok
check "podman run replicator: /healthz" http://127.0.0.1:18190/healthz ok
check "podman run config-sidecar: /healthz" http://127.0.0.1:18170/healthz ok
for role in "${roles[@]}"; do podman rm -f "estuary-check-$role" >/dev/null; done

# 2. The dev overlay's ingest Deployment, as rendered.
kubectl kustomize k8s/overlays/dev >"$work/dev.yaml"
secret="$(python3 - "$work" <<'PY'
import json, sys, yaml
work = sys.argv[1]
docs = [d for d in yaml.safe_load_all(open(f"{work}/dev.yaml")) if d]
secret = next(d for d in docs if d["kind"] == "Secret")
open(f"{work}/secret.json", "w").write(json.dumps(secret["data"]))
keep = [d for d in docs if d["kind"] == "ConfigMap" or (d["kind"] == "Deployment" and d["metadata"]["name"] == "ingest")]
for doc in keep:
    doc["metadata"].pop("namespace", None)
    if doc["kind"] != "Deployment":
        continue
    for container in doc["spec"]["template"]["spec"]["containers"]:
        for env in container.get("env", []):
            if env.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "status.podIP":
                env.pop("valueFrom")
                env["value"] = "127.0.0.1"
yaml.safe_dump_all(keep, open(f"{work}/ingest.yaml", "w"))
print(secret["metadata"]["name"])
PY
)"
podman secret rm "$secret" >/dev/null 2>&1 || true
podman secret create "$secret" "$work/secret.json" >/dev/null
podman kube play --network slirp4netns "$work/ingest.yaml" >/dev/null
check "kube play ingest Deployment: ingest-node /healthz" http://127.0.0.1:8080/healthz ok
check "kube play ingest Deployment: fake1 over HLS (from the config-sidecar's central.yaml)" \
    http://127.0.0.1:8080/fake1/index.m3u8 "#EXTINF"
running="$(podman ps --filter "name=ingest-pod-0-" --format '{{.Names}}' | sort | tr '\n' ' ')"
if [[ "$running" == *config-sidecar* && "$running" == *ingest-node* ]]; then
    echo "PASS kube play ingest Deployment: both containers run ($running)"
else
    echo "FAIL kube play ingest Deployment: running: $running"
    failures=$((failures + 1))
fi
if command -v ffprobe >/dev/null; then
    codecs="$(ffprobe -v error -show_entries stream=codec_name -of csv=p=0 http://127.0.0.1:8080/fake1/index.m3u8 | sort -u | tr '\n' ' ')"
    if [[ "$codecs" == *aac* && "$codecs" == *h264* ]]; then echo "PASS ffprobe decodes fake1: $codecs"; else
        echo "FAIL ffprobe: '$codecs'"
        failures=$((failures + 1))
    fi
fi
echo "failures: $failures"
exit $((failures > 0))
