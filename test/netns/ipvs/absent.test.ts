// On a kernel without IPVS (this CI host) the subsystem must say so plainly and let the agent run:
// start() resolves, status() reports the reason, nothing throws. Runs against the real kernel's
// generic netlink controller; module loading is stubbed so the host's modules are never touched.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { parseConfig } from '../../../agent/config/load.js';
import { Facts } from '../../../agent/daemon/facts.js';
import { IpvsSubsystem } from '../../../agent/ipvs/index.js';
import { FakeClock } from '../../../agent/lib/clock.js';

const hasIpvs = existsSync('/proc/net/ip_vs');

describe('IPVS absent from the kernel', {
  skip: hasIpvs ? 'this kernel has IPVS (covered by the VM suite)' : false,
}, () => {
  it('start resolves, status says why, modprobe was tried, the rest keeps running', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => lines.push(l) });
    const tried: string[] = [];
    const sub = new IpvsSubsystem(
      { log, clock: new FakeClock(), facts: new Facts() },
      {
        stateFile: join(tmpdir(), `lbt-ipvs-absent-${process.pid}.json`),
        modprobe: async (m) => {
          tried.push(m);
          throw new Error(`modprobe: FATAL: Module ${m} not found`);
        },
      },
    );
    const cfg = parseConfig(`
ipvs:
  services:
    - { name: web, vip: 192.0.2.1, port: 80, backends: [{ address: 10.0.0.2 }] }
`);
    await sub.start(cfg);
    const st = sub.status();
    assert.equal(st.available, false);
    assert.match(st.reason ?? '', /IPVS is not available in this kernel/);
    assert.deepEqual(st.services, []);
    assert.deepEqual(tried, ['ip_vs']);
    assert.ok(
      lines.some(
        (l) => /IPVS unavailable; the rest of the agent keeps running/.test(l) && /"level":50/.test(l),
      ),
    );
    await sub.reload(cfg); // still fine, no repeated error line
    assert.equal(lines.filter((l) => /IPVS unavailable/.test(l)).length, 1);
    await sub.stop({ removeState: false });
  });
});
