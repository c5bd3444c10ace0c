#!/usr/bin/env bash
# Creates .venv with the Python code we test against but did not write: the `ops`
# framework and its testing framework, lightkube, and the real service_mesh libraries
# (the versions the Python istio-beacon-k8s charm locks). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv
STAMP="$VENV/.requirements.sha256"
want=$(sha256sum tests/python/requirements.txt | cut -d' ' -f1)
if [ -x "$VENV/bin/python" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r tests/python/requirements.txt
echo "$want" > "$STAMP"
