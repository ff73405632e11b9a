// Behavioural equivalence of the VRRP parts: for each corpus file with vrrp_instance that converts
// completely, keepalived with the original and lbagent with the conversion, each in its own
// namespaces (an LB namespace with eth0/eth1, an observer namespace on the other ends running
// tcpdump), side by side. Once master, both must hold the same addresses (`ip -o addr`, without
// the test's own and link-local ones) and send the same adverts (VRRP version, vrid, priority,
// interval, authentication, VIP list); where the file tracks something, the same failure
// (a script's file removed, a track file written, an interface down) must lead to the same
// adverts / addresses after it.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { fileReader } from '../../../agent/import/cli.js';
import { importKeepalived } from '../../../agent/import/keepalived/index.js';
import { renderConfig } from '../../../agent/import/render.js';
import { complete } from '../../../agent/import/report.js';
import {
  captureOutput,
  createNetns,
  destroyNetns,
  isRoot,
  type Netns,
  stopChild,
  uniq,
  veth,
  waitFor,
} from '../../lib/netns.js';

const repo = join(import.meta.dirname, '..', '..', '..', '..');
const dist = join(repo, 'dist');
const fixtures = join(repo, 'test', 'fixtures', 'import', 'keepalived');
const CONFIG_ID = 'lbt-a';

interface Advert {
  /** tcpdump's timestamp (ms since the epoch): the capture time, not when we read the line. */
  at: number;
  version: string;
  vrid: number;
  prio: number;
  intvl: string;
  auth: string;
  addrs: string;
}

interface Side {
  kind: 'keepalived' | 'lbagent';
  lb: Netns;
  obs: Netns;
  dir: string;
  conf: string;
  children: ChildProcess[];
  out: { text: () => string }[];
  tcpdump: { text: () => string };
}

/** Triggers per file: the failure to apply, and what to compare after it. */
const REACTIONS: Record<string, (s: Side) => void> = {
  '07-vrrp-track-interface.conf': (s) => s.lb.ip('link set eth1 down'),
  '08-vrrp-track-script.conf': (s) => rmSync(join(s.dir, 'state', 'web-ok')),
  '09-vrrp-track-file.conf': (s) => writeFileSync(join(s.dir, 'state', 'prio'), '2\n'),
  '12-vrrp-sync-group.conf': (s) => s.lb.ip('link set eth1 down'),
  '29-full-lb.conf': (s) => rmSync(join(s.dir, 'state', 'svc-ok')),
};
/** State files a file's tracking starts healthy with. */
const INITIAL: Record<string, string[]> = {
  '08-vrrp-track-script.conf': ['web-ok'],
  '29-full-lb.conf': ['svc-ok'],
};

