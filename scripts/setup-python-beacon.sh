#!/usr/bin/env bash
# Creates .venv-python-beacon with the real Python istio-beacon-k8s charm's runtime
# dependencies from PyPI, pinned as its uv.lock pins them (tests/python/python_beacon:
# requirements.txt, SOURCES.md). tests/python_beacon_traffic.rs runs that charm through
# charm-sim with it. Idempotent: does nothing when the venv matches the requirements.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-python-beacon
REQS=tests/python/python_beacon/requirements.txt
STAMP="$VENV/.requirements.sha256"
want=$(sha256sum "$REQS" | cut -d' ' -f1)
if [ -x "$VENV/bin/python" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
python3 -m venv "$VENV"
echo '*' > "$VENV/.gitignore"   # untracked without touching the repo's .gitignore
"$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps --only-binary=:all: -r "$REQS"
"$VENV/bin/pip" check --disable-pip-version-check >/dev/null
echo "$want" > "$STAMP"
