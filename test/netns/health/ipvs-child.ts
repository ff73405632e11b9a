// Child process for the IPVS health test (in the VM: the host kernel has no IPVS): the health and
// IPVS subsystems sharing one Facts, as the daemon wires them, inside the director namespace.
// argv[2]: config JSON, argv[3]: IPVS ownership state file. stdout: JSON lines
// {"event":"ready"}, {"event":"fact",key,up,weight,writes} (writes: IPVS netlink writes so far,
// read once the IPVS subsystem has applied the change). stdin: "stop".
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import { configSchema } from '../../../agent/config/schema.js';
import { Facts } from '../../../agent/daemon/facts.js';
import { HealthSubsystem } from '../../../agent/health/index.js';
import { IpvsSubsystem } from '../../../agent/ipvs/index.js';
import { systemClock } from '../../../agent/lib/clock.js';

const cfg = configSchema.parse(JSON.parse(process.argv[2]));
const log = pino({ level: 'warn' }, pino.destination(2));
const facts = new Facts();
const health = new HealthSubsystem({ log, clock: systemClock, facts });
const ipvs = new IpvsSubsystem({ log, clock: systemClock, facts }, { stateFile: process.argv[3] });
facts.on('change', (key: string, f, prev) => {
  if (!key.startsWith('backend:') || (prev && f && prev.up === f.up && prev.weight === f.weight)) return;
  // The IPVS subsystem coalesces fact changes; report after it has had time to apply them.
  setTimeout(() => {
    void ipvs.reconcile().then(() => {
      const writes = ipvs.status().counters.writes;
      console.log(JSON.stringify({ event: 'fact', key, up: f?.up, weight: f?.weight, writes }));
    });
  }, 500);
});
await health.start(cfg);
await ipvs.start(cfg);
console.log(JSON.stringify({ event: 'ready', writes: ipvs.status().counters.writes }));
for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() === 'stop') break;
}
await health.stop({ removeState: false });
await ipvs.stop({ removeState: true });
process.exit(0);
