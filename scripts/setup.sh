#!/usr/bin/env bash
# Installs what lbagent's demo and tests need on a Debian 12 machine, idempotently:
# Debian packages (peers and tools), npm dependencies, and the TypeScript build.
# Run as root. Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

[ "$(id -u)" = 0 ] || { echo "setup: run as root (it installs Debian packages and creates network namespaces)" >&2; exit 1; }

# Peers and tools: keepalived/ExaBGP/BIRD are real protocol peers in tests; tcpdump captures;
# ipvsadm reads IPVS back; strace proves fsync before an ack; QEMU + Debian's kernel run the IPVS tests (this kernel may lack IPVS);
# prometheus for `promtool check metrics` on a real scrape (its service is never started here);
# jq for the log filters the troubleshooting guide shows.
PKGS=(iproute2 procps psmisc kmod iputils-ping iputils-arping curl tcpdump strace keepalived exabgp bird2 ipvsadm haproxy prometheus jq
      qemu-system-x86 linux-image-amd64 busybox-static systemd systemd-container ansible nodejs npm)
missing=()
for p in "${PKGS[@]}"; do
  # nodejs/npm only when no usable node is on PATH (the project needs Node 20+).
  if [[ $p == nodejs || $p == npm ]]; then command -v node >/dev/null && continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  # Never start the installed daemons (bird, keepalived, haproxy) on this host: tests run them in namespaces.
  policy=/usr/sbin/policy-rc.d
  had_policy=0; [ -e "$policy" ] && had_policy=1
  [ $had_policy = 1 ] || { printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; }
  trap '[ $had_policy = 1 ] || rm -f "$policy"' EXIT
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  for svc in bird keepalived haproxy; do
    systemctl disable --now "$svc" >/dev/null 2>&1 || true
  done
fi

major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "setup: Node.js $(node --version) is too old; lbagent needs Node 20 or newer" >&2
  exit 1
fi

# npm ci only when the lock file changed since the last install.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

log "building (tsc)"
npx --no-install tsc -p tsconfig.json
