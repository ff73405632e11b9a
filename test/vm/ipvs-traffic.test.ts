// Real traffic through IPVS inside the VM: client → director (agent's IPVS subsystem) → three
// backends, an mh service with mh-port in NAT and one in DR; spread by weight, stable choice per
// source, weight 0 keeps the open connection and takes no new flows, restart keeps table and
// connection, and `ipvsadm -Ln` agrees with the subsystem's status.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { createNetns, destroyNetns, type Netns, uniq, veth, waitFor } from '../lib/netns.js';
import { countBy, Driver, fixture, ipvsadmLn, nsRun, probe, skipReason, writeTemp } from './lib.js';

const VIP = '10.10.0.100';
const BACKENDS = ['10.20.1.2', '10.20.2.2', '10.20.3.2'];
const NAMES = ['b1', 'b2', 'b3'];

const config = `
log: { level: warn }
ipvs:
  services:
    - name: web
      vip: ${VIP}
      port: 80
      mhPort: true
      mhFallback: true
      forwarding: nat
      backends:
        - { address: 10.20.1.2, port: 8080, weight: 1 }
        - { address: 10.20.2.2, port: 8080, weight: 2 }
        - { address: 10.20.3.2, port: 8080, weight: 1 }
    - name: webdr
      vip: ${VIP}
      port: 81
      mhPort: true
      mhFallback: false # on by default with mh; off here to show the kernel's behaviour without it
      forwarding: dr
      backends:
        - { address: 10.20.1.2 }
        - { address: 10.20.2.2 }
        - { address: 10.20.3.2 }
`;

/** A held connection from the client namespace; say() sends a line and returns the echo. */
class Held {
  private lines: string[] = [];
  private waiters: ((l: string) => void)[] = [];
  constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (l) => {
      const w = this.waiters.shift();
      if (w) w(l);
      else this.lines.push(l);
    });
  }
  next(ms = 20_000): Promise<string> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('held connection: no answer')), ms);
      this.waiters.push((x) => {
        clearTimeout(t);
        resolve(x);
      });
    });
  }
  say(line: string): Promise<string> {
    this.child.stdin!.write(`${line}\n`);
    return this.next();
  }
}

