#!/usr/bin/env bash
# Runs one shell command inside a throw-away QEMU VM booting Debian's kernel (which has IPVS, unlike
# the CI host's). The host root is shared read-only over 9p with a tmpfs overlay on top, so the VM
# sees this checkout at the same path; the command runs there as root. The console streams to our
# stdout and this script exits with the command's exit status.
#
#   test/vm/run-in-vm.sh 'modprobe ip_vs && ipvsadm -Ln'
#
# Environment: LBVM_CACHE (initramfs cache dir, default <repo>/.vm, gitignored), LBVM_MEM (MiB,
# default 2048), LBVM_SMP (default 2), LBVM_TIMEOUT (seconds, default 900), LBVM_KERNEL (vmlinuz).
# TCG only: nested KVM hangs on the CI machines.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${LBVM_CACHE:-$REPO/.vm}"
MEM="${LBVM_MEM:-2048}"
SMP="${LBVM_SMP:-2}"
TIMEOUT="${LBVM_TIMEOUT:-900}"

if [ $# -lt 1 ]; then
  echo "usage: $0 'command to run inside the VM'" >&2
  exit 2
fi
CMD="$*"

# Packages: install only what is missing (idempotent, no network when all are present).
need=()
for p in qemu-system-x86 linux-image-amd64 busybox-static ipvsadm; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "run-in-vm: installing ${need[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >&2 ||
    { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >&2; }
fi

KERNEL="${LBVM_KERNEL:-$(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)}"
[ -f "$KERNEL" ] || { echo "run-in-vm: no /boot/vmlinuz-* (install linux-image-amd64)" >&2; exit 2; }
KVER="${KERNEL#*/vmlinuz-}"
[ -d "/lib/modules/$KVER" ] || { echo "run-in-vm: no /lib/modules/$KVER" >&2; exit 2; }

mkdir -p "$CACHE"
INITRD="$CACHE/initramfs-$KVER.cpio.gz"
MODS="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci netfs fscache 9pnet 9pnet_virtio 9p overlay"

# Stage 1 (/init in the initramfs): load the 9p + overlay modules, mount the host root read-only,
# overlay a tmpfs, switch_root and exec stage 2 from the shared tree.
build_initrd() {
  local tmp
  tmp="$(mktemp -d)"
  mkdir -p "$tmp"/{bin,dev,proc,sys,mnt/host,mnt/rw,newroot,lib/modules}
  cp /bin/busybox "$tmp/bin/busybox"
  for m in $MODS; do
    local f
    f="$(modinfo -k "$KVER" -n "$m")"
    case "$f" in /*) cp "$f" "$tmp/lib/modules/" ;; *) ;; esac # built-in modules have no file
  done
  cat >"$tmp/init" <<EOF
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $MODS; do [ -f /lib/modules/\$m.ko ] && insmod /lib/modules/\$m.ko; done
mount -t 9p -o ro,trans=virtio,version=9p2000.L,msize=512000 hostroot /mnt/host || { echo 'LBVM: 9p mount failed'; poweroff -f; }
mount -t tmpfs -o size=75% tmpfs /mnt/rw
mkdir -p /mnt/rw/upper /mnt/rw/work
mount -t overlay overlay -o lowerdir=/mnt/host,upperdir=/mnt/rw/upper,workdir=/mnt/rw/work /newroot || { echo 'LBVM: overlay failed'; poweroff -f; }
umount /proc /sys /dev
exec switch_root /newroot /bin/sh "$REPO/test/vm/stage2.sh"
EOF
  chmod +x "$tmp/init"
  # Unique temp name + rename: concurrent runs never see a half-written initramfs.
  (cd "$tmp" && find . | cpio -o -H newc 2>/dev/null | gzip -1) >"$tmp.cpio.gz"
  mv "$tmp.cpio.gz" "$INITRD"
  rm -rf "$tmp"
}
stamp="$(sha1sum "$0" | cut -c1-12)-$REPO"
if [ ! -f "$INITRD" ] || [ "$(cat "$INITRD.stamp" 2>/dev/null)" != "$stamp" ]; then
  build_initrd
  echo "$stamp" >"$INITRD.stamp"
fi

# The command travels in a file under the cache dir: the VM sees the host tree at the same path.
CMDFILE="$(mktemp "$CACHE/cmd.XXXXXX")"
LOG="$(mktemp "$CACHE/console.XXXXXX")"
trap 'rm -f "$CMDFILE" "$LOG"' EXIT
{
  echo "cd '$REPO'"
  printf '%s\n' "$CMD"
} >"$CMDFILE"

set +e
timeout --foreground -k 10 "$TIMEOUT" qemu-system-x86_64 \
  -accel tcg,thread=multi -cpu max -smp "$SMP" -m "$MEM" -nographic -no-reboot \
  -kernel "$KERNEL" -initrd "$INITRD" \
  -append "console=ttyS0 panic=-1 quiet loglevel=3 lbvm.cmd=$CMDFILE" \
  -fsdev local,id=r,path=/,security_model=none,readonly=on,multidevs=remap \
  -device virtio-9p-pci,fsdev=r,mount_tag=hostroot \
  -nic none </dev/null 2>&1 | tee "$LOG"
qrc=${PIPESTATUS[0]}
set -e

rc="$(sed -n 's/.*LBVM-EXIT=\([0-9][0-9]*\).*/\1/p' "$LOG" | tail -n 1)"
if [ -z "$rc" ]; then
  echo "run-in-vm: the VM ended without reporting an exit status (qemu/timeout status $qrc)" >&2
  exit 125
fi
exit "$rc"
