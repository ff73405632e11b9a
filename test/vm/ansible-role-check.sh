#!/usr/bin/env bash
# Runs the Ansible role with `ansible-playbook -c local` and checks what it did. It installs into
# /opt, /usr/bin, /etc: run it ONLY inside a disposable root (the QEMU VM's tmpfs overlay, or the
# private overlay chroot of ansible-role.sh --overlay); it refuses to run anywhere else.
#
#   test/vm/ansible-role-check.sh [--quick] /path/to/lbagent-VERSION.tar.gz
#
# --quick: only the first run, the installed files and the changed=0 second run (for the QEMU VM,
# where TCG makes each ansible-playbook run take minutes).
#
# Checks: files installed (release, current link, wrappers, unit, tmpfiles, config, /etc/lb, the
# ExaBGP config and drop-in), the config validated by the installed `lbagent check-config`, the
# installed unit passes `systemd-analyze verify` against the installed binary, a second run reports
# changed=0, a config change is applied (and notifies the reload), a bad config is refused and the
# old file kept, and an upgrade flips `current` and keeps the old release.
set -euo pipefail

if [ "${LBVM:-}" != 1 ] && [ "${LBT_DISPOSABLE_ROOT:-}" != 1 ]; then
  echo "ansible-role-check: refusing to run outside a disposable root (use test/vm/ansible-role.sh)" >&2
  exit 2
fi
QUICK=0
if [ "${1:-}" = --quick ]; then
  QUICK=1
  shift
fi
TARBALL="${1:?usage: $0 [--quick] lbagent-VERSION.tar.gz}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
NODE="$(command -v node)"
WORK="$(mktemp -d /tmp/lbt-ansible.XXXXXX)"
VERSION="$(basename "$TARBALL" .tar.gz)"
VERSION="${VERSION#lbagent-}"
fails=0
step() { printf '\n=== %s\n' "$*"; }
ok() { printf 'ok   %s\n' "$*"; }
bad() {
  printf 'FAIL %s\n' "$*"
  fails=$((fails + 1))
}
check() { # check DESCRIPTION command...
  local what="$1"
  shift
  if "$@" >/dev/null 2>&1; then ok "$what"; else bad "$what"; fi
}

# The test inventory: Node from the machine, no systemctl (systemd is not PID 1 here), ExaBGP
# already installed (no apt), BGP in use so the ExaBGP part runs too.
cat >"$WORK/vars.yml" <<EOF
lbagent_version: "$VERSION"
lbagent_package_file: "$TARBALL"
lbagent_nodejs_source: none
lbagent_node_bin: "$NODE"
lbagent_manage_service: false
lbagent_exabgp_install: false
lbagent_exabgp_router_id: 192.0.2.11
lbagent_exabgp_neighbors:
  - { address: 192.0.2.1, local_address: 192.0.2.11 }
  - { address: 192.0.2.2, local_address: 192.0.2.11, peer_as: 65002, hold_time: 9 }
lbagent_service_overrides: { WatchdogSec: 60s }
lbagent_config:
  node: { name: lbt-ansible }
  checks:
    web: { type: tcp, address: 127.0.0.1, port: 80 }
  vips:
    - address: 198.51.100.10
  bgp:
    announcements:
      - { prefix: 198.51.100.10/32, checks: [web], withdrawOnDown: true }
  maintenance: { disableFile: /etc/lb/disable }
EOF
cat >"$WORK/play.yml" <<'EOF'
- name: lbagent role test
  hosts: localhost
  gather_facts: false
  become: false
  roles:
    - lbagent
EOF

play() { # play LOGNAME [extra ansible-playbook args]
  local name="$1"
  shift
  set +e
  ANSIBLE_ROLES_PATH="$REPO/ansible/roles" ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0 \
    ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3 ANSIBLE_LOCALHOST_WARNING=0 ANSIBLE_PIPELINING=1 \
    ansible-playbook -c local -i localhost, "$WORK/play.yml" -e "@$WORK/vars.yml" "$@" >"$WORK/$name.log" 2>&1
  local rc=$?
  set -e
  sed -n '/PLAY RECAP/,$p' "$WORK/$name.log"
  return $rc
}
recap() { # recap LOGNAME FIELD -> number
  sed -n "s/^localhost *:.* $2=\([0-9]*\).*/\1/p" "$WORK/$1.log" | tail -n 1
}

step "first run"
if play run1; then ok "first run succeeded"; else
  bad "first run failed"
  tail -n 60 "$WORK/run1.log"
fi
echo "changed=$(recap run1 changed)"

step "installed files"
check "release unpacked" test -f "/opt/lbagent/releases/lbagent-$VERSION/dist/agent/main.js"
check "current -> releases/lbagent-$VERSION" test "$(readlink /opt/lbagent/current)" = "releases/lbagent-$VERSION"
check "no dev dependencies in the release" test ! -e "/opt/lbagent/current/node_modules/typescript/package.json"
check "/usr/bin/lbagent wrapper" test -x /usr/bin/lbagent
check "lbctl --version = $VERSION" test "$(/usr/bin/lbctl --version)" = "$VERSION"
check "unit installed verbatim" cmp "$REPO/systemd/lbagent.service" /etc/systemd/system/lbagent.service
check "unit drop-in" grep -qx 'WatchdogSec=60s' /etc/systemd/system/lbagent.service.d/ansible.conf
check "tmpfiles.d entry" cmp "$REPO/systemd/tmpfiles.d/lbagent.conf" /etc/tmpfiles.d/lbagent.conf
check "tmpfiles applied: /run/lbagent" test -d /run/lbagent
check "/etc/lb" test -d /etc/lb
check "iproute2 name file" cmp "$REPO/agent/kernel/rt_protos.lbagent.conf" /etc/iproute2/rt_protos.d/lbagent.conf
check "ip route show proto lbagent resolves the name" ip route show proto lbagent
check "config rendered" grep -q 'name: lbt-ansible' /etc/lbagent/lbagent.yaml
if out="$(/usr/bin/lbagent check-config /etc/lbagent/lbagent.yaml 2>&1)"; then
  ok "installed lbagent validates the rendered config: $(echo "$out" | head -n 1)"
