#!/usr/bin/env bash
# The benchmark (not a test): the release beacon played through charm-sim with 1, 100 and
# 1,000 consumers × 10 policies; four hooks each (see scripts/bench.py). Prints a table.
#   scripts/bench.sh [--sizes 1,100,1000] [--repeat 3]
# The hook tools are a static musl build of charm-sim-jujuc when that target can be
# installed: a glibc process costs ~1 ms to start on some VMs (its start-up CPU probing
# traps to the hypervisor), a static musl one ~0.3 ms, and a big reconcile starts thousands.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p istio-beacon-k8s -p charm-sim -p charm-pack
target="${CARGO_TARGET_DIR:-target}"
musl=x86_64-unknown-linux-musl
client=()
if rustup target list --installed 2>/dev/null | grep -qx "$musl" \
  || { echo "bench: installing the $musl target (rustup) for a static tool client" >&2
       rustup target add "$musl" >/dev/null 2>&1; }; then
  cargo build --release --locked --target "$musl" -p charm-sim --bin charm-sim-jujuc
  client=(--tool-client "$target/$musl/release/charm-sim-jujuc")
else
  echo "bench: no $musl target; the hook tools are the glibc charm-sim-jujuc" >&2
fi
charm="$(mktemp -d)/istio-beacon-k8s"
trap 'rm -rf "$(dirname "$charm")"' EXIT
"$target/release/charm-pack" --project . --binary "$target/release/istio-beacon-k8s" --dir-out "$charm"
python3 scripts/bench.py --charm-sim "$target/release/charm-sim" --charm "$charm" "${client[@]}" "$@"
