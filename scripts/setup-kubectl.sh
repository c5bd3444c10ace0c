#!/usr/bin/env bash
# Installs kubectl, the client-go command line that crates/charm-sim/tests/kubectl.rs drives
# against the simulated API server: Debian's package kubernetes-client (/usr/bin/kubectl).
# Does nothing when a kubectl is already on PATH. Needs root (or sudo) to install.
set -euo pipefail
if command -v kubectl >/dev/null 2>&1; then
  exit 0
fi
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  SUDO=(sudo)
fi
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -qq --no-install-recommends kubernetes-client >/dev/null
kubectl version --client >/dev/null
