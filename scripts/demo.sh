#!/usr/bin/env bash
# The demo lab: the whole LB tier in network namespaces with real traffic (see scripts/demo/lab.ts).
# Installs what it needs (scripts/setup.sh), runs on this kernel when it has IPVS, otherwise inside
# the project's QEMU harness with Debian's kernel. Cleans up after itself, also on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if modprobe -q ip_vs 2>/dev/null && modprobe -q ip_vs_mh 2>/dev/null && [ -e /proc/net/ip_vs ]; then
  exec node dist/scripts/demo/lab.js
fi
echo "This kernel ($(uname -r)) has no IPVS: running the demo inside the QEMU harness with Debian's"
echo "kernel (software emulation, so everything is about ten times slower than on real hardware)."
LBVM_TIMEOUT="${LBVM_TIMEOUT:-2400}" exec bash test/vm/run-in-vm.sh \
  "modprobe ip_vs && modprobe ip_vs_mh && node dist/scripts/demo/lab.js"
