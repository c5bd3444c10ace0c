#!/usr/bin/env bash
# Builds the beacon and the example tester charm (release) and packs each with
# crates/charm-pack into <name>_ubuntu@22.04-amd64.charm in its project dir (the beacon's at
# the repository root), then uses charmcraft 4.5.0 (scripts/setup-charmcraft.sh) as an
# offline oracle on each:
#   * `charmcraft analyse --format json` on the .charm: fails on a non-zero exit (2 = a
#     linter said ERROR) and on any lint result `error`/`fatal`; warnings are shown;
#   * `charmcraft expand-extensions`: validates charmcraft.yaml + metadata.yaml + config.yaml.
# Also checks that each binary needs no glibc newer than Ubuntu 22.04's (2.35).
# Respects CARGO_TARGET_DIR; SOURCE_DATE_EPOCH defaults to the last commit's time so the
# .charm files are reproducible per commit.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET_DIR=${CARGO_TARGET_DIR:-target}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 315532800)}

cargo build --release --locked -p istio-beacon-k8s -p service-mesh-tester -p charm-pack
scripts/setup-charmcraft.sh
CC=$PWD/.cc/bin/charmcraft
# charmcraft warns on stderr that XDG_RUNTIME_DIR is unset; give it a private one.
XDG_RUNTIME_DIR=$(mktemp -d)
export XDG_RUNTIME_DIR
trap 'rm -rf "$XDG_RUNTIME_DIR"' EXIT

# pack <project dir> <binary name>
pack() {
  local project=$1 name=$2
  local bin="$TARGET_DIR/release/$name" charm="$project/${name}_ubuntu@22.04-amd64.charm"

  # Ubuntu 22.04 ships glibc 2.35: a binary that needs a newer symbol version would not start.
  local max_glibc
  max_glibc=$( (grep -aoE 'GLIBC_2\.[0-9]+' "$bin" || true) | sort -uV | tail -n1)
  if [ -n "$max_glibc" ] && [ "$(printf '%s\nGLIBC_2.35\n' "$max_glibc" | sort -V | tail -n1)" != "GLIBC_2.35" ]; then
    echo "pack.sh: $bin needs $max_glibc, newer than Ubuntu 22.04's GLIBC_2.35" >&2
    exit 1
  fi

  "$TARGET_DIR/release/charm-pack" --project "$project" --binary "$bin" --out "$charm" >/dev/null
  echo "pack.sh: wrote $charm ($(stat -c %s "$charm") bytes, needs ${max_glibc:-no glibc})"

  local analysis="$XDG_RUNTIME_DIR/analyse-$name.json" rc=0
  "$CC" analyse --format json "$charm" >"$analysis" || rc=$?
  .cc/bin/python - "$analysis" "$rc" "$name" <<'PY'
import json, sys
path, rc, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
try:
    results = json.load(open(path))
except ValueError:
    results = []
bad = [r for r in results if r["check_type"] == "lint" and r["result"] in ("error", "fatal")]
for r in results:
    if r["check_type"] == "lint" and r["result"] not in ("ok", "nonapplicable"):
        print(f"  analyse: {r['name']}: {r['result']}: {r['text']}")
if rc != 0 or bad or not results:
    print(f"pack.sh: {name}: charmcraft analyse failed (exit {rc}, {len(bad)} lint error(s))", file=sys.stderr)
    sys.exit(1)
attrs = ", ".join(f"{r['name']}={r['result']}" for r in results if r["check_type"] == "attribute")
print(f"pack.sh: {name}: charmcraft analyse: {sum(r['check_type'] == 'lint' for r in results)} linters, no errors ({attrs})")
PY

  (cd "$project" && "$CC" expand-extensions >/dev/null)
  echo "pack.sh: $name: charmcraft expand-extensions accepts charmcraft.yaml"
}

pack . istio-beacon-k8s
pack examples/service-mesh-tester service-mesh-tester
