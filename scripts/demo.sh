#!/usr/bin/env bash
# The demo lab: the whole LB tier in network namespaces with real traffic (see scripts/demo/lab.ts).
# Installs what it needs (scripts/setup.sh), runs on this kernel when it has IPVS, otherwise inside
# the project's QEMU harness with Debian's kernel. Cleans up after itself, also on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node dist/scripts/demo/lab.js
