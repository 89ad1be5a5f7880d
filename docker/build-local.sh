#!/usr/bin/env bash
# Builds the Estuary image here, without a registry: release binaries on the host (static Swift
# stdlib), a minimal Debian root filesystem made with debootstrap from the configured mirror and
# imported with `podman import`, then docker/Dockerfile.runtime on top of it.
#
# On these machines podman needs `--runtime runc`, and nofile and nproc limits given explicitly: nofile no higher
# than the caller's hard limit (`ulimit -Hn`, 20000 here), nproc modest (4096). Podman's defaults make runc fail with
# "error setting rlimit type 7 (or 6): operation not permitted". Podman's bridge network (netavark) does not come up
# here either: builds and runs use the host network or slirp4netns. This script passes all of it; for other podman
# commands point CONTAINERS_CONF at a containers.conf that sets runtime = "runc" and
# default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"] (docker/podman-check.sh writes one). Run a role e.g.:
#   podman run --runtime runc --ulimit nofile=20000:20000 --ulimit nproc=4096:4096 --rm --network host \
#     -e ESTUARY_HTTP_PORT=8080 estuary:local ingest-node
# Needs: podman, runc, debootstrap, catatonit and slirp4netns (Debian packages), and a Swift toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE="${IMAGE:-estuary:local}"
BASE_IMAGE="${BASE_IMAGE:-estuary-base:bookworm}"
MIRROR="${DEBIAN_MIRROR:-$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
PODMAN=(podman --runtime runc)
NOFILE="${NOFILE:-$(ulimit -Hn)}"
[[ "$NOFILE" == unlimited || "$NOFILE" -gt 65536 ]] && NOFILE=65536

export SWIFT_DETERMINISTIC_HASHING=1
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin"
for product in ingest-node dvr-node replicator config-sidecar estuary; do
    swift build -c release --static-swift-stdlib --product "$product"
done
bin="$(swift build -c release --show-bin-path)"
cp "$bin"/ingest-node "$bin"/dvr-node "$bin"/replicator "$bin"/config-sidecar "$bin"/estuary "$work/bin/"
cp -R "$bin"/*.resources "$work/bin/"

if ! "${PODMAN[@]}" image exists "$BASE_IMAGE"; then
    command -v debootstrap >/dev/null || { echo "debootstrap is needed (apt-get install debootstrap)" >&2; exit 1; }
    rootfs="$work/rootfs"
    debootstrap --variant=minbase --include=ca-certificates,tzdata,libsqlite3-0 bookworm "$rootfs" "$MIRROR"
    tar -C "$rootfs" -c . | "${PODMAN[@]}" import - "$BASE_IMAGE"
fi
cp docker/Dockerfile.runtime "$work/Dockerfile"
"${PODMAN[@]}" build --network host --ulimit "nofile=$NOFILE:$NOFILE" --ulimit nproc=4096:4096 --build-arg BASE="$BASE_IMAGE" -t "$IMAGE" "$work"
echo "built $IMAGE"
