// The kernel subsystem on its own, driven by JSON lines on stdin (one reply line per request on
// stdout). Real-kernel tests and the bench run it inside a namespace (`ip netns exec NS node
// dist/agent/kernel/standalone.js`): netlink sockets belong to the namespace of the process.
//   {"id":1,"cmd":"start","config":{...}}     config input (schema defaults apply)
//   {"id":2,"cmd":"reload","config":{...}}
//   {"id":3,"cmd":"fact","key":"vrrp:VI_1","fact":{"up":true}}   (fact null deletes it)
//   {"id":4,"cmd":"reconcile"} (from the observed-state cache when valid; "dump":true re-dumps)
//   {"cmd":"status"} | {"cmd":"plan","config":{...}} | {"cmd":"watchStats"}
//   {"id":5,"cmd":"stop","removeState":false}
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import { configSchema } from '../config/schema.js';
import { Facts } from '../daemon/facts.js';
import { systemClock } from '../lib/clock.js';
import { desiredKernelState } from './desired.js';
import { formatPlan } from './format.js';
import { observeKernel } from './observe.js';
import { planKernel } from './plan.js';
import { KernelSubsystem } from './subsystem.js';

interface Request {
  id?: number;
  cmd: string;
  config?: unknown;
  key?: string;
  fact?: { up: boolean } | null;
  removeState?: boolean;
  dump?: boolean;
}

const log = pino({ level: process.env.LBAGENT_LOG_LEVEL ?? 'info' }, pino.destination(2));
const facts = new Facts();
const kernel = new KernelSubsystem({ log, clock: systemClock, facts });

async function handle(req: Request): Promise<unknown> {
  switch (req.cmd) {
    case 'start':
      return kernel.start(configSchema.parse(req.config ?? {}));
    case 'reload':
      return kernel.reload(configSchema.parse(req.config ?? {}));
    case 'fact': {
      const t0 = performance.now();
      if (!req.key) throw new Error('fact: key is required');
      if (req.fact) facts.set(req.key, req.fact);
      else facts.delete(req.key);
      await kernel.idle();
      return { ms: performance.now() - t0 };
    }
    case 'reconcile': {
      const t0 = performance.now();
      await kernel.reconcile(undefined, 'requested', { dump: !!req.dump });
      return { ms: performance.now() - t0 };
    }
    case 'status':
      return kernel.status();
    case 'watchStats':
      return kernel.watchStats();
    case 'facts':
      return Object.fromEntries(facts.entries(req.key ?? ''));
    case 'plan': {
      const cfg = configSchema.parse(req.config ?? {});
      if (kernel.status().lastReconcile) {
        const { text, plan } = await kernel.planFor(cfg);
        return { text, ops: plan.ops.length };
      }
      // Not started: what a fresh agent would do (no facts, no ownership record).
      const observed = await observeKernel();
      const plan = planKernel(desiredKernelState(cfg, facts), observed);
      return { text: formatPlan(plan, observed.links), ops: plan.ops.length };
    }
    case 'stop':
      await kernel.stop({ removeState: !!req.removeState });
      return null;
    default:
      throw new Error(`unknown command "${req.cmd}"`);
  }
}

const rl = createInterface({ input: process.stdin });
let chain: Promise<void> = Promise.resolve();
rl.on('line', (line) => {
  if (!line.trim()) return;
  chain = chain.then(async () => {
    let req: Request;
    try {
      req = JSON.parse(line) as Request;
    } catch {
      process.stdout.write(`${JSON.stringify({ ok: false, error: 'not JSON' })}\n`);
      return;
    }
    try {
      const result = await handle(req);
      process.stdout.write(`${JSON.stringify({ id: req.id, ok: true, result })}\n`);
    } catch (err) {
      process.stdout.write(`${JSON.stringify({ id: req.id, ok: false, error: (err as Error).message })}\n`);
    }
  });
});
rl.on('close', () => {
  void chain.then(() => kernel.stop({ removeState: false })).then(() => process.exit(0));
});
