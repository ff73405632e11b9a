#!/usr/bin/env bash
# Runs inside a booted systemd container (see ansible-systemd.sh) as a oneshot unit: installs
# lbagent with the Ansible role WITH service management, then checks the real systemd side:
# Type=notify start (READY=1 after startup), STATUS= text, reload via SIGHUP, the watchdog keeping
# the service alive (no restarts across several WatchdogSec periods), config-change handler, a
# changed=0 second run, and a clean stop. Writes "RESULT pass|fail" to /var/tmp/lbt-e2e.result.
set -uo pipefail
if [ "${LBT_DISPOSABLE_ROOT:-}" != 1 ] || [ "$(cat /proc/1/comm)" != systemd ]; then
  echo "ansible-systemd-check: run only by ansible-systemd.sh inside its container" >&2
  exit 2
fi
TARBALL="$1"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RESULT=/var/tmp/lbt-e2e.result
WORK="$(mktemp -d /var/tmp/lbt-e2e.XXXXXX)"
VERSION="$(basename "$TARBALL" .tar.gz)"
VERSION="${VERSION#lbagent-}"
fails=0
: >"$RESULT"
say() { echo "$*" | tee -a "$RESULT"; }
ok() { say "ok   $*"; }
bad() {
  say "FAIL $*"
  fails=$((fails + 1))
}
prop() { systemctl show lbagent -P "$1"; }

cat >"$WORK/vars.yml" <<EOF
lbagent_version: "$VERSION"
lbagent_package_file: "$TARBALL"
lbagent_nodejs_source: none
lbagent_node_bin: "$(command -v node)"
lbagent_manage_service: true
lbagent_service_overrides: { WatchdogSec: 4s, TimeoutAbortSec: 5s }
lbagent_config:
  node: { name: lbt-e2e }
  control: { group: lbt-ctl }
  metrics: { enabled: false }
  vips:
    - address: 198.51.100.10
EOF
# A socket group for the control.group checks (this root is a throw-away overlay).
groupadd -f lbt-ctl
cat >"$WORK/play.yml" <<'EOF'
- name: lbagent under systemd
  hosts: localhost
  gather_facts: false
  roles:
    - lbagent
EOF
play() {
  local name="$1"
  shift
  ANSIBLE_ROLES_PATH="$REPO/ansible/roles" ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0 \
    ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3 ANSIBLE_LOCALHOST_WARNING=0 ANSIBLE_PIPELINING=1 \
    ansible-playbook -c local -i localhost, "$WORK/play.yml" -e "@$WORK/vars.yml" "$@" >"$WORK/$name.log" 2>&1
  local rc=$?
  sed -n '/PLAY RECAP/,$p' "$WORK/$name.log" | grep localhost | tee -a "$RESULT"
  return $rc
}
changed() { sed -n 's/^localhost *:.* changed=\([0-9]*\).*/\1/p' "$WORK/$1.log" | tail -n 1; }

if play run1; then ok "role installed and started lbagent"; else
  bad "first run failed"
  tail -n 40 "$WORK/run1.log" | tee -a "$RESULT"
fi
if [ "$(prop ActiveState)" = active ] && [ "$(prop SubState)" = running ]; then
  ok "lbagent active (running) after a Type=notify start"
else bad "lbagent state $(prop ActiveState)/$(prop SubState): $(journalctl -u lbagent -n 30 --no-pager -o cat)"; fi
status="$(prop StatusText)"
if [ -n "$status" ]; then ok "STATUS= reached systemd: $status"; else bad "no StatusText"; fi
ok "WatchdogUSec=$(prop WatchdogUSec) MainPID=$(prop MainPID)"
if ip -o addr show dev lo | grep -q 198.51.100.10; then ok "VIP on lo (kernel subsystem wired)"; else
  say "note VIP not on lo: the kernel subsystem is not wired into the daemon yet"
fi
if journalctl -u lbagent --no-pager -o cat | grep -q '"lbagent running"'; then ok "'lbagent running' in the journal"; else bad "no 'lbagent running' line"; fi

# control.group with the shipped unit and tmpfiles: a non-root member reaches the agent, others not.
gid="$(getent group lbt-ctl | cut -d: -f3)"
if setpriv --reuid=65534 --regid=65534 --groups="$gid" lbctl status >/dev/null 2>&1; then
  ok "control.group: a non-root member of lbt-ctl runs lbctl status"
else bad "control.group member refused: $(setpriv --reuid=65534 --regid=65534 --groups="$gid" lbctl status 2>&1 | head -n 2) ($(stat -c '%A %U:%G' /run/lbagent /run/lbagent/lbagent.sock 2>&1 | tr '\n' ' '))"; fi
setpriv --reuid=65534 --regid=65534 --clear-groups lbctl status >/dev/null 2>&1; rc=$?
if [ "$rc" = 3 ]; then ok "control.group: a non-member gets exit 3 (permission denied)"; else bad "non-member lbctl status exit $rc"; fi

# journald priorities: a rejected reload is found by -p err, and nothing at info level is.
cp -p /etc/lbagent/lbagent.yaml "$WORK/lbagent.yaml.saved"
echo 'routes: [{prefix: 198.51.100.0/33, nexthops: [{via: 192.0.2.1}]}]' >>/etc/lbagent/lbagent.yaml
lbctl reload >/dev/null 2>&1
cp -p "$WORK/lbagent.yaml.saved" /etc/lbagent/lbagent.yaml
lbctl reload >/dev/null 2>&1
errs="$(journalctl -u lbagent -p err --no-pager -o cat)"
if echo "$errs" | grep -q 'config rejected'; then ok "journalctl -p err finds the rejected reload"; else bad "journalctl -p err: $(echo "$errs" | tail -n 3)"; fi
if echo "$errs" | grep -q '"level":30'; then bad "info lines at priority err"; else ok "no info line at priority err"; fi

