// Facts: the narrow interface between subsystems. Producers (health checks, drain, VRRP) publish
// small states under stable keys; consumers (kernel, IPVS, BGP, VRRP) recompute their desired
// state from the config plus these facts whenever one changes.
//
// Keys:
//   backend:<service>/<address>:<port>   health of an IPVS backend          { up, weight? }
//   nexthop:<prefix>@<table>/<via>       health of a route's nexthop        { up }
//   check:<name>                          a named check from `checks:`      { up }
//   service:<name>                        IPVS service quorum               { up }
//   host                                  local host checks + ready file    { up }
//   drain                                 maintenance drain                 { up: !drained, reason? }
//   ready                                 maintenance.readyFile present     { up }
//   vrrp:<instance>                       VRRP role                         { up: master }
//   vrrp-vips:<instance>                  kernel: that master's VIPs acked  { up, since }
//                                         in the kernel (a takeover's GARP may follow at once)
import { EventEmitter } from 'node:events';

export interface Fact {
  up: boolean;
  /** Optional effective weight (dynamic weight from a check, slow-start ramp). */
  weight?: number;
  reason?: string;
  since?: number;
}

export const factKey = {
  backend: (service: string, address: string, port: number) => `backend:${service}/${address}:${port}`,
  nexthop: (prefix: string, table: number, via: string) => `nexthop:${prefix}@${table}/${via}`,
  check: (name: string) => `check:${name}`,
  service: (name: string) => `service:${name}`,
  vrrp: (instance: string) => `vrrp:${instance}`,
  vrrpVips: (instance: string) => `vrrp-vips:${instance}`,
  host: 'host',
  drain: 'drain',
  ready: 'ready',
};

export interface FactView {
  get(key: string): Fact | undefined;
}

export class Facts extends EventEmitter implements FactView {
  private facts = new Map<string, Fact>();

  get(key: string): Fact | undefined {
    return this.facts.get(key);
  }

  /** Publishes a fact; emits 'change' (key, fact, previous) only when it really changed. */
  set(key: string, fact: Fact): void {
    const prev = this.facts.get(key);
    if (prev && prev.up === fact.up && prev.weight === fact.weight && prev.reason === fact.reason) return;
    this.facts.set(key, fact);
    this.emit('change', key, fact, prev);
  }

  delete(key: string): void {
    if (this.facts.delete(key)) this.emit('change', key, undefined, undefined);
  }

  entries(prefix = ''): [string, Fact][] {
    return [...this.facts].filter(([k]) => k.startsWith(prefix));
  }
}
