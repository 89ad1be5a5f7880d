#!/usr/bin/env bash
# Builds the node and the bench in release and runs every benchmark with its defaults:
#   fanout --readers 100,500,1000 --seconds 20
#   ingest --streams 50,200 --seconds 20
#   latency --seconds 20
# Extra arguments are passed to every benchmark (e.g. --keep-files).
set -euo pipefail
cd "$(dirname "$0")/.."
export SWIFT_DETERMINISTIC_HASHING=1
# One product per invocation: with several --product flags SwiftPM builds only the last.
swift build -c release --product ingest-node
swift build -c release --product estuary-bench
bin="$(swift build -c release --show-bin-path)"
status=0
for bench in fanout ingest latency; do
    echo "== $bench ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores)"
    "$bin/estuary-bench" "$bench" "$@" || status=1
done
exit "$status"
