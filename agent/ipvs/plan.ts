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
      ops.push({ kind: 'newService', key: svc.key, service: svc.spec, reason: 'new' });
      for (let i = svc.dests.length - 1; i >= 0; i--) {
        ops.push({ kind: 'newDest', key: svc.key, service: svc.spec, dest: svc.dests[i], reason: 'new' });
      }
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
  ops.forEach((op, i) => {
    if (!ok(i)) return;
    const cur = services.get(op.key);
    switch (op.kind) {
      case 'newService':
      case 'setService':
        services.set(op.key, { spec: { ...op.service, stats: cur?.spec.stats }, dests: cur?.dests ?? [] });
        break;
      case 'delService':
        services.delete(op.key);
        break;
      case 'newDest':
        if (cur)
          services.set(op.key, {
            ...cur,
            dests: [{ ...op.dest, activeConns: 0, inactConns: 0, persistConns: 0 }, ...cur.dests],
          });
        break;
      case 'setDest':
        if (cur) {
          const k = destKey(op.dest);
          services.set(op.key, {
            ...cur,
            dests: cur.dests.map((d) => (destKey(d) === k ? { ...d, ...op.dest } : d)),
          });
        }
        break;
      case 'delDest':
        if (cur) {
          const k = destKey(op.dest);
          services.set(op.key, { ...cur, dests: cur.dests.filter((d) => destKey(d) !== k) });
        }
        break;
    }
  });
  return { services };
}
