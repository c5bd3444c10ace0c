#!/usr/bin/env bash
# Coverage-guided fuzzing of what consumers write into their databags (crates/beacon-core/fuzz,
# target consumer_databags): hostile `policies`, `cmr_data`, remote app names and config must
# not panic the beacon's core, nor make it emit an invalid AuthorizationPolicy or one that
# targets anything but the consumer itself (tests/invariants/, shared with tests/hostile.rs).
#
#   scripts/fuzz.sh [seconds]    run for that long (default 60) from the committed seeds
#
# Installs cargo-fuzz (and the nightly toolchain) if missing. Fails if the fuzzer finds a
# crash; the input is then in crates/beacon-core/fuzz/artifacts/consumer_databags/, and
# `cargo +nightly fuzz run consumer_databags <file>` (in crates/beacon-core/fuzz) replays it.
# New inputs the fuzzer finds go to crates/beacon-core/fuzz/corpus/ (not committed).
set -euo pipefail
cd "$(dirname "$0")/../crates/beacon-core/fuzz"

seconds="${1:-60}"
target=consumer_databags

if ! cargo +nightly --version >/dev/null 2>&1; then
  rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi

# No sanitizer: the crates under test forbid unsafe code, and AddressSanitizer doubled the
# build time. Debug assertions on, so an arithmetic overflow is a crash too.
flags=(--sanitizer none --debug-assertions)

start=$(date +%s)
cargo +nightly fuzz build "${flags[@]}" "$target"
built=$(date +%s)
mkdir -p "corpus/$target"
cargo +nightly fuzz run "${flags[@]}" "$target" "corpus/$target" "seeds/$target" -- \
  -max_total_time="$seconds" -dict="$target.dict" -max_len=16384 -timeout=20 \
  -print_final_stats=1
echo "fuzz: build $((built - start)) s, run $(($(date +%s) - built)) s, corpus $(ls "corpus/$target" | wc -l) inputs"
