// Plan: the smallest list of IPVS writes that turns what the kernel has into what is desired,
// touching only services the agent owns, editing services in place, and keeping every owned
// service's destination list in the canonical Maglev order (see maglevOrder in desired.ts).
import { encode, type IpvsRequest } from './codec.js';
import type { DesiredIpvs } from './desired.js';
import {
  type DestSpec,
  destKey,
  type ObservedDest,
  type ObservedService,
  type ServiceId,
  type ServiceSpec,
  SVC_F_MANAGED,
} from './types.js';

export interface ObservedIpvs {
  /** key → service with its destinations in kernel list order (head first). */
  services: Map<string, { spec: ObservedService; dests: ObservedDest[] }>;
}

export type IpvsOp =
  | { kind: 'newService' | 'setService'; key: string; service: ServiceSpec; reason?: string }
  | { kind: 'delService'; key: string; service: ServiceId }
  | { kind: 'newDest' | 'setDest'; key: string; service: ServiceId; dest: DestSpec; reason?: string }
  | { kind: 'delDest'; key: string; service: ServiceId; dest: DestSpec; reason?: string };

export function opRequest(op: IpvsOp): IpvsRequest {
  switch (op.kind) {
    case 'newService':
      return encode.newService(op.service);
    case 'setService':
      return encode.setService(op.service);
    case 'delService':
      return encode.delService(op.service);
    case 'newDest':
      return encode.newDest(op.service, op.dest);
    case 'setDest':
      return encode.setDest(op.service, op.dest);
    case 'delDest':
      return encode.delDest(op.service, op.dest);
  }
}

/**
 * Schedulers whose add_dest callback rebuilds a lookup table over all destinations (ip_vs_mh.c:
 * 4093 slots, ip_vs_sh.c / ip_vs_dh.c: 256 buckets). The kernel accepts the scheduler name "none"
 * (no scheduler) in ip_vs_add_service / ip_vs_edit_service, and binding one later builds its
 * table once (init_service).
 */
export const TABLE_SCHEDULERS: ReadonlySet<string> = new Set(['mh', 'sh', 'dh']);

export function serviceDiffers(want: ServiceSpec, have: ServiceSpec): string | undefined {
  if (want.scheduler !== have.scheduler) return `scheduler ${have.scheduler} → ${want.scheduler}`;
  if ((want.flags & SVC_F_MANAGED) !== (have.flags & SVC_F_MANAGED))
    return `flags ${have.flags} → ${want.flags}`;
  if (want.timeout !== have.timeout) return `timeout ${have.timeout} → ${want.timeout}`;
  if (want.netmask >>> 0 !== have.netmask >>> 0) return `netmask ${have.netmask} → ${want.netmask}`;
  if ((want.pe ?? '') !== (have.pe ?? ''))
    return `persistence engine ${have.pe ?? 'none'} → ${want.pe ?? 'none'}`;
  return undefined;
}

export function destDiffers(want: DestSpec, have: DestSpec): string | undefined {
  if (want.forwarding !== have.forwarding) return `forwarding ${have.forwarding} → ${want.forwarding}`;
  if (want.weight !== have.weight) return `weight ${have.weight} → ${want.weight}`;
  if (want.upperThreshold !== have.upperThreshold || want.lowerThreshold !== have.lowerThreshold)
    return 'thresholds';
  if (want.forwarding === 'tun') {
    if ((want.tunnelType ?? 'ipip') !== (have.tunnelType ?? 'ipip')) return 'tunnel type';
    if ((want.tunnelPort ?? 0) !== (have.tunnelPort ?? 0)) return 'tunnel port';
    if ((want.tunnelFlags ?? 0) !== (have.tunnelFlags ?? 0)) return 'tunnel flags';
  }
  return undefined;
}

/**
 * Destination writes for one service. The kernel only inserts at the head of the list, and weight
 * edits keep positions, so the longest suffix of the wanted order that already appears in the same
 * relative order in the kernel list stays untouched (edited in place); everything before it is
 * deleted (if present) and re-added tail-to-head. Destinations the config no longer wants are deleted.
 */
export function planDests(key: string, service: ServiceId, want: DestSpec[], have: ObservedDest[]): IpvsOp[] {
  const wantKeys = new Set(want.map(destKey));
  const havePos = new Map<string, number>();
  have.forEach((d, i) => {
    havePos.set(destKey(d), i);
  });
  // Longest suffix of `want` that is a subsequence of `have` in order.
  let j = want.length;
  let last = Number.POSITIVE_INFINITY;
  for (let i = want.length - 1; i >= 0; i--) {
    const p = havePos.get(destKey(want[i]));
    if (p === undefined || p >= last) break;
    last = p;
    j = i;
  }
  const ops: IpvsOp[] = [];
  const haveByKey = new Map(have.map((d) => [destKey(d), d]));
  for (let i = j; i < want.length; i++) {
    const h = haveByKey.get(destKey(want[i]))!;
    const why = destDiffers(want[i], h);
    if (why) ops.push({ kind: 'setDest', key, service, dest: want[i], reason: why });
  }
  for (const h of have) {
    if (!wantKeys.has(destKey(h))) ops.push({ kind: 'delDest', key, service, dest: h, reason: 'not wanted' });
  }
  for (let i = 0; i < j; i++) {
    const h = haveByKey.get(destKey(want[i]));
    if (h) ops.push({ kind: 'delDest', key, service, dest: h, reason: 'reorder for Maglev' });
  }
  for (let i = j - 1; i >= 0; i--) {
    const reason = haveByKey.has(destKey(want[i])) ? 'reorder for Maglev' : 'new';
    ops.push({ kind: 'newDest', key, service, dest: want[i], reason });
  }
  return ops;
}

