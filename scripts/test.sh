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

echo "== Ansible role in a throw-away overlay root, and under a real systemd (systemd-nspawn)"
bash test/vm/ansible-role.sh --overlay
bash test/vm/ansible-systemd.sh

if [ -f test/vm/run-vm-suite.sh ] && [ "${LBAGENT_SKIP_VM:-0}" != 1 ]; then
  echo "== IPVS suite in the QEMU harness"
  npm run test:vm
fi
