// Test driver: runs VrrpSubsystem (and the kernel subsystem for the VIPs, sharing one Facts)
// inside a namespace. Usage: node driver.js CONFIG.json [--ip-applier]
// stdout: JSON lines {"t":<epoch ms>,"ev":"fact"|"status"|"ready"|"error",...}
// stdin commands: "status" (prints status), "stop" (graceful stop, exit 0), "fact KEY up|down"
// (publishes a fact as health/drain would), "reload PATH" (reload with a new config). SIGTERM = "stop".
// --ip-applier swaps the kernel subsystem for a tiny `ip addr` applier (test-only fallback).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import { configSchema } from '../../../agent/config/schema.js';
import { Facts } from '../../../agent/daemon/facts.js';
import type { Subsystem } from '../../../agent/daemon/subsystem.js';
import { systemClock } from '../../../agent/lib/clock.js';
import { VrrpSubsystem } from '../../../agent/vrrp/index.js';

const [cfgPath, ...flags] = process.argv.slice(2);
const cfg = configSchema.parse(JSON.parse(readFileSync(cfgPath, 'utf8')));
const log = pino({ level: process.env.LBT_LOG ?? 'info' }, pino.destination(2));
const facts = new Facts();
const ctx = { log, clock: systemClock, facts };
const out = (o: object) => process.stdout.write(`${JSON.stringify({ t: Date.now(), ...o })}\n`);

// Echoed in a microtask: the echo is the test's, not the agent's, and must not sit in a takeover's
// path ahead of the kernel subsystem's listener (the VIP add) and the GARP.
facts.on('change', (key: string, fact) => queueMicrotask(() => out({ ev: 'fact', key, fact })));

/** Test-only VIP applier: `ip addr add/del` on vrrp:<name> flips. */
function ipApplier(): Subsystem {
  const apply = (key: string) => {
    const inst = cfg.vrrp.instances.find((i) => `vrrp:${i.name}` === key);
    if (!inst) return;
    const up = facts.get(key)?.up === true;
    for (const v of inst.vips) {
      const addr = v.includes('/') ? v : `${v}/${v.includes(':') ? 128 : 32}`;
      const argv = ['addr', up ? 'add' : 'del', addr, 'dev', inst.vipInterface ?? inst.interface];
      if (up && v.includes(':')) argv.push('nodad');
      try {
        execFileSync('ip', argv, { stdio: 'ignore' });
      } catch {}
    }
    out({ ev: 'vips', key, up });
  };
  const onFact = (key: string) => apply(key);
  return {
    name: 'ip-applier',
    async start() {
      facts.on('change', onFact);
    },
    async reload() {},
    async stop() {
      facts.off('change', onFact);
    },
    status: () => ({}),
  };
}

async function main(): Promise<void> {
  let kernel: Subsystem;
  if (flags.includes('--ip-applier')) kernel = ipApplier();
  else {
    const { KernelSubsystem } = await import('../../../agent/kernel/subsystem.js');
    kernel = new KernelSubsystem(ctx);
  }
  const vrrp = new VrrpSubsystem(ctx);
  await kernel.start(cfg);
  await vrrp.start(cfg);
  out({ ev: 'ready' });
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await vrrp.stop({ removeState: false });
    // Give the kernel subsystem the vrrp:* down facts, then leave the VIPs as a stopped agent would.
    await new Promise((r) => setTimeout(r, 50));
    await kernel.stop({ removeState: false });
    out({ ev: 'stopped' });
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    const cmd = line.trim();
    if (cmd === 'status') out({ ev: 'status', status: vrrp.status() });
    else if (cmd === 'stop') void stop();
    else if (cmd.startsWith('reload ')) {
      const next = configSchema.parse(JSON.parse(readFileSync(cmd.slice(7).trim(), 'utf8')));
      Promise.all([kernel.reload(next), vrrp.reload(next)]).then(
        () => out({ ev: 'reloaded' }),
        (err: Error) => out({ ev: 'error', message: err.message }),
      );
    } else if (cmd.startsWith('fact ')) {
      const [, key, v] = cmd.split(/\s+/);
      facts.set(key, { up: v === 'up' });
    }
  });
}

main().catch((err) => {
  out({ ev: 'error', message: (err as Error).message });
  process.exit(1);
});
