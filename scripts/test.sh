#!/usr/bin/env bash
# The whole test suite: setup (idempotent), lint, unit tests, real-kernel tests in network
# namespaces, and the IPVS suite inside the QEMU harness (Debian kernel). Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

echo "== lint (biome)"
npx --no-install biome check agent cli test bench scripts

echo "== unit and namespace tests"
npm test

if [ -f test/vm/run-vm-suite.sh ] && [ "${LBAGENT_SKIP_VM:-0}" != 1 ]; then
  echo "== IPVS suite in the QEMU harness"
  npm run test:vm
fi
