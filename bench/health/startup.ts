// Bench: how long config parsing and HealthSubsystem.start take for N TCP-checked backends
// (the time the first checks could be late by, before the start-up spread takes over).
//   node --import tsx bench/health/startup.ts [N]
import { pino } from 'pino';
import { parseConfig } from '../../agent/config/load.js';
import { Facts } from '../../agent/daemon/facts.js';
import { HealthSubsystem } from '../../agent/health/index.js';
import { systemClock } from '../../agent/lib/clock.js';

const N = Number(process.argv[2] ?? 20_000);
const svcs: string[] = [];
for (let s = 0; s * 1000 < N; s++) {
  const b: string[] = [];
  for (let i = s * 1000; i < Math.min(N, (s + 1) * 1000); i++)
    b.push(`        - { address: 127.0.0.1, port: ${10_000 + i} }`);
  svcs.push(
    `    - name: s${s}\n      vip: 192.0.2.1\n      port: ${10 + s}\n      check: { type: tcp, interval: 5s, initial: up }\n      backends:\n${b.join('\n')}`,
  );
}
let t = performance.now();
const cfg = parseConfig(`ipvs:\n  services:\n${svcs.join('\n')}\n`);
const parseMs = performance.now() - t;
const h = new HealthSubsystem({ log: pino({ level: 'warn' }), clock: systemClock, facts: new Facts() });
t = performance.now();
await h.start(cfg);
const startMs = performance.now() - t;
await h.stop({ removeState: false });
console.log(JSON.stringify({ backends: N, parseMs: Math.round(parseMs), startMs: Math.round(startMs) }));
