#!/usr/bin/env bash
# The benchmark (not a test): the release beacon played through charm-sim with 1, 100 and
# 1,000 consumers × 10 policies; a first reconcile and a no-op one. Prints a table.
#   scripts/bench.sh [--sizes 1,100,1000] [--repeat 3]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p istio-beacon-k8s -p charm-sim -p charm-pack
target="${CARGO_TARGET_DIR:-target}/release"
charm="$(mktemp -d)/istio-beacon-k8s"
trap 'rm -rf "$(dirname "$charm")"' EXIT
"$target/charm-pack" --project . --binary "$target/istio-beacon-k8s" --dir-out "$charm"
python3 scripts/bench.py --charm-sim "$target/charm-sim" --charm "$charm" "$@"
