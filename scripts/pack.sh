#!/usr/bin/env bash
# Builds the beacon (release) and packs it with crates/charm-pack into
# istio-beacon-k8s_ubuntu@22.04-amd64.charm at the repository root, then uses charmcraft
# 4.5.0 (scripts/setup-charmcraft.sh) as an offline oracle:
#   * `charmcraft analyse --format json` on the .charm: fails on a non-zero exit (2 = a
#     linter said ERROR) and on any lint result `error`/`fatal`; warnings are shown;
#   * `charmcraft expand-extensions`: validates charmcraft.yaml + metadata.yaml + config.yaml.
# Also checks that the binary needs no glibc newer than Ubuntu 22.04's (2.35).
# Respects CARGO_TARGET_DIR; SOURCE_DATE_EPOCH defaults to the last commit's time so the
# .charm is reproducible per commit.
set -euo pipefail
cd "$(dirname "$0")/.."

CHARM=istio-beacon-k8s_ubuntu@22.04-amd64.charm
TARGET_DIR=${CARGO_TARGET_DIR:-target}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 315532800)}

cargo build --release --locked -p istio-beacon-k8s -p charm-pack
BIN="$TARGET_DIR/release/istio-beacon-k8s"

# Ubuntu 22.04 ships glibc 2.35: a binary that needs a newer symbol version would not start.
max_glibc=$( (grep -aoE 'GLIBC_2\.[0-9]+' "$BIN" || true) | sort -uV | tail -n1)
if [ -n "$max_glibc" ] && [ "$(printf '%s\nGLIBC_2.35\n' "$max_glibc" | sort -V | tail -n1)" != "GLIBC_2.35" ]; then
  echo "pack.sh: $BIN needs $max_glibc, newer than Ubuntu 22.04's GLIBC_2.35" >&2
  exit 1
fi

"$TARGET_DIR/release/charm-pack" --project . --binary "$BIN" --out "$CHARM" >/dev/null
echo "pack.sh: wrote $CHARM ($(stat -c %s "$CHARM") bytes, needs ${max_glibc:-no glibc})"

scripts/setup-charmcraft.sh
CC=.cc/bin/charmcraft
# charmcraft warns on stderr that XDG_RUNTIME_DIR is unset; give it a private one.
XDG_RUNTIME_DIR=$(mktemp -d)
export XDG_RUNTIME_DIR
trap 'rm -rf "$XDG_RUNTIME_DIR"' EXIT

analysis="$XDG_RUNTIME_DIR/analyse.json"
rc=0
"$CC" analyse --format json "$CHARM" >"$analysis" || rc=$?
.cc/bin/python - "$analysis" "$rc" <<'PY'
import json, sys
path, rc = sys.argv[1], int(sys.argv[2])
try:
    results = json.load(open(path))
except ValueError:
    results = []
bad = [r for r in results if r["check_type"] == "lint" and r["result"] in ("error", "fatal")]
for r in results:
    if r["check_type"] == "lint" and r["result"] not in ("ok", "nonapplicable"):
        print(f"  analyse: {r['name']}: {r['result']}: {r['text']}")
if rc != 0 or bad or not results:
    print(f"pack.sh: charmcraft analyse failed (exit {rc}, {len(bad)} lint error(s))", file=sys.stderr)
    sys.exit(1)
attrs = ", ".join(f"{r['name']}={r['result']}" for r in results if r["check_type"] == "attribute")
print(f"pack.sh: charmcraft analyse: {sum(r['check_type'] == 'lint' for r in results)} linters, no errors ({attrs})")
PY

"$CC" expand-extensions >/dev/null
echo "pack.sh: charmcraft expand-extensions accepts charmcraft.yaml"