const ADVERT =
  /(VRRPv\d), Advertisement, vrid (\d+), prio (\d+), (?:authtype (\w+), )?intvl (\d+c?s), length \d+(?:, addrs(?:\(\d+\))?: ([^"]*?))?(?: auth "[^"]*")?\s*$/;

/** "21:40:50.772156 o0 M IP (...)": tcpdump's local time of day → ms since the epoch. */
function stamp(line: string): number | undefined {
  const m = /^(\d\d):(\d\d):(\d\d(?:\.\d+)?) /.exec(line);
  if (!m) return undefined;
  const d = new Date();
  d.setHours(Number(m[1]), Number(m[2]), 0, 0);
  return d.getTime() + Number(m[3]) * 1000;
}

function adverts(s: Side): Advert[] {
  const out: Advert[] = [];
  let at = 0;
  for (const line of s.tcpdump.text().split('\n')) {
    at = stamp(line) ?? at;
    const m = ADVERT.exec(line);
    if (m)
      out.push({
        at,
        version: m[1],
        vrid: Number(m[2]),
        prio: Number(m[3]),
        auth: m[4] ?? 'none',
        intvl: m[5],
        addrs: (m[6] ?? '')
          .split(/[,\s]+/)
          .filter(Boolean)
          .sort()
          .join(','),
      });
  }
  return out;
}

/**
 * The last advert of each vrid, as comparable text: in steady state without the priority-0
 * "stepping down" ones; after a failure (`since` = when it was caused) with them.
 */
function lastAdverts(s: Side, since?: number): string[] {
  const last = new Map<number, Advert>();
  for (const a of adverts(s)) if (since === undefined ? a.prio !== 0 : a.at > since) last.set(a.vrid, a);
  return [...last.values()]
    .sort((a, b) => a.vrid - b.vrid)
    .map(
      (a) => `${a.version} vrid ${a.vrid} prio ${a.prio} intvl ${a.intvl} auth ${a.auth} addrs ${a.addrs}`,
    );
}

/** `ip -o addr` of the LB namespace without the test's own, loopback and link-local addresses. */
function addresses(s: Side): string[] {
  const text = s.lb.exec(['ip', '-o', 'addr', 'show']);
  return text
    .split('\n')
    .map((l) =>
      l
        .replace(/\\.*$/, '')
        .replace(/^\d+:\s+/, '')
        .replace(/\s+/g, ' ')
        .trim(),
    )
    .filter((l) => l && !/ (127\.0\.0\.1|::1|10\.99\.\d+\.1)\/| fe80::/.test(l))
    .sort();
}

function setupSide(kind: Side['kind'], file: string, id: string): Side {
  const tag = `${kind[0]}${id}`;
  const [lb, obs] = createNetns(`lbt-veq-l${tag}`, `lbt-veq-o${tag}`);
  veth(lb, 'eth0', obs, 'o0');
  veth(lb, 'eth1', obs, 'o1');
  lb.ip('addr add 10.99.0.1/24 dev eth0');
  lb.ip('addr add 10.99.1.1/24 dev eth1');
  obs.ip('addr add 10.99.0.2/24 dev o0');
  obs.ip('addr add 10.99.0.3/24 dev o0');
  obs.ip('addr add 10.99.1.2/24 dev o1');
  const dir = mkdtempSync(join(tmpdir(), `lbt-veq-${kind}-`));
  cpSync(fixtures, dir, { recursive: true });
  for (const f of INITIAL[file] ?? []) writeFileSync(join(dir, 'state', f), '');
  const td = obs.spawn(['tcpdump', '-l', '-n', '-v', '-i', 'any', 'ip proto 112 or ip6 proto 112']);
  return {
    kind,
    lb,
    obs,
    dir,
    conf: join(dir, file),
    children: [td],
    out: [],
    tcpdump: captureOutput(td),
  };
}

function startKeepalived(s: Side): void {
  const k = s.lb.spawn([
    'keepalived',
    '-n',
    '-l',
    '-D',
    '--vrrp',
    '-i',
    CONFIG_ID,
    '-f',
    s.conf,
    '-p',
    join(s.dir, 'keepalived.pid'),
    '-r',
    join(s.dir, 'vrrp.pid'),
  ]);
  s.children.push(k);
  s.out.push(captureOutput(k));
}

function startLbagent(s: Side): void {
  const r = importKeepalived(s.conf, fileReader, { configId: CONFIG_ID });
  assert.ok(complete(r.findings.list), `${s.conf} converts completely`);
  const cfg = parse(renderConfig(r.config, ['equivalence'], r.origins)) as Record<string, unknown>;
  cfg.control = { socket: join(s.dir, 'lbagent.sock') };
  cfg.metrics = { enabled: false };
  cfg.maintenance = { disableFile: join(s.dir, 'disable') };
  if (cfg.ipvs) (cfg.ipvs as Record<string, unknown>).loadModules = false;
  writeFileSync(join(s.dir, 'lbagent.yaml'), stringify(cfg));
  const a = s.lb.spawn([
    process.execPath,
    join(dist, 'agent', 'main.js'),
    'run',
    '-c',
    join(s.dir, 'lbagent.yaml'),
  ]);
  s.children.push(a);
  s.out.push(captureOutput(a));
}

async function stopSide(s: Side): Promise<void> {
  for (const c of [...s.children].reverse()) await stopChild(c, 'SIGTERM', 3000);
  destroyNetns(s.lb, s.obs);
  rmSync(s.dir, { recursive: true, force: true });
}

/** The VIPs a file's instances hold as master (from the converted config). */
function expectedVipCount(file: string): number {
  const r = importKeepalived(join(fixtures, file), fileReader, { configId: CONFIG_ID });
  const inst = ((r.config.vrrp as { instances: { vips: string[] }[] }).instances ?? []).flatMap(
    (i) => i.vips,
  );
  return inst.length;
}

/** LBT_IMPORT_FILES=07,12 runs only those corpus files (while debugging). */
function vrrpFiles(): string[] {
  const only = process.env.LBT_IMPORT_FILES?.split(',');
  return readdirSync(fixtures)
    .filter((f) => /^\d\d-.*\.conf$/.test(f))
    .filter((f) => !only || only.includes(f.slice(0, 2)))
    .filter((f) => {
      const r = importKeepalived(join(fixtures, f), fileReader, { configId: CONFIG_ID });
      return r.config.vrrp !== undefined && complete(r.findings.list);
    })
    .sort();
}

const skip = !isRoot()
  ? 'needs root'
  : !existsSync('/usr/sbin/keepalived')
    ? 'keepalived not installed'
    : false;

// Three files at a time (each in its own namespaces): about 10 s each, mostly waiting for the
// master down interval and adverts.
describe('VRRP equivalence: keepalived with the original, lbagent with the conversion', {
  skip,
  timeout: 600_000,
  concurrency: 3,
}, () => {
  const results: string[] = [];
  after(() => {
    console.log(
      `# VRRP equivalence\n${results
        .sort()
        .map((r) => `#   ${r.replace(/\n/g, ' / ')}`)
        .join('\n')}`,
    );
  });
  const files = skip ? [] : vrrpFiles();
  it('covers the VRRP files of the corpus', () => {
    assert.ok(process.env.LBT_IMPORT_FILES || files.length >= 15, files.join(' '));
  });
  for (const file of files) {
    it(file, async () => {
      const id = uniq();
      const sides = [setupSide('keepalived', file, id), setupSide('lbagent', file, id)];
      const [ka, lba] = sides;
      const dump = () =>
        sides
          .map(
            (s) =>
              `--- ${s.kind}\n${s.out.map((o) => o.text().slice(-3000)).join('\n')}\n${s.tcpdump.text().slice(-1500)}`,
          )
          .join('\n');
      try {
        startKeepalived(ka);
        startLbagent(lba);
        const vips = expectedVipCount(file);
        // Master: every VIP is on an interface and each vrid has sent adverts for a while.
        for (const s of sides)
          await waitFor(() => addresses(s).length >= vips && lastAdverts(s).length > 0, {
            timeoutMs: 30_000,
            intervalMs: 200,
            what: `${s.kind} master with ${vips} VIPs (has ${addresses(s).join('; ')})`,
          });
        const count = (s: Side) => adverts(s).length;
        const seen = sides.map(count);
        await waitFor(() => sides.every((s, i) => count(s) >= seen[i] + 2 * lastAdverts(s).length), {
          timeoutMs: 20_000,
          intervalMs: 200,
          what: 'two more adverts per instance',
        });
        assert.deepEqual(addresses(lba), addresses(ka), 'addresses');
        assert.deepEqual(lastAdverts(lba), lastAdverts(ka), 'adverts');
        let note = `${lastAdverts(ka).join(' | ')}`;

        const react = REACTIONS[file];
        if (react) {
          const before = sides.map((s) => lastAdverts(s).join('|') + addresses(s).join('|'));
          const mark = Date.now();
          for (const s of sides) react(s);
          const after = (s: Side, _i: number) => lastAdverts(s, mark);
          // Both change, then settle: the same last adverts and addresses as each other.
          await waitFor(
            () => sides.every((s, i) => lastAdverts(s).join('|') + addresses(s).join('|') !== before[i]),
            { timeoutMs: 20_000, intervalMs: 200, what: 'both react' },
          );
          await waitFor(
            () =>
              JSON.stringify([after(lba, 1), addresses(lba)]) ===
              JSON.stringify([after(ka, 0), addresses(ka)]),
            { timeoutMs: 20_000, intervalMs: 200, what: 'same state after the failure' },
          ).catch(() => undefined);
          assert.deepEqual(addresses(lba), addresses(ka), 'addresses after the failure');
          assert.deepEqual(after(lba, 1), after(ka, 0), 'adverts after the failure');
          note += ` → after the failure: ${after(ka, 0).join(' | ') || 'no adverts'}; ${addresses(ka).length} addresses`;
        }
        if (file === '10-vrrp-notify.conf') {
          const log = (s: Side) => readFileSync(join(s.dir, 'state', 'notify.log'), 'utf8').trim();
          await waitFor(() => existsSync(join(lba.dir, 'state', 'notify.log')), { what: 'notify hook ran' });
          assert.equal(log(lba), log(ka), 'notify hook arguments');
          for (const s of sides)
            assert.ok(existsSync(join(s.dir, 'state', 'became-master')), `${s.kind} notify_master`);
          note += ` → notify: ${log(ka)}`;
        }
        results.push(`${file}: same (${note})`);
      } catch (err) {
        results.push(`${file}: DIFFERENT (${(err as Error).message.split('\n')[0]})`);
        console.error(dump());
        throw err;
      } finally {
        for (const s of sides) await stopSide(s);
      }
    });
  }
});
