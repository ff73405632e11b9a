// The ExaBGP configs lbagent ships carry the families of the prefixes they announce (issue 15.3):
// the Ansible template (rendered by Ansible) and examples/exabgp/exabgp.conf (for
// examples/anycast-lb-host.yaml), each accepted by the real `exabgp --test`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { dist } from './lab.js';

const repo = join(dist, '..');
const has = (cmd: string) => spawnSync(cmd, ['--version']).status === 0;

/** `exabgp --test` on a config, with the bridge's executable swapped for one that exists here. */
function exabgpAccepts(conf: string, dir: string): { ok: boolean; out: string } {
  const path = join(dir, `check-${Math.random().toString(36).slice(2)}.conf`);
  writeFileSync(path, conf.replace(/run \S+ exabgp-bridge[^;]*;/g, 'run /bin/true;'));
  const r = spawnSync('exabgp', ['--test', path], {
    env: { ...process.env, 'exabgp.daemon.user': 'root', 'exabgp.log.destination': 'stderr' },
    encoding: 'utf8',
  });
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
}

/** The families each neighbor block carries. */
function families(conf: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const block of conf.split(/\nneighbor /).slice(1)) {
    const peer = block.split(/\s/)[0];
    const fam = /family\s*\{([^}]*)\}/.exec(block)?.[1] ?? '';
    m.set(
      peer,
      fam
        .split(';')
        .map((s) => s.trim())
        .filter(Boolean),
    );
  }
  return m;
}

describe('ExaBGP configs carry the announced families', {
  skip: !has('exabgp') && 'exabgp not installed',
}, () => {
  const dir = mkdtempSync(join(tmpdir(), 'lbt-exacfg-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('examples/exabgp/exabgp.conf covers every prefix of examples/anycast-lb-host.yaml', () => {
    const conf = readFileSync(join(repo, 'examples/exabgp/exabgp.conf'), 'utf8');
    const yaml = readFileSync(join(repo, 'examples/anycast-lb-host.yaml'), 'utf8');
    const carried = new Set([...families(conf).values()].flat());
    for (const [, prefix] of yaml.matchAll(/- prefix: (\S+)/g)) {
      const fam = prefix.includes(':') ? 'ipv6 unicast' : 'ipv4 unicast';
      assert.ok(carried.has(fam), `${prefix}: ${fam} on no neighbor`);
    }
    const r = exabgpAccepts(conf, dir);
    assert.ok(r.ok, r.out);
  });

  it('the Ansible template gives each neighbor the families of the announced prefixes', {
    skip: !has('ansible') && 'ansible not installed',
  }, () => {
    writeFileSync(
      join(dir, 'vars.yml'),
      `lbagent_bin_dir: /usr/bin
lbagent_exabgp_bridge_socket: /run/lbagent/exabgp.sock
lbagent_exabgp_local_as: 65001
lbagent_exabgp_peer_as: 65000
lbagent_exabgp_router_id: 10.0.1.2
lbagent_exabgp_families: []
lbagent_config:
  bgp:
    announcements:
      - { prefix: 192.0.2.10/32 }
      - { prefix: "2001:db8::10/128" }
lbagent_exabgp_neighbors:
  - { address: 10.0.1.1, local_address: 10.0.1.2 }
  - { address: "2001:db8:1::1", local_address: "2001:db8:1::2", families: [ipv6 unicast] }
`,
    );
    const out = join(dir, 'exabgp.conf');
    const tpl = join(repo, 'ansible/roles/lbagent/templates/exabgp.conf.j2');
    const r = spawnSync(
      'ansible',
      [
        'localhost',
        '-c',
        'local',
        '-e',
        `@${join(dir, 'vars.yml')}`,
        '-m',
        'copy',
        '-a',
        `content={{ lookup('template', '${tpl}') }} dest=${out}`,
      ],
      { encoding: 'utf8', env: { ...process.env, ANSIBLE_LOCALHOST_WARNING: 'false' } },
    );
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    const conf = readFileSync(out, 'utf8');
    assert.deepEqual(
      families(conf),
      new Map([
        ['10.0.1.1', ['ipv4 unicast', 'ipv6 unicast']],
        ['2001:db8:1::1', ['ipv6 unicast']],
      ]),
    );
    const ok = exabgpAccepts(conf, dir);
    assert.ok(ok.ok, ok.out);
  });
});
