// control.group with the shipped runtime-directory mode, a group only NSS knows, and a non-root
// member running lbctl against the real agent:
// - the runtime directory gets the mode of systemd/tmpfiles.d/lbagent.conf (the unit's
//   RuntimeDirectoryMode must be the same), the control socket the group;
// - the group exists only as a systemd userdb drop-in (nss-systemd), not in /etc/group, like an
//   LDAP/SSSD group: the agent must resolve it through NSS. The drop-in lives in a private mount
//   namespace (a tmpfs on /run) that only the agent sees: nothing on this host changes;
// - uid 65534 with the group as a supplementary group reaches the agent, without it is refused;
// - `lbctl plan -c FILE` reads FILE as the caller: a root-only file is not readable by the member,
//   and its contents never come back through the root agent.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { agentBin, distRoot, lbctl, startAgent } from '../../lib/agent.js';
import {
  captureOutput,
  createNetns,
  destroyNetns,
  isRoot,
  type Netns,
  stopChild,
  uniq,
  waitFor,
} from '../../lib/netns.js';

const repo = join(distRoot(), '..');
const GID = 60_000 + (process.pid % 5000);
const GROUP = `lbt-nss-${GID}`;
const NOBODY = 65534;

/** The mode the shipped tmpfiles.d entry gives /run/lbagent, and the unit's RuntimeDirectoryMode. */
function shippedRuntimeDirModes(): { tmpfiles: string; unit: string } {
  const tmpfiles = readFileSync(join(repo, 'systemd', 'tmpfiles.d', 'lbagent.conf'), 'utf8');
  const unit = readFileSync(join(repo, 'systemd', 'lbagent.service'), 'utf8');
  return {
    tmpfiles: /^d\s+\/run\/lbagent\s+(\d+)/m.exec(tmpfiles)?.[1] ?? '?',
    unit: /^RuntimeDirectoryMode=(\d+)/m.exec(unit)?.[1] ?? '?',
  };
}

describe('control.group: a socket-group member runs lbctl', { skip: !isRoot() && 'needs root' }, () => {
  let ns: Netns;
  let dir: string;
  before(() => {
    [ns] = createNetns(`lbt-cgrp-${uniq()}`);
    dir = mkdtempSync(join(tmpdir(), 'lbt-cgrp-'));
    chmodSync(dir, 0o755); // mkdtemp makes 0700: the member must be able to reach the runtime dir
  });
  after(() => {
    destroyNetns(ns);
    rmSync(dir, { recursive: true, force: true });
  });

  it('the shipped unit and tmpfiles give the runtime directory the same, traversable mode', () => {
    const m = shippedRuntimeDirModes();
    assert.equal(m.unit, m.tmpfiles, 'unit RuntimeDirectoryMode and tmpfiles.d agree');
    assert.ok(
      Number.parseInt(m.tmpfiles, 8) & 0o001,
      `others may traverse /run/lbagent (mode ${m.tmpfiles})`,
    );
  });

  it('resolves the group through NSS and lets its members in, nobody else', async () => {
    const runtime = join(dir, 'run');
    mkdirSync(runtime, { mode: Number.parseInt(shippedRuntimeDirModes().tmpfiles, 8) });
    chmodSync(runtime, Number.parseInt(shippedRuntimeDirModes().tmpfiles, 8));
    const sock = join(runtime, 'lbagent.sock');
    const cfgPath = join(dir, 'lbagent.yaml');
    const config = `node: {name: cgrp}
control: {socket: ${sock}, mode: "0660", group: ${GROUP}}
metrics: {enabled: false}
maintenance: {disableFile: ${join(dir, 'disable')}}
vips:
  - address: 192.0.2.10
`;
    writeFileSync(cfgPath, config);
    // The group exists only for the agent, as an nss-systemd drop-in in its own mount namespace.
    const script = `set -e
mount -t tmpfs lbt-userdb /run
mkdir /run/userdb
printf '{"groupName":"${GROUP}","gid":${GID}}' > /run/userdb/${GROUP}.group
getent group ${GROUP} >&2
exec "$@"`;
    const agent = ns.spawn([
      'unshare',
      '-m',
      'sh',
      '-c',
      script,
      'sh',
      process.execPath,
      agentBin,
      'run',
      '-c',
      cfgPath,
    ]);
    const out = captureOutput(agent);
    try {
      await waitFor(async () => (await lbctl(ns, sock, ['status'])).code === 0, {
        timeoutMs: 30_000,
        what: `agent up (output: ${out.text().slice(-2000)})`,
      });
      assert.ok(!readFileSync('/etc/group', 'utf8').includes(GROUP), 'the group is not in /etc/group');
      const st = statSync(sock);
      assert.equal(st.gid, GID, `socket group (agent output: ${out.text().slice(-1500)})`);
      assert.equal(st.mode & 0o777, 0o660);

      const member = { uid: NOBODY, gid: NOBODY, groups: [GID] };
      const outsider = { uid: NOBODY, gid: NOBODY };
      const ok = await lbctl(ns, sock, ['status', '--json'], { as: member });
      assert.equal(ok.code, 0, `member: ${ok.stderr}`);
      assert.equal(JSON.parse(ok.stdout).node, 'cgrp');
      const denied = await lbctl(ns, sock, ['status'], { as: outsider });
      assert.equal(denied.code, 3, denied.stderr);
      assert.match(denied.stderr, /permission denied/);
    } finally {
      await stopChild(agent, 'SIGTERM', 10_000);
    }
  });

  it('lbctl plan -c reads the file as the caller: a root-only file never comes back through the agent', async () => {
    const runtime = join(dir, 'run2');
    mkdirSync(runtime, { mode: 0o755 });
    chmodSync(runtime, 0o755);
    const sock = join(runtime, 'lbagent.sock');
    const cfgPath = join(dir, 'plan.yaml');
    // A numeric gid needs no lookup: this part is about who reads the file.
    const config = `node: {name: cgrp2}
control: {socket: ${sock}, mode: "0660", group: "${GID}"}
metrics: {enabled: false}
maintenance: {disableFile: ${join(dir, 'disable2')}}
vips:
  - address: 192.0.2.20
`;
    writeFileSync(cfgPath, config);
    const agent = await startAgent(ns, cfgPath, sock);
    const member = { uid: NOBODY, gid: NOBODY, groups: [GID] };
    try {
      const mine = join(dir, 'mine.yaml');
      writeFileSync(mine, config.replace('192.0.2.20', '192.0.2.21'));
      chmodSync(mine, 0o644);
      const plan = await lbctl(ns, sock, ['plan', '-c', mine], { as: member });
      assert.equal(plan.code, 0, plan.stderr);
      assert.match(plan.stdout, /192\.0\.2\.21/);
      const secret = join(dir, 'secret.yaml');
      writeFileSync(secret, 'root-secret-line: hunter2\n');
      chmodSync(secret, 0o600);
      const leak = await lbctl(ns, sock, ['plan', '-c', secret], { as: member });
      assert.doesNotMatch(leak.stdout + leak.stderr, /hunter2|root-secret-line/);
      assert.equal(leak.code, 2, leak.stderr);
      assert.match(leak.stderr, /cannot read .*EACCES/);
    } finally {
      await stopChild(agent.child, 'SIGTERM', 10_000);
    }
  });
});