else bad "check-config: $out"; fi
check "exabgp.conf: bridge process" grep -q "run /usr/bin/lbagent exabgp-bridge --socket /run/lbagent/exabgp.sock;" /etc/exabgp/exabgp.conf
check "exabgp.conf: both neighbors" test "$(grep -c '^neighbor ' /etc/exabgp/exabgp.conf)" = 2
check "exabgp.conf: per-neighbor peer-as" grep -q 'peer-as 65002;' /etc/exabgp/exabgp.conf
check "exabgp --test accepts it" env exabgp.daemon.user=root exabgp --test /etc/exabgp/exabgp.conf
check "exabgp drop-in runs it as root" grep -qx 'User=root' /etc/systemd/system/exabgp.service.d/lbagent.conf
if command -v systemd-analyze >/dev/null; then
  if out="$(systemd-analyze verify --man=no /etc/systemd/system/lbagent.service 2>&1)"; then
    ok "systemd-analyze verify on the installed unit (real /usr/bin/lbagent)"
  else bad "systemd-analyze verify: $out"; fi
fi

step "second run is idempotent"
if play run2; then ok "second run succeeded"; else bad "second run failed"; fi
c="$(recap run2 changed)"
if [ "$c" = 0 ]; then ok "second run: changed=0"; else
  bad "second run: changed=$c"
  grep -E '^changed:' -B2 "$WORK/run2.log" | head -n 40
fi

if [ "$QUICK" = 1 ]; then
  rm -rf "$WORK"
  if [ "$fails" = 0 ]; then echo "ansible-role-check: all checks passed (quick)"; exit 0; fi
  echo "ansible-role-check: $fails check(s) failed"
  exit 1
fi

step "config change is applied and notifies a reload"
sum_before="$(sha256sum /etc/lbagent/lbagent.yaml)"
if play run3 -e '{"lbagent_config": {"node": {"name": "lbt-ansible-2"}, "maintenance": {"disableFile": "/etc/lb/disable"}}}'; then
  ok "config-change run succeeded"
else bad "config-change run failed"; fi
check "config updated" grep -q 'name: lbt-ansible-2' /etc/lbagent/lbagent.yaml
check "reload handler notified (skipped without systemd)" grep -q 'RUNNING HANDLER \[lbagent : Reload lbagent\]' "$WORK/run3.log"
check "no restart for a config change" bash -c "! grep -q 'RUNNING HANDLER \[lbagent : Restart lbagent\]' '$WORK/run3.log'"
test "$(sha256sum /etc/lbagent/lbagent.yaml)" != "$sum_before" && ok "file content changed"

step "invalid config is refused and the old file kept"
sum_before="$(sha256sum /etc/lbagent/lbagent.yaml)"
if play run4 -e '{"lbagent_config": {"vips": [{"address": "192.0.2.300"}]}}'; then
  bad "a bad config was accepted"
else ok "bad config run failed as it should"; fi
check "check-config named the field" grep -q 'vips\[0\]\.address' "$WORK/run4.log"
check "old config kept" test "$(sha256sum /etc/lbagent/lbagent.yaml)" = "$sum_before"

step "upgrade flips current and keeps the previous release"
NEXT="${VERSION%.*}.$((${VERSION##*.} + 1))"
mkdir -p "$WORK/repack"
tar -C "$WORK/repack" -xzf "$TARBALL"
mv "$WORK/repack/lbagent-$VERSION" "$WORK/repack/lbagent-$NEXT"
sed -i "s/^version=.*/version=$NEXT/" "$WORK/repack/lbagent-$NEXT/BUILDINFO"
tar -C "$WORK/repack" -czf "$WORK/lbagent-$NEXT.tar.gz" "lbagent-$NEXT"
if play run5 -e "lbagent_version=$NEXT" -e "lbagent_package_file=$WORK/lbagent-$NEXT.tar.gz"; then
  ok "upgrade run succeeded"
else
  bad "upgrade run failed"
  tail -n 40 "$WORK/run5.log"
fi
check "current -> releases/lbagent-$NEXT" test "$(readlink /opt/lbagent/current)" = "releases/lbagent-$NEXT"
check "previous release kept for rollback" test -d "/opt/lbagent/releases/lbagent-$VERSION"
check "restart handler notified for a new release" grep -q 'RUNNING HANDLER \[lbagent : Restart lbagent\]' "$WORK/run5.log"
if play run6 -e "lbagent_version=$NEXT" -e "lbagent_package_file=$WORK/lbagent-$NEXT.tar.gz"; then :; fi
c="$(recap run6 changed)"
if [ "$c" = 0 ]; then ok "run after the upgrade: changed=0"; else bad "run after the upgrade: changed=$c"; fi

rm -rf "$WORK"
echo
if [ "$fails" = 0 ]; then
  echo "ansible-role-check: all checks passed"
else
  echo "ansible-role-check: $fails check(s) failed"
  exit 1
fi