/**
 * The writes that converge `observed` to `desired`. `owned` lists services the agent created
 * (state file); services neither desired nor owned are never touched.
 */
export function planIpvs(desired: DesiredIpvs, observed: ObservedIpvs, owned: ReadonlySet<string>): IpvsOp[] {
  const ops: IpvsOp[] = [];
  const wanted = new Set<string>();
  for (const svc of desired.services) {
    wanted.add(svc.key);
    const have = observed.services.get(svc.key);
    if (!have) {
      // A table-building scheduler rebuilds its whole table on every destination added (ip_vs_mh:
      // 4093 slots each time). A new service has no connections yet, so it is created without a
      // scheduler, filled, then given its scheduler: one table build, from the final list.
      const once = TABLE_SCHEDULERS.has(svc.spec.scheduler) && svc.dests.length >= 2;
      ops.push(
        once
          ? {
              kind: 'newService',
              key: svc.key,
              service: Object.assign({}, svc.spec, { scheduler: 'none' }),
              reason: 'new, no scheduler until its destinations are in',
            }
          : { kind: 'newService', key: svc.key, service: svc.spec, reason: 'new' },
      );
      for (let i = svc.dests.length - 1; i >= 0; i--) {
        ops.push({ kind: 'newDest', key: svc.key, service: svc.spec, dest: svc.dests[i], reason: 'new' });
      }
      if (once)
        ops.push({
          kind: 'setService',
          key: svc.key,
          service: svc.spec,
          reason: `scheduler none → ${svc.spec.scheduler}: one table build`,
        });
      continue;
    }
    const why = serviceDiffers(svc.spec, have.spec);
    if (why) ops.push({ kind: 'setService', key: svc.key, service: svc.spec, reason: why });
    ops.push(...planDests(svc.key, svc.spec, svc.dests, have.dests));
  }
  for (const [key, have] of observed.services) {
    if (!wanted.has(key) && owned.has(key)) ops.push({ kind: 'delService', key, service: have.spec });
  }
  return ops;
}

/**
 * The kernel state after the successful ops, modelled the way ip_vs_ctl.c applies them (a new
 * destination goes to the head of the list; edits keep positions). Saves re-reading the whole
 * table after a write; counters of new objects start at zero and the next resync refreshes them.
 */
export function applyOps(observed: ObservedIpvs, ops: IpvsOp[], ok: (i: number) => boolean): ObservedIpvs {
  const services = new Map(observed.services);
  // Each touched service is copied once, then edited in place (a cold apply is 60,000 ops).
  const copied = new Set<string>();
  const own = (key: string) => {
    const cur = services.get(key);
    if (!cur || copied.has(key)) return cur;
    const c = { spec: cur.spec, dests: [...cur.dests] };
    services.set(key, c);
    copied.add(key);
    return c;
  };
  ops.forEach((op, i) => {
    if (!ok(i)) return;
    switch (op.kind) {
      case 'newService':
      case 'setService': {
        const cur = services.get(op.key);
        services.set(op.key, {
          spec: Object.assign({}, op.service, { stats: cur?.spec.stats }),
          dests: cur ? [...cur.dests] : [],
        });
        copied.add(op.key);
        break;
      }
      case 'delService':
        services.delete(op.key);
        copied.delete(op.key);
        break;
      case 'newDest':
        // Object.assign, not spread: V8's spread with extra keys is ~10× slower (60,000 dests).
        own(op.key)?.dests.unshift(
          Object.assign({}, op.dest, { activeConns: 0, inactConns: 0, persistConns: 0 }),
        );
        break;
      case 'setDest': {
        const cur = own(op.key);
        if (!cur) break;
        const k = destKey(op.dest);
        const at = cur.dests.findIndex((d) => destKey(d) === k);
        if (at >= 0) cur.dests[at] = Object.assign({}, cur.dests[at], op.dest);
        break;
      }
      case 'delDest': {
        const cur = own(op.key);
        if (!cur) break;
        const k = destKey(op.dest);
        const at = cur.dests.findIndex((d) => destKey(d) === k);
        if (at >= 0) cur.dests.splice(at, 1);
        break;
      }
    }
  });
  return { services };
}