describe('IPVS traffic (VM)', { skip: skipReason() }, () => {
  const id = uniq();
  let client: Netns;
  let director: Netns;
  let backends: Netns[] = [];
  let driver: Driver | undefined;
  const stateFile = `/run/lbagent/lbt-traffic-${id}.json`;
  const cfgPath = writeTemp('traffic.yaml', config);

  before(async () => {
    [client, director, ...backends] = createNetns(
      `lbt-ipvs-c-${id}`,
      `lbt-ipvs-d-${id}`,
      ...NAMES.map((n) => `lbt-ipvs-${n}-${id}`),
    );
    veth(client, 'c0', director, 'd0');
    client.ip('addr add 10.10.0.2/24 dev c0');
    director.ip('addr add 10.10.0.1/24 dev d0');
    director.ip(`addr add ${VIP}/32 dev lo`);
    client.ip(`route add ${VIP}/32 via 10.10.0.1`);
    nsRun(director, [
      'sysctl',
      '-qw',
      'net.ipv4.ip_forward=1',
      'net.ipv4.conf.all.accept_local=1',
      'net.ipv4.conf.all.rp_filter=0',
    ]);
    backends.forEach((b, i) => {
      veth(director, `b${i + 1}`, b, 'e0');
      director.ip(`addr add 10.20.${i + 1}.1/24 dev b${i + 1}`);
      b.ip(`addr add ${BACKENDS[i]}/24 dev e0`);
      b.ip(`route add default via 10.20.${i + 1}.1`);
      b.ip(`addr add ${VIP}/32 dev lo`); // DR: the backend accepts the VIP
    });
    // Backends: greet with their name on 8080 (NAT) and 81 (DR).
    await Promise.all(
      backends.map(async (b, i) => {
        const srv = b.spawn(['node', fixture('backend'), NAMES[i], '8080', '81']);
        let out = '';
        srv.stdout!.on('data', (d) => {
          out += d;
        });
        await waitFor(() => (out.match(/listening/g) ?? []).length === 2, {
          timeoutMs: 60_000,
          what: `${NAMES[i]} listening`,
        });
      }),
    );
  });

  after(() => {
    driver?.child.kill('SIGKILL');
    destroyNetns(client, director, ...backends);
  });

  let first: Map<string, string | null>;
  let held: Held | undefined;
  let heldPort = 0;

  it('programs both services with destinations in the canonical Maglev order', async () => {
    driver = new Driver(director, cfgPath, stateFile);
    const r = await driver.ready();
    assert.equal(r.status.available, true, JSON.stringify(r.status));
    assert.deepEqual(r.status.lastReconcile.errors, []);
    const again = await driver.cmd({ cmd: 'reconcile' });
    assert.equal(
      again.socket!.writes - again.before!.writes,
      0,
      `second reconcile is a no-op: ${JSON.stringify(again.status.lastReconcile)}`,
    );
    const web = r.status.services.find((s: { name?: string }) => s.name === 'web');
    assert.deepEqual(
      web.dests.map((d: { address: string }) => d.address),
      ['10.20.3.2', '10.20.2.2', '10.20.1.2'],
    );
    assert.deepEqual(web.flagNames, ['mh-fallback', 'mh-port']);
  });

  it('NAT + mh-port: many source ports spread over all backends roughly by weight, same source → same backend', () => {
    const sources = Array.from({ length: 240 }, (_, i) => ({ port: 20000 + i }));
    const res = probe(client, { host: VIP, port: 80, sources });
    const counts = countBy(res, (x) => x.backend ?? 'none');
    console.log('# NAT spread over 240 source ports (weights 1/2/1):', JSON.stringify(counts));
    assert.equal(counts.none, undefined, 'every probe answered');
    for (const n of NAMES) assert.ok((counts[n] ?? 0) > 20, `${n} gets flows`);
    assert.ok(counts.b2 > counts.b1 && counts.b2 > counts.b3, 'weight 2 backend gets the most');
    first = new Map(res.map((x) => [x.src, x.backend]));
    const again = probe(client, { host: VIP, port: 80, sources });
    const moved = again.filter((x) => first.get(x.src) !== x.backend);
    assert.equal(
      moved.length,
      0,
      `same source port → same backend (moved: ${JSON.stringify(moved.slice(0, 5))})`,
    );
  });

  let firstDr: Map<string, string | null>;
  const drSources = Array.from({ length: 90 }, (_, i) => ({ port: 30000 + i }));
  it('DR + mh-port: replies come straight from all backends', () => {
    const res = probe(client, { host: VIP, port: 81, sources: drSources });
    firstDr = new Map(res.map((x) => [x.src, x.backend]));
    const counts = countBy(res, (x) => x.backend ?? 'none');
    console.log('# DR spread over 90 source ports:', JSON.stringify(counts));
    assert.equal(counts.none, undefined);
    for (const n of NAMES) assert.ok((counts[n] ?? 0) > 5, `${n} gets DR flows`);
  });

  it('ipvsadm -Ln agrees with the subsystem status', async () => {
    for (let attempt = 0; ; attempt++) {
      const adm = ipvsadmLn(director);
      const st = (await driver!.cmd({ cmd: 'refresh' })).status;
      const mine = st.services
        .map(
          (s: {
            protocol: string;
            address: string;
            port: number;
            scheduler: string;
            dests: IpvsadmDestLike[];
          }) => ({
            key: `${s.protocol}:${s.address}:${s.port}`,
            scheduler: s.scheduler,
            dests: s.dests
              .map((d) => ({
                address: d.address,
                port: d.port,
                forwarding: d.forwarding,
                weight: d.weight,
                activeConns: d.activeConns,
                inactConns: d.inactConns,
              }))
              .sort((a, b) => a.address.localeCompare(b.address)),
          }),
        )
        .sort((a: { key: string }, b: { key: string }) => a.key.localeCompare(b.key));
      const theirs = adm
        .map((s) => ({
          key: s.key,
          scheduler: s.scheduler,
          dests: [...s.dests].sort((a, b) => a.address.localeCompare(b.address)),
        }))
        .sort((a, b) => a.key.localeCompare(b.key));
      try {
        assert.deepEqual(mine, theirs);
        assert.equal(adm.length, 2);
        break;
      } catch (err) {
        if (attempt >= 3) throw err; // connection counters can move between the two reads
      }
    }
  });

  it('weight 0 with mh-fallback: no new flows to it, other flows stay put, the open connection keeps working', async () => {
    const toB1 = [...first].find(([, b]) => b === 'b1')![0];
    heldPort = Number(toB1.split(':')[1]);
    held = new Held(client.spawn(['node', fixture('hold'), VIP, '80', String(heldPort)]));
    assert.equal(await held.next(), 'b1');
    assert.equal(await held.say('one'), 'b1 one');
    const r = await driver!.cmd({ cmd: 'fact', key: 'backend:web/10.20.1.2:8080', fact: { up: false } });
    const web = r.status.services.find((s: { name?: string }) => s.name === 'web');
    assert.equal(web.dests.find((d: { address: string }) => d.address === '10.20.1.2').weight, 0);
    assert.equal(
      r.socket!.writes - r.before!.writes,
      1,
      `one SET_DEST: ${JSON.stringify(r.status.lastReconcile)}`,
    );
    const ports = [...first.keys()]
      .map((k) => ({ port: Number(k.split(':')[1]) }))
      .filter((x) => x.port !== heldPort);
    const res = probe(client, { host: VIP, port: 80, sources: ports });
    const counts = countBy(res, (x) => x.backend ?? 'none');
    console.log('# NAT (mh-fallback) with b1 at weight 0:', JSON.stringify(counts));
    assert.equal(counts.b1, undefined, 'no new flow to the weight-0 backend');
    assert.equal(counts.none, undefined, 'mh-fallback sends its flows elsewhere');
    const moved = res.filter((x) => first.get(x.src) !== 'b1' && first.get(x.src) !== x.backend);
    assert.equal(moved.length, 0, 'flows of the other backends did not move (Maglev table kept)');
    assert.equal(await held.say('two'), 'b1 two', 'existing connection still served');
    const adm = ipvsadmLn(director).find((s) => s.key === `tcp:${VIP}:80`)!;
    const b1 = adm.dests.find((d) => d.address === '10.20.1.2')!;
    assert.equal(b1.weight, 0);
    assert.equal(b1.activeConns, 1);
    // Back up: weight returns, list order unchanged, so the mapping is exactly the original one.
    const up = await driver!.cmd({ cmd: 'fact', key: 'backend:web/10.20.1.2:8080', fact: { up: true } });
    const web2 = up.status.services.find((s: { name?: string }) => s.name === 'web');
    assert.deepEqual(
      web2.dests.map((d: { address: string; weight: number }) => `${d.address}/${d.weight}`),
      ['10.20.3.2/1', '10.20.2.2/2', '10.20.1.2/1'],
    );
    const back = probe(client, { host: VIP, port: 80, sources: ports });
    assert.equal(
      back.filter((x) => first.get(x.src) !== x.backend).length,
      0,
      'table back to the original mapping',
    );
  });

  it('weight 0 without mh-fallback: flows hashed to the quiesced backend get no backend (kernel mh semantics)', async () => {
    await driver!.cmd({ cmd: 'fact', key: 'backend:webdr/10.20.1.2:81', fact: { up: false } });
    const res = probe(client, { host: VIP, port: 81, sources: drSources, timeoutMs: 1500 });
    const counts = countBy(res, (x) => x.backend ?? 'none');
    console.log('# DR (no mh-fallback) with b1 at weight 0:', JSON.stringify(counts));
    for (const x of res) {
      if (firstDr.get(x.src) === 'b1') assert.equal(x.backend, null, `${x.src} was on b1: dropped`);
      else assert.equal(x.backend, firstDr.get(x.src), `${x.src} keeps its backend`);
    }
    await driver!.cmd({ cmd: 'fact', key: 'backend:webdr/10.20.1.2:81', fact: null });
  });

  it('agent restart: table unchanged, no writes, open connection survives', async () => {
    const before = ipvsadmLn(director).map((s) => ({
      ...s,
      dests: s.dests.map((d) => ({ ...d, activeConns: 0, inactConns: 0 })),
    }));
    await driver!.kill('SIGKILL');
    assert.equal(await held!.say('while-down'), 'b1 while-down');
    driver = new Driver(director, cfgPath, stateFile);
    const r = await driver.ready();
    assert.equal(
      r.status.lastReconcile.writes,
      0,
      `restart reconcile writes nothing: ${JSON.stringify(r.status.lastReconcile)}`,
    );
    assert.equal(r.status.lastReconcile.errors.length, 0);
    const afterTable = ipvsadmLn(director).map((s) => ({
      ...s,
      dests: s.dests.map((d) => ({ ...d, activeConns: 0, inactConns: 0 })),
    }));
    assert.deepEqual(afterTable, before);
    assert.equal(await held!.say('after'), 'b1 after');
    const noop = await driver.cmd({ cmd: 'reconcile' });
    assert.equal(noop.socket!.writes - noop.before!.writes, 0, 'no-op reconcile sends no write');
    held!.child.kill('SIGKILL');
    await driver.cmd({ cmd: 'stop', removeState: true });
    assert.deepEqual(
      ipvsadmLn(director),
      [],
      'removeState deletes only what the agent owns (all of it here)',
    );
  });
});

interface IpvsadmDestLike {
  address: string;
  port: number;
  forwarding: string;
  weight: number;
  activeConns: number;
  inactConns: number;
}
