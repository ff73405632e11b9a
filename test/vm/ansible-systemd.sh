#!/usr/bin/env bash
# The role and the unit under a real systemd: boots systemd as PID 1 in a systemd-nspawn container
# whose root is a throw-away overlay of this host's root (tmpfs upper, private mount namespace) and
# whose network is private (--private-network: its own namespace, only lo). A oneshot unit runs
# test/vm/ansible-systemd-check.sh (role with service management, Type=notify start, STATUS=,
# watchdog, reload, changed=0, stop) and powers the container off. Nothing reaches the host.
#
#   test/vm/ansible-systemd.sh [TARBALL]     (default: package the existing dist/ into a temp dir)
#
# Needs root, systemd-nspawn (Debian systemd-container; installed if missing) and ansible.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
[ "$(id -u)" = 0 ] || { echo "ansible-systemd: needs root" >&2; exit 2; }
command -v ansible-playbook >/dev/null || { echo "ansible-systemd: apt-get install ansible" >&2; exit 2; }
if ! command -v systemd-nspawn >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd-container >&2
fi

PKGDIR="$(mktemp -d /tmp/lbt-e2e-pkg.XXXXXX)"
T="$(mktemp -d /tmp/lbt-e2e-root.XXXXXX)"
trap 'rm -rf "$PKGDIR"; rmdir "$T" 2>/dev/null || true' EXIT
TARBALL="${1:-$(bash "$REPO/scripts/package.sh" --no-build -o "$PKGDIR")}"

unshare --mount --propagation private bash -euo pipefail -c '
  T="$1"; REPO="$2"; TARBALL="$3"
  mount -t tmpfs -o size=4g tmpfs "$T"
  mkdir -p "$T/upper" "$T/work" "$T/root"
  mount -t overlay overlay -o "lowerdir=/,upperdir=$T/upper,workdir=$T/work" "$T/root"
  R="$T/root"
  # Boot only what the test needs: the oneshot test unit, which powers off when done.
  cat >"$R/etc/systemd/system/lbt-e2e.service" <<EOF
[Unit]
Description=lbagent role + unit end-to-end test
After=basic.target
SuccessAction=poweroff-force
FailureAction=poweroff-force
[Service]
Type=oneshot
Environment=LBT_DISPOSABLE_ROOT=1 HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ExecStart=/bin/bash $REPO/test/vm/ansible-systemd-check.sh $TARBALL
StandardOutput=journal+console
TimeoutStartSec=900
EOF
  mkdir -p "$R/etc/systemd/system/lbt-e2e.target.wants"
  ln -sf ../lbt-e2e.service "$R/etc/systemd/system/lbt-e2e.target.wants/lbt-e2e.service"
  cat >"$R/etc/systemd/system/lbt-e2e.target" <<EOF
[Unit]
Description=lbagent e2e
Requires=basic.target
After=basic.target
AllowIsolate=yes
EOF
  rm -f "$R/etc/machine-id"
  set +e
  # The checkout and the package may live under /tmp, which the container mounts afresh.
  timeout --foreground 1200 systemd-nspawn -q -D "$R" --private-network --register=no --keep-unit \
    --bind-ro="$REPO" --bind-ro="$(dirname "$TARBALL")" \
    --boot -- systemd.unit=lbt-e2e.target >"$T/console.log" 2>&1
  rc=$?
  set -e
  echo "systemd-nspawn exited $rc"
  if [ -f "$R/var/tmp/lbt-e2e.result" ]; then cat "$R/var/tmp/lbt-e2e.result"; else tail -n 60 "$T/console.log"; fi
  grep -q "^RESULT pass" "$R/var/tmp/lbt-e2e.result" 2>/dev/null
' _ "$T" "$REPO" "$TARBALL"
