#!/usr/bin/env bash
# Creates .cc, a venv with charmcraft 4.5.0 from PyPI, used offline as an oracle:
# `charmcraft analyse` (linters on our .charm) and `charmcraft expand-extensions`
# (validates charmcraft.yaml). Neither needs python-apt or LXD, so no workaround here
# (juju-contract §4.3); `charmcraft pack` is not used. Idempotent: a stamp file records
# the installed pin, and a complete venv is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.cc
PIN="charmcraft==4.5.0"
STAMP="$VENV/.charmcraft-pin"
if [ -x "$VENV/bin/charmcraft" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$PIN" ]; then
  exit 0
fi
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "$PIN"
echo "$PIN" > "$STAMP"
