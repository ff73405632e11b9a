// The health subsystem on real time against real servers on loopback: transitions happen after
// exactly `fall` failures / `rise` successes, facts and transition log lines follow.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { parseConfig } from '../../../agent/config/load.js';
import { Facts } from '../../../agent/daemon/facts.js';
import { HealthSubsystem } from '../../../agent/health/index.js';
import { systemClock } from '../../../agent/lib/clock.js';
import { waitFor } from '../../lib/netns.js';
import { close, httpServer, type Scripted, tcpServer } from './servers.js';

describe('HealthSubsystem on real time', () => {
  const state: Scripted = { status: 500, body: '', hang: false, seen: [] };
  let health: HealthSubsystem | undefined;
  after(() => health?.stop({ removeState: false }));

  it('tcp listener closes and comes back, http 500 then 200: exact rise/fall counts', async () => {
    let tcp = await tcpServer();
    const web = await httpServer(state);
    const facts = new Facts();
    const logs: Record<string, unknown>[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => logs.push(JSON.parse(l)) });
    health = new HealthSubsystem({ log, clock: systemClock, facts });
    const seenAt: Record<string, { up: boolean; successes: number; failures: number }[]> = {};
    facts.on('change', (key: string, f, prev) => {
      if (!key.startsWith('backend:') || !f || (prev && prev.up === f.up)) return;
      const port = Number(key.split(':').at(-1));
      const c = health!.status().checks.find((x) => x.target === `127.0.0.1:${port}`)!;
      if (!seenAt[key]) seenAt[key] = [];
      seenAt[key].push({ up: f.up, successes: c.successes, failures: c.failures });
    });
    const cfg = parseConfig(`
ipvs:
  services:
    - name: tcp
      vip: 192.0.2.1
      port: ${tcp.port}
      check: { type: tcp, interval: 400ms, timeout: 350ms, rise: 3, fall: 2, initial: up }
      backends: [{ address: 127.0.0.1 }]
    - name: web
      vip: 192.0.2.1
      port: ${web.port}
      check: { type: http, path: /ready, interval: 400ms, timeout: 350ms, rise: 3, fall: 2, initial: down }
      backends: [{ address: 127.0.0.1 }]
`);
    const tcpKey = `backend:tcp/127.0.0.1:${tcp.port}`;
    const webKey = `backend:web/127.0.0.1:${web.port}`;
    await health.start(cfg);
    try {
      await waitFor(() => health!.status().checks.every((c) => c.runs >= 3), {
        timeoutMs: 15_000,
        what: 'first runs',
      });
      assert.equal(facts.get(tcpKey)?.up, true);
      assert.equal(facts.get(webKey)?.up, false);
      state.status = 200;
      await waitFor(() => facts.get(webKey)?.up, { timeoutMs: 15_000, what: 'web up' });
      const port = tcp.port;
      await close(tcp);
      await waitFor(() => facts.get(tcpKey)?.up === false, { timeoutMs: 15_000, what: 'tcp down' });
      assert.equal(facts.get(tcpKey)?.reason, 'connect ECONNREFUSED');
      tcp = await tcpServer(port);
      await waitFor(() => facts.get(tcpKey)?.up, { timeoutMs: 15_000, what: 'tcp up again' });
      assert.deepEqual(seenAt[webKey], [
        { up: false, successes: 0, failures: 0 },
        { up: true, successes: 3, failures: 0 },
      ]);
      assert.deepEqual(seenAt[tcpKey], [
        { up: true, successes: 0, failures: 0 },
        { up: false, successes: 0, failures: 2 },
        { up: true, successes: 3, failures: 0 },
      ]);
      const lines = logs.filter((l) => l.kind === 'check').map((l) => [l.id, l.from, l.to, l.reason]);
      assert.deepEqual(lines, [
        [`http 127.0.0.1:${web.port} #${String(lines[0][0]).split('#')[1]}`, 'down', 'up', 'status 200'],
        [`tcp 127.0.0.1:${port}`, 'up', 'down', 'connect ECONNREFUSED'],
        [`tcp 127.0.0.1:${port}`, 'down', 'up', 'connected'],
      ]);
      const lat = health.status().scheduler.lateness;
      assert.ok(lat.samples > 10);
    } finally {
      await health.stop({ removeState: false });
      await close(tcp);
      await close(web);
    }
  });
});
