// ProbeSpec (data) → Probe (function doing I/O).
import type { ProbeSpec } from '../plan.js';
import { dnsProbe } from './dns.js';
import { sockaddr } from './epoll.js';
import { execProbe } from './exec.js';
import { diskProbe, fileProbe, loadProbe, memoryProbe } from './host.js';
import { httpProbe } from './http.js';
import { tcpProbe } from './tcp.js';
import type { Probe } from './types.js';

export type { Probe, ProbeOutcome } from './types.js';

export function makeProbe(spec: ProbeSpec): Probe {
  switch (spec.kind) {
    case 'tcp': {
      const probe: Probe = tcpProbe(spec.address, spec.port);
      try {
        probe.connectTo = sockaddr(spec.address, spec.port);
      } catch {
        // not a plain address (e.g. scoped fe80::1%eth0): net.connect handles it
      }
      return probe;
    }
    case 'http':
    case 'https':
      return httpProbe(spec);
    case 'dns':
      return dnsProbe(spec);
    case 'exec':
      return execProbe(spec);
    case 'disk':
      return diskProbe(spec.path, spec.minFreePercent);
    case 'memory':
      return memoryProbe(spec.minAvailablePercent);
    case 'load':
      return loadProbe(spec.maxPerCpu);
    case 'file':
      return fileProbe(spec.path);
  }
}
