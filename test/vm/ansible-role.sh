#!/usr/bin/env bash
# Tests the Ansible role for real in a disposable root: packages the tree (scripts/package.sh),
# then runs test/vm/ansible-role-check.sh (ansible-playbook -c local, twice and more) either
#   --vm       inside the QEMU VM (test/vm/run-in-vm.sh: Debian kernel, host root read-only + tmpfs
#              overlay; systemd is not PID 1, so the role runs with lbagent_manage_service=false).
#              TCG makes each playbook run take minutes, so the VM runs the --quick checks (first
#              run, files, changed=0 on the second) with LBVM_TIMEOUT 2400 s unless set; or
#   --overlay  on this host in a private mount namespace: an overlay of / on a tmpfs, chrooted.
#              Nothing it writes reaches the host; the namespace and tmpfs vanish when it exits.
# Default: --vm. Exit status: the check script's.
#
#   test/vm/ansible-role.sh [--vm|--overlay] [--build]
#
# --build runs tsc first (scripts/package.sh's default); without it the existing dist/ is packaged.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
MODE=vm
PKGARGS=(--no-build)
for a in "$@"; do
  case "$a" in
    --vm) MODE=vm ;;
    --overlay) MODE=overlay ;;
    --build) PKGARGS=() ;;
    *) echo "usage: $0 [--vm|--overlay] [--build]" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "ansible-role: needs root" >&2; exit 2; }
command -v ansible-playbook >/dev/null || {
  echo "ansible-role: ansible-playbook missing (apt-get install ansible)" >&2
  exit 2
}

TARBALL="$(bash "$REPO/scripts/package.sh" "${PKGARGS[@]}")"
echo "ansible-role: package $TARBALL" >&2

case "$MODE" in
  vm)
    LBVM_TIMEOUT="${LBVM_TIMEOUT:-2400}" exec bash "$REPO/test/vm/run-in-vm.sh" \
      "bash '$REPO/test/vm/ansible-role-check.sh' --quick '$TARBALL'"
    ;;
  overlay)
    T="$(mktemp -d /tmp/lbt-ansible-root.XXXXXX)"
    trap 'rmdir "$T" 2>/dev/null || true' EXIT
    # Everything below happens in a new mount namespace that dies with this command.
    unshare --mount --propagation private bash -euo pipefail -c '
      T="$1"; REPO="$2"; TARBALL="$3"
      mount -t tmpfs -o size=4g tmpfs "$T"
      mkdir -p "$T/upper" "$T/work" "$T/root"
      mount -t overlay overlay -o "lowerdir=/,upperdir=$T/upper,workdir=$T/work" "$T/root"
      mount -t proc proc "$T/root/proc"
      mount --rbind /dev "$T/root/dev"
      mount --rbind -o ro /sys "$T/root/sys" 2>/dev/null || mount --rbind /sys "$T/root/sys"
      mount -t tmpfs tmpfs "$T/root/run"
      mount -t tmpfs tmpfs "$T/root/tmp"
      # The checkout may live under /tmp or /run (CI clones anywhere): make it visible again.
      mkdir -p "$T/root$REPO"
      mount --bind "$REPO" "$T/root$REPO"
      exec chroot "$T/root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME=/root LANG=C.UTF-8 LBT_DISPOSABLE_ROOT=1 bash "$REPO/test/vm/ansible-role-check.sh" "$TARBALL"
    ' _ "$T" "$REPO" "$TARBALL"
    ;;
esac
