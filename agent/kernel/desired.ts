// Desired kernel state: a pure function of the config and the facts other subsystems publish.
//   cfg.vips                   always wanted, except a followAnnouncement VIP while the fact
//                              bgp:<prefix> of its most specific covering announcement is down
//   cfg.vrrp.instances[i].vips wanted while fact vrrp:<name> is up (this host is master)
//   cfg.routes[i].nexthops[j]  left out while fact nexthop:<prefix>@<table>/<via> is down
import type { Config } from '../config/schema.js';
import type { FactView } from '../daemon/facts.js';
import { factKey } from '../daemon/facts.js';
import { parsePrefix, prefixContains, prefixKey } from '../lib/ip.js';
import { vmacName } from '../vrrp/vmac.js';
import { canonical, prefixOf } from './addr.js';
import type { DesiredKernelState, WantedAddress, WantedHop, WantedRoute } from './types.js';

export const DEFAULT_ROUTE_PROTOCOL = 199;

export function addressKey(ifname: string, address: string, prefixLen: number): string {
  return `${ifname}|${address}/${prefixLen}`;
}

export function routeKey(table: number, dst: string, dstLen: number, metric: number): string {
  return `${table}|${dst}/${dstLen}|${metric}`;
}

/** IPv6 routes without a metric get 1024 from the kernel; IPv4 ones 0. */
export function effectiveMetric(family: 4 | 6, metric: number | undefined): number {
  return metric ?? (family === 6 ? 1024 : 0);
}

function wantAddress(text: string, ifname: string, source: string): WantedAddress {
  const p = prefixOf(text, { allowHostBits: true });
  // The schema has validated it; a failure here is a programming error worth a clear message.
  if (typeof p === 'string') throw new Error(`${source}: ${p}`);
  return {
    key: addressKey(ifname, p.address, p.length),
    family: p.family,
    address: p.address,
    prefixLen: p.length,
    interface: ifname,
    source,
  };
}

/** The fact is looked up under the canonical address, then as written in the config. */
function nexthopDown(facts: FactView, prefix: string, table: number, via: string, written: string): boolean {
  const f =
    facts.get(factKey.nexthop(prefix, table, via)) ??
    (written !== via ? facts.get(factKey.nexthop(prefix, table, written)) : undefined);
  return f?.up === false; // absent fact = no check = up
}

/** The most specific `bgp.announcements` prefix that covers a VIP (its fact key's prefix). */
export function coveringAnnouncement(cfg: Config, vip: string): string | undefined {
  const address = vip.split('/')[0];
  let best: { key: string; length: number } | undefined;
  for (const a of cfg.bgp.announcements) {
    const p = parsePrefix(a.prefix);
    if (typeof p === 'string' || !prefixContains(p, address)) continue;
    if (!best || p.length > best.length) best = { key: prefixKey(p), length: p.length };
  }
  return best?.key;
}

/** The VIPs a VRRP instance wants while master. useVmac: on the instance's macvlan (keepalived's
 * use_vmac). */
export function vrrpAddresses(inst: Config['vrrp']['instances'][number]): WantedAddress[] {
  const ifname = inst.vipInterface ?? (inst.useVmac ? vmacName(inst.vrid) : inst.interface);
  return inst.vips.map((text) => wantAddress(text, ifname, `vrrp:${inst.name}`));
}

export function desiredKernelState(cfg: Config, facts: FactView): DesiredKernelState {
  const addresses = new Map<string, WantedAddress>();
  const arpTune = new Set<string>();
  cfg.vips.forEach((v, i) => {
    if (v.followAnnouncement) {
      // Absent fact (no BGP yet, or the prefix not announced at all) keeps the VIP: hitless.
      const prefix = coveringAnnouncement(cfg, v.address);
      if (prefix !== undefined && facts.get(`bgp:${prefix}`)?.up === false) return;
    }
    const a = wantAddress(v.address, v.interface, `vips[${i}]`);
    if (!addresses.has(a.key)) addresses.set(a.key, a);
    for (const ifname of v.arpTune ?? []) arpTune.add(ifname);
  });
  for (const inst of cfg.vrrp.instances) {
    if (facts.get(factKey.vrrp(inst.name))?.up !== true) continue;
    for (const a of vrrpAddresses(inst)) if (!addresses.has(a.key)) addresses.set(a.key, a);
  }

  const routes: WantedRoute[] = [];
  const withdrawnRoutes: { key: string; source: string }[] = [];
  cfg.routes.forEach((r, i) => {
    const p = prefixOf(r.prefix);
    if (typeof p === 'string') throw new Error(`routes[${i}].prefix: ${p}`);
    const prefix = prefixKey(p);
    const metric = effectiveMetric(p.family, r.metric);
    const key = routeKey(r.table, p.address, p.length, metric);
    const hops: WantedHop[] = [];
    const downHops: string[] = [];
    r.nexthops.forEach((nh, j) => {
      const via = canonical(nh.via);
      if (nexthopDown(facts, prefix, r.table, via, nh.via)) downHops.push(via);
      else hops.push({ via, dev: nh.dev, weight: nh.weight, source: `routes[${i}].nexthops[${j}]` });
    });
    const source = `routes[${i}]`;
    if (hops.length === 0) {
      withdrawnRoutes.push({ key, source });
      return;
    }
    routes.push({
      key,
      family: p.family,
      dst: p.address,
      dstLen: p.length,
      table: r.table,
      metric,
      hops,
      downHops,
      resilient: r.resilient
        ? {
            buckets: r.resilient.buckets,
            idleTimerMs: r.resilient.idleTimer,
            unbalancedTimerMs: r.resilient.unbalancedTimer,
          }
        : undefined,
      source,
    });
  });

  return {
    protocol: cfg.kernel.routeProtocol ?? DEFAULT_ROUTE_PROTOCOL,
    addresses: [...addresses.values()],
    routes,
    arpTune: [...arpTune].sort(),
    withdrawnRoutes,
  };
}
