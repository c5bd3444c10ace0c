#!/usr/bin/env bash
# THE test command: sets everything up on a fresh machine, then checks everything.
#   1. scripts/setup-python.sh  .venv with the Python oracles the tests compare against;
#      scripts/setup-python-beacon.sh, .venv-python-beacon (the real Python beacon's deps);
#      scripts/setup-kubectl.sh, kubectl from Debian (a client-go peer for charm-sim)
#   2. cargo fmt --check, cargo clippy -D warnings (whole workspace, all targets)
#   3. scripts/pack.sh          release builds, .charm files, charmcraft analyse + expand-extensions
#   4. scripts/fuzz.sh 60       cargo-fuzz on nightly over beacon-core's consumer input
#   5. the workspace tests      cargo nextest if installed (plus doctests), else cargo test
# The tests run last so that the closing lines of the output are the test runner's summary.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "Python oracles (.venv)"
scripts/setup-python.sh

step "the real Python beacon's dependencies (.venv-python-beacon), for tests/python_beacon_traffic.rs"
scripts/setup-python-beacon.sh

step "kubectl (Debian's kubernetes-client), a client-go peer for charm-sim's API server"
scripts/setup-kubectl.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "pack + charmcraft analyse + expand-extensions"
scripts/pack.sh

step "fuzz beacon-core's consumer input, 60 s (scripts/fuzz.sh; fails on a crash)"
scripts/fuzz.sh 60

if cargo nextest --version >/dev/null 2>&1; then
  # nextest does not run doctests: run those first, so nextest's summary closes the output.
  step "doctests (cargo test --doc)"
  cargo test --workspace --locked --doc
  step "tests (cargo nextest)"
  cargo nextest run --workspace --locked --no-fail-fast
else
  step "tests (cargo test)"
  cargo test --workspace --locked --no-fail-fast
fi