# STATUS= follows a drain, not only reloads.
lbctl drain -r e2e-status >/dev/null 2>&1
for _ in $(seq 1 50); do prop StatusText | grep -q '^DRAINED (e2e-status' && break; sleep 0.2; done
if prop StatusText | grep -q '^DRAINED (e2e-status'; then ok "STATUS= after lbctl drain: $(prop StatusText)"; else bad "StatusText after drain: $(prop StatusText)"; fi
lbctl undrain >/dev/null 2>&1
if ip route show proto lbagent >/dev/null 2>&1; then ok "ip route show proto lbagent (name file installed)"; else bad "ip route show proto lbagent: $(ip route show proto lbagent 2>&1)"; fi

pid1="$(prop MainPID)"
sleep 14 # more than three WatchdogSec=4s periods
if [ "$(prop NRestarts)" = 0 ] && [ "$(prop MainPID)" = "$pid1" ] && [ "$(prop ActiveState)" = active ]; then
  ok "watchdog pings keep it alive across 3+ WatchdogSec periods (NRestarts=0, same PID)"
else bad "watchdog: NRestarts=$(prop NRestarts) MainPID $(prop MainPID) vs $pid1, $(prop ActiveState)"; fi

reload_out="$(timeout 60 systemctl reload lbagent 2>&1)"; reload_rc=$?
# ExecReload (kill -HUP) returns at once; the agent's RELOADING=1 ... READY=1 follow, so the unit
# may show "reloading" for a moment after systemctl returns.
for _ in $(seq 1 50); do [ "$(prop ActiveState)" = active ] && break; sleep 0.2; done
if [ "$reload_rc" = 0 ] && [ "$(prop ActiveState)" = active ] && [ "$(prop MainPID)" = "$pid1" ]; then
  ok "systemctl reload (SIGHUP, RELOADING=1 -> READY=1), same PID"
else bad "reload: rc=$reload_rc ($reload_out) state=$(prop ActiveState) pid=$(prop MainPID) (was $pid1) $(journalctl -u lbagent -n 20 --no-pager -o cat)"; fi

if play run2; then :; fi
c="$(changed run2)"
if [ "$c" = 0 ]; then ok "second run: changed=0"; else bad "second run: changed=$c"; fi

if play run3 -e '{"lbagent_config": {"node": {"name": "lbt-e2e-2"}, "metrics": {"enabled": false}}}'; then :; fi
if grep -q 'RUNNING HANDLER \[lbagent : Reload lbagent\]' "$WORK/run3.log"; then ok "config change ran the reload handler"; else bad "no reload handler"; fi
node_name="$(lbctl status --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["node"])' 2>/dev/null)"
if [ "$node_name" = lbt-e2e-2 ]; then ok "reloaded config live (lbctl status: node $node_name), PID $(prop MainPID)"; else bad "lbctl status node: '$node_name'"; fi
[ "$(prop MainPID)" = "$pid1" ] && ok "still the same process (reload, not restart)" || bad "PID changed on reload"

# No pings (process frozen, as a stuck event loop would be): systemd's watchdog must kill it
# (SIGABRT, then SIGKILL after TimeoutAbortSec) and Restart=on-failure must bring it back.
pid2="$(prop MainPID)"
kill -STOP "$pid2"
for _ in $(seq 1 60); do
  [ "$(prop NRestarts)" -ge 1 ] && [ "$(prop ActiveState)" = active ] && [ "$(prop SubState)" = running ] && break
  sleep 1
done
if [ "$(prop NRestarts)" -ge 1 ] && [ "$(prop MainPID)" != "$pid2" ] && [ "$(prop ActiveState)" = active ]; then
  ok "frozen agent: watchdog fired, restarted (NRestarts=$(prop NRestarts), PID $pid2 -> $(prop MainPID))"
else bad "watchdog did not restart a frozen agent: NRestarts=$(prop NRestarts) $(prop ActiveState)/$(prop SubState)"; fi
if journalctl -u lbagent --no-pager | grep -q 'Watchdog timeout'; then ok "journal: systemd 'Watchdog timeout'"; else bad "no 'Watchdog timeout' in the journal"; fi

if timeout 60 systemctl stop lbagent; then :; fi
if [ "$(prop ActiveState)" = inactive ] && [ "$(prop Result)" = success ]; then
  ok "systemctl stop: inactive, result success"
else bad "stop: $(prop ActiveState) result $(prop Result)"; fi
if journalctl -u lbagent --no-pager -o cat | grep -q 'kernel state stays in place'; then ok "stop left kernel state in place (log)"; fi
journalctl -u lbagent --no-pager -o cat >"$WORK/journal.txt" 2>&1
if grep -qiE 'SIGSYS|bad system call|EPERM|operation not permitted' "$WORK/journal.txt"; then
  bad "sandbox denials in the journal: $(grep -iE 'SIGSYS|bad system call|EPERM|not permitted' "$WORK/journal.txt" | head -n 5)"
else ok "no sandbox denials in the journal"; fi

if [ "$fails" = 0 ]; then say "RESULT pass"; else say "RESULT fail ($fails)"; fi
