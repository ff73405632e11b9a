// Behavioural equivalence of the IPVS parts (in the VM: the host kernel has no IPVS). Every corpus
// file with virtual_server that converts completely uses its own VIPs, so one keepalived runs them
// all (an include per file, checkers only) and one lbagent runs all their conversions (each file
// converted on its own, the services put side by side); each director in its own namespace, both
// checking the same real servers (one namespace, a bridge). Per file, `ipvsadm -Sn` (sorted) must
// be the same once the checks settle, and again after real server 10.1.0.11 fails (its server
// stopped, its MISC_CHECK told to fail): weight 0 or removal, as configured.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { fileReader } from '../../agent/import/cli.js';
import { importKeepalived } from '../../agent/import/keepalived/index.js';
import { renderConfig } from '../../agent/import/render.js';
import { complete } from '../../agent/import/report.js';
import {
  captureOutput,
  createNetns,
  destroyNetns,
  type Netns,
  stopChild,
  uniq,
  waitFor,
} from '../lib/netns.js';
import { distRoot, nsRun, skipReason } from './lib.js';

const repo = join(distRoot, '..');
const fixtures = join(repo, 'test', 'fixtures', 'import', 'keepalived');
const CONFIG_ID = 'lbt-a';
const SERVERS = ['10.1.0.11', '10.1.0.12', '10.1.0.13'];

/** HTTP on 80/8080, HTTPS on 443, DNS on 53/udp, all on one address: stopping it fails every check. */
const SERVER = `
const [addr, key, cert] = process.argv.slice(1);
const http = require('node:http'), https = require('node:https'), dgram = require('node:dgram'), fs = require('node:fs');
const h = (req, res) => { res.setHeader('connection', 'close'); res.end('ok ' + addr); };
for (const p of [80, 8080]) http.createServer(h).listen(p, addr);
https.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) }, h).listen(443, addr);
const dns = dgram.createSocket('udp4');
dns.on('message', (q, rinfo) => {
  // Answer any question with one A record (the question's name by pointer, TTL 5, this address).
  let i = 12; while (q[i] !== 0) i += q[i] + 1; const qend = i + 5;
  const a = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, ...addr.split('.').map(Number)]);
  const r = Buffer.concat([q.subarray(0, qend), a]);
  r[2] = 0x81; r[3] = 0x80; r.writeUInt16BE(1, 6); r.writeUInt16BE(0, 8); r.writeUInt16BE(0, 10);
  dns.send(r, rinfo.port, rinfo.address);
});
dns.bind(53, addr, () => console.log('ready'));
`;

function ipvsFiles(): string[] {
  return readdirSync(fixtures)
    .filter((f) => /^\d\d-.*\.conf$/.test(f))
    .filter((f) => {
      const r = importKeepalived(join(fixtures, f), fileReader, { configId: CONFIG_ID });
      return r.config.ipvs !== undefined && complete(r.findings.list);
    })
    .sort();
}

/** `ipvsadm -Sn` lines (sorted) of the services whose VIP or fwmark a file uses. */
function ipvsOf(text: string, keys: string[]): string[] {
  return text
    .split('\n')
    .map((l) => l.trim().replace(/\s+/g, ' '))
    .filter((l) => l && keys.some((k) => l.includes(` ${k}`)))
    .sort();
}

function keysOf(file: string): string[] {
  const r = importKeepalived(join(fixtures, file), fileReader, { configId: CONFIG_ID });
  const services = (r.config.ipvs as { services: { vip?: string; port?: number; fwmark?: number }[] })
    .services;
  return services.map((s) => (s.fwmark !== undefined ? `-f ${s.fwmark} ` : `${s.vip}:${s.port ?? 0} `));
}

