#!/bin/sh
# Stage 2 of the VM boot (PID 1 after switch_root onto the overlay of the host root): mount the
# usual filesystems, run the command file named on the kernel command line, print its status in a
# form run-in-vm.sh parses, and power off (init exiting panics, and -no-reboot ends QEMU).
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
# /tmp stays the overlay's (writable already): a checkout under /tmp must stay visible.
mkdir -p /run/netns /run/lbagent
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb LBVM=1
hostname lbvm 2>/dev/null
ip link set lo up
cmdfile=$(sed -n 's/.*lbvm\.cmd=\([^ ]*\).*/\1/p' /proc/cmdline)
echo "LBVM: kernel $(uname -r), running $cmdfile"
/bin/bash "$cmdfile"
rc=$?
echo "LBVM-EXIT=$rc"
sync
echo o >/proc/sysrq-trigger
sleep 5
exit "$rc"
