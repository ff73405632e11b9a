// Child process for the real-kernel health test: the health and kernel subsystems sharing one Facts,
// as the daemon wires them, inside the namespace it runs in (netlink sockets follow the process).
// argv[2]: config JSON. stdout: JSON lines {"event":"ready"} and {"event":"fact",key,up,reason}.
// stdin: "stop" stops both and exits.
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import { configSchema } from '../../../agent/config/schema.js';
import { Facts } from '../../../agent/daemon/facts.js';
import { HealthSubsystem } from '../../../agent/health/index.js';
import { KernelSubsystem } from '../../../agent/kernel/index.js';
import { systemClock } from '../../../agent/lib/clock.js';

const cfg = configSchema.parse(JSON.parse(process.argv[2]));
const log = pino({ level: 'warn' }, pino.destination(2));
const facts = new Facts();
const health = new HealthSubsystem({ log, clock: systemClock, facts });
const kernel = new KernelSubsystem({ log, clock: systemClock, facts });
facts.on('change', (key: string, f) => {
  if (key.startsWith('nexthop:')) {
    // After the kernel subsystem has applied what this fact means.
    void kernel
      .idle()
      .then(() => console.log(JSON.stringify({ event: 'fact', key, up: f?.up, reason: f?.reason })));
  }
});
await health.start(cfg);
await kernel.start(cfg);
console.log(JSON.stringify({ event: 'ready' }));
for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() === 'stop') break;
}
await health.stop({ removeState: false });
await kernel.stop({ removeState: true });
process.exit(0);