describe('IPVS equivalence: keepalived with the corpus, lbagent with the conversions (VM)', {
  skip: skipReason(),
  timeout: 600_000,
}, () => {
  const id = uniq();
  let backends: Netns;
  let dk: Netns;
  let da: Netns;
  let work: string;
  const children: ChildProcess[] = [];
  const outputs: { name: string; text: () => string }[] = [];
  const files = skipReason() ? [] : ipvsFiles();
  const results: string[] = [];
  const servers = new Map<string, ChildProcess>();

  const startServer = async (addr: string) => {
    const c = backends.spawn(['node', '-e', SERVER, addr, join(work, 'key.pem'), join(work, 'cert.pem')]);
    const out = captureOutput(c);
    servers.set(addr, c);
    await waitFor(() => out.text().includes('ready'), { timeoutMs: 60_000, what: `server ${addr}` });
  };

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'lbt-imp-ipvs-'));
    cpSync(fixtures, join(work, 'corpus'), { recursive: true });
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '2',
        '-subj',
        '/CN=secure.example.test',
        '-keyout',
        join(work, 'key.pem'),
        '-out',
        join(work, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    [backends, dk, da] = createNetns(`lbt-ii-b-${id}`, `lbt-ii-k-${id}`, `lbt-ii-a-${id}`);
    backends.ip('link add br0 type bridge');
    backends.ip('link set br0 up');
    for (const a of SERVERS) backends.ip(`addr add ${a}/24 dev br0`);
    for (const [d, addr, ifn] of [
      [dk, '10.1.0.1', 'bk'],
      [da, '10.1.0.2', 'ba'],
    ] as const) {
      const tmp = `v${uniq()}`;
      execFileSync('ip', ['link', 'add', `${tmp}d`, 'type', 'veth', 'peer', 'name', `${tmp}b`]);
      execFileSync('ip', ['link', 'set', `${tmp}d`, 'netns', d.name]);
      execFileSync('ip', ['link', 'set', `${tmp}b`, 'netns', backends.name]);
      d.ip(`link set ${tmp}d name eth0`);
      d.ip('link set eth0 up');
      d.ip(`addr add ${addr}/24 dev eth0`);
      backends.ip(`link set ${tmp}b name ${ifn}`);
      backends.ip(`link set ${ifn} master br0`);
      backends.ip(`link set ${ifn} up`);
    }
    for (const a of SERVERS) await startServer(a);

    // keepalived: one file including every corpus file (checkers only: the VRRP of 29 stays off).
    const dir = join(work, 'corpus');
    writeFileSync(join(dir, 'all.conf'), files.map((f) => `include ${join(dir, f)}\n`).join(''));
    // -G: no syslog (in the VM it falls back to the console); -l: the log on stdout, captured.
    const k = dk.spawn([
      'keepalived',
      '-n',
      '-l',
      '-G',
      '-D',
      '--check',
      '-i',
      CONFIG_ID,
      '-f',
      join(dir, 'all.conf'),
      '-p',
      join(work, 'k.pid'),
      '-c',
      join(work, 'c.pid'),
    ]);
    children.push(k);
    outputs.push({ name: 'keepalived', ...captureOutput(k) });

    // lbagent: each file converted on its own, the services side by side.
    const services: unknown[] = [];
    for (const f of files) {
      const r = importKeepalived(join(dir, f), fileReader, { configId: CONFIG_ID });
      const cfg = parse(renderConfig(r.config, [f], r.origins)) as { ipvs: { services: unknown[] } };
      services.push(...cfg.ipvs.services);
    }
    writeFileSync(
      join(work, 'lbagent.yaml'),
      stringify({
        log: { level: 'info' },
        control: { socket: join(work, 'lbagent.sock') },
        metrics: { enabled: false },
        maintenance: { disableFile: join(work, 'disable') },
        ipvs: { services },
      }),
    );
    const a = da.spawn(['node', join(distRoot, 'agent', 'main.js'), 'run', '-c', join(work, 'lbagent.yaml')]);
    children.push(a);
    outputs.push({ name: 'lbagent', ...captureOutput(a) });
  });

  after(async () => {
    console.log(`# IPVS equivalence\n${results.map((r) => `#   ${r}`).join('\n')}`);
    for (const c of [...children, ...servers.values()]) await stopChild(c, 'SIGTERM', 5000);
    destroyNetns(dk, da, backends);
    rmSync(work, { recursive: true, force: true });
  });

  const dump = () => {
    let health = '';
    try {
      health = nsRun(da, [
        'node',
        join(distRoot, 'cli', 'lbctl.js'),
        '-s',
        join(work, 'lbagent.sock'),
        'health',
      ]);
    } catch (err) {
      health = (err as Error).message;
    }
    return `${outputs.map((o) => `--- ${o.name}\n${o.text().slice(-3000)}`).join('\n')}\n--- lbctl health\n${health}`;
  };
  const ipvs = (d: Netns) => nsRun(d, ['ipvsadm', '-Sn']);
  const same = async (what: string) => {
    const pending = () =>
      files.filter(
        (f) => JSON.stringify(ipvsOf(ipvs(dk), keysOf(f))) !== JSON.stringify(ipvsOf(ipvs(da), keysOf(f))),
      );
    await waitFor(() => pending().length === 0, { timeoutMs: 120_000, intervalMs: 1000, what }).catch(
      () => undefined,
    );
    return pending();
  };

  it('the corpus has IPVS files that convert completely', () => {
    assert.ok(files.length >= 9, files.join(' '));
  });

  it('same services, schedulers, flags, real servers and weights once the checks settle', async () => {
    // Every real server up on both (alpha ones need their first check).
    await waitFor(() => SERVERS.every((s) => ipvs(dk).includes(s) && ipvs(da).includes(s)), {
      timeoutMs: 120_000,
      intervalMs: 1000,
      what: 'both directors programmed',
    }).catch(() => console.error(dump()));
    const differ = await same('same ipvsadm -Sn');
    for (const f of files)
      results.push(
        `${f}: ${differ.includes(f) ? 'DIFFERENT' : 'same'} at start (${ipvsOf(ipvs(dk), keysOf(f)).length} lines)`,
      );
    if (differ.length) console.error(dump());
    for (const f of differ)
      assert.deepEqual(ipvsOf(ipvs(da), keysOf(f)), ipvsOf(ipvs(dk), keysOf(f)), `${f}: ipvsadm -Sn`);
  });

  it('real server 10.1.0.11 fails: the same reaction (weight 0 or removal)', async () => {
    const before = ipvs(dk);
    writeFileSync(join(work, 'corpus', 'state', 'down-10.1.0.11'), '');
    await stopChild(servers.get('10.1.0.11')!, 'SIGKILL', 1000);
    await waitFor(() => ipvs(dk) !== before, {
      timeoutMs: 120_000,
      intervalMs: 1000,
      what: 'keepalived reacts',
    });
    const differ = await same('same ipvsadm -Sn after the failure');
    for (const f of files)
      results.push(`${f}: ${differ.includes(f) ? 'DIFFERENT' : 'same'} after 10.1.0.11 failed`);
    if (differ.length) console.error(dump());
    for (const f of differ)
      assert.deepEqual(ipvsOf(ipvs(da), keysOf(f)), ipvsOf(ipvs(dk), keysOf(f)), `${f}: after the failure`);
  });
});
