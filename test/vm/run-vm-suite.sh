#!/usr/bin/env bash
# The in-VM suite: builds (tsc emits even when other areas have type errors), then runs the
# compiled tests under dist/test/vm inside a QEMU VM with Debian's kernel (IPVS available).
# Usage: test/vm/run-vm-suite.sh [test files under dist/test/vm ...]
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
npx tsc -p tsconfig.json >/dev/null || echo "run-vm-suite: tsc reported type errors (see npm run build); running what was emitted" >&2
if [ $# -gt 0 ]; then files="$*"; else files="$(ls dist/test/vm/*.test.js dist/test/netns/health/ipvs-weight.test.js | tr '\n' ' ')"; fi
exec bash test/vm/run-in-vm.sh "modprobe ip_vs && modprobe ip_vs_mh && node --test --test-concurrency=1 --test-reporter=spec $files"
