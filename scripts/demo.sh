#!/usr/bin/env bash
# The demo: plays a whole model against the real charm, offline. Builds the beacon,
# charm-pack and charm-sim, packs an unpacked charm directory, runs
#   charm-sim run --charm <dir> --scenario examples/demo-model/scenario.yaml --out <json>
# and prints, per step, the hook, its exit code and the unit status, then every
# AuthorizationPolicy left in the simulated cluster, as YAML.
# Usage: scripts/demo.sh [SCENARIO]   (DEMO_PROFILE=debug for a faster first build)
# Output stays in $CARGO_TARGET_DIR/demo (charm/ and result.json) for inspection.
set -euo pipefail
cd "$(dirname "$0")/.."

SCENARIO=${1:-examples/demo-model/scenario.yaml}
PROFILE=${DEMO_PROFILE:-release}
TARGET_DIR=${CARGO_TARGET_DIR:-target}

if [ ! -f "$SCENARIO" ]; then
  echo "demo.sh: scenario $SCENARIO does not exist (yet): nothing to play." >&2
  exit 1
fi
case "$PROFILE" in
  release) cargo_profile=(--release) ;;
  debug) cargo_profile=() ;;
  *) echo "demo.sh: DEMO_PROFILE must be release or debug, not $PROFILE" >&2; exit 2 ;;
esac

cargo build "${cargo_profile[@]}" --locked -p istio-beacon-k8s -p charm-pack -p charm-sim
BIN="$TARGET_DIR/$PROFILE"
OUT="$TARGET_DIR/demo"
rm -rf "$OUT/charm" "$OUT/result.json"
mkdir -p "$OUT"
"$BIN/charm-pack" --project . --binary "$BIN/istio-beacon-k8s" --dir-out "$OUT/charm" >/dev/null
"$BIN/charm-sim" run --charm "$OUT/charm" --scenario "$SCENARIO" --out "$OUT/result.json"

python3 - "$OUT/result.json" <<'PY'
import json, re, sys

result = json.load(open(sys.argv[1]))

def status(s):
    return "-" if s is None else f"{s['status']}" + (f" ({s['message']})" if s.get("message") else "")

print("\nSteps")
for i, step in enumerate(result["steps"], 1):
    print(f"  {i:2}. {step['step']:<44} exit {step['exit_code']}  unit: {status(step['unit_status'])}")

# Small block-style YAML writer, so the demo needs no third-party module. JSON strings are
# valid YAML double-quoted scalars; plain style only where YAML cannot misread it.
PLAIN = re.compile(r"[A-Za-z_/][A-Za-z0-9_./-]*\Z")
RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "y", "n"}

def scalar(v):
    if isinstance(v, (dict, list)):  # only empty ones get here
        return json.dumps(v)
    if isinstance(v, str) and PLAIN.match(v) and v.lower() not in RESERVED:
        return v
    return json.dumps(v)  # null, true/false, numbers, quoted strings

def yaml_lines(v, indent=0):
    pad = " " * indent
    out = []
    if isinstance(v, dict) and v:
        for k, x in v.items():
            if isinstance(x, (dict, list)) and x:
                out.append(f"{pad}{scalar(k)}:")
                out += yaml_lines(x, indent + 2)
            else:
                out.append(f"{pad}{scalar(k)}: {scalar(x)}")
    elif isinstance(v, list) and v:
        for x in v:
            if isinstance(x, (dict, list)) and x:
                sub = yaml_lines(x, indent + 2)
                out.append(f"{pad}- {sub[0][indent + 2:]}")
                out += sub[1:]
            else:
                out.append(f"{pad}- {scalar(x)}")
    else:
        out.append(pad + scalar(v))
    return out

policies = [o for o in result["kubernetes"] if o.get("kind") == "AuthorizationPolicy"]
print(f"\nAuthorizationPolicies ({len(policies)})")
for p in policies:
    print("---")
    print("\n".join(yaml_lines(p)))
PY
echo
echo "demo.sh: full result in $OUT/result.json"
