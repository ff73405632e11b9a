// Standalone driver for the IPVS subsystem (tests, bench, debugging): runs it with a config file in
// the current network namespace and takes JSON-line commands on stdin, answering on stdout:
//   {"cmd":"status"} {"cmd":"refresh"} {"cmd":"reconcile"} {"cmd":"reload","config":"/path"}
//   {"cmd":"fact","key":"backend:web/10.0.0.2:80","fact":{"up":false}}   (fact null deletes it)
//   {"cmd":"stop","removeState":false}
// Usage: node dist/agent/ipvs/driver.js CONFIG [--state FILE]   (logs go to stderr)
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import { loadConfigFile } from '../config/load.js';
import { Facts } from '../daemon/facts.js';
import { systemClock } from '../lib/clock.js';
import { IpvsSubsystem } from './index.js';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const cfgPath = args[0];
  if (!cfgPath) {
    process.stderr.write('usage: driver.js CONFIG [--state FILE]\n');
    process.exit(2);
  }
  const si = args.indexOf('--state');
  const stateFile = si >= 0 ? args[si + 1] : undefined;
  const { config } = await loadConfigFile(cfgPath);
  const log = pino({ level: config.log.level, base: { svc: 'lbagent-ipvs-driver' } }, pino.destination(2));
  const facts = new Facts();
  const sub = new IpvsSubsystem({ log, clock: systemClock, facts }, { stateFile });
  const reply = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);
  await sub.start(config);
  reply({ ready: true, status: sub.status() });
  const rl = createInterface({ input: process.stdin });
  for await (const line of rl) {
    if (!line.trim()) continue;
    try {
      const c = JSON.parse(line) as {
        cmd: string;
        config?: string;
        key?: string;
        fact?: unknown;
        removeState?: boolean;
      };
      switch (c.cmd) {
        case 'status':
          reply({ ok: true, status: sub.status(), socket: sub.socketCounters() });
          break;
        case 'refresh':
          reply({ ok: true, status: await sub.refresh(), socket: sub.socketCounters() });
          break;
        case 'reconcile': {
          const before = { ...sub.socketCounters() };
          await sub.reconcile();
          reply({ ok: true, status: sub.status(), before, socket: sub.socketCounters() });
          break;
        }
        case 'reload': {
          const { config: next } = await loadConfigFile(c.config ?? cfgPath);
          const before = { ...sub.socketCounters() };
          await sub.reload(next);
          reply({ ok: true, status: sub.status(), before, socket: sub.socketCounters() });
          break;
        }
        case 'fact': {
          const before = { ...sub.socketCounters() };
          if (c.fact === null) facts.delete(c.key!);
          else facts.set(c.key!, c.fact as { up: boolean; weight?: number });
          // Wait for the coalesced reconcile the fact triggers.
          await new Promise((r) => setTimeout(r, 50));
          await sub.reconcile(new Set([c.key!.slice(c.key!.indexOf(':') + 1, c.key!.indexOf('/'))]));
          reply({ ok: true, status: sub.status(), before, socket: sub.socketCounters() });
          break;
        }
        case 'stop':
          await sub.stop({ removeState: !!c.removeState });
          reply({ ok: true });
          process.exit(0);
          break;
        default:
          reply({ ok: false, error: `unknown command ${c.cmd}` });
      }
    } catch (err) {
      reply({ ok: false, error: (err as Error).message });
    }
  }
  await sub.stop({ removeState: false });
  process.exit(0);
}

main().catch((err) => {
  process.stderr.write(`driver: ${(err as Error).message}\n`);
  process.exit(1);
});
