// Plan: a pure diff of desired vs observed kernel state into ordered operations. Only objects
// the agent owns (route/nexthop protocol = ours, address IFA_PROTO = ours, or an address this
// process created on a kernel without IFA_PROTO) are ever replaced or deleted; a foreign object in
// the way is reported as a problem and left alone.
import { prefixContains } from '../lib/ip.js';
import {
  type AddressMsg,
  IFA_F_NODAD,
  NEXTHOP_GRP_TYPE_RES,
  type NexthopMsg,
  type RouteHop,
  type RouteMsg,
  RTN_UNICAST,
} from './codec.js';
import { addressKey, routeKey } from './desired.js';
import {
  type DesiredKernelState,
  type KernelOp,
  type KernelPlan,
  type KernelProblem,
  type ObjectState,
  type ObservedKernel,
  PHASE,
  type WantedAddress,
  type WantedRoute,
} from './types.js';

export interface PlanOptions {
  /** Address keys this process created (ownership when the kernel has no IFA_PROTO). */
  ownedAddressKeys?: ReadonlySet<string>;
  /** Plan only addresses (a VRRP flip): routes and nexthops are neither observed nor touched. */
  addressesOnly?: boolean;
}

/** Nexthop ids live in [2^28, 2^31): FNV-1a of a stable key, so restarts find the same ids. */
export function nexthopId(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return 0x10000000 + (h % 0x70000000);
}

export function memberKey(r: WantedRoute, via: string): string {
  return `nh|${r.table}|${r.dst}/${r.dstLen}|${via}`;
}

export function groupKey(r: WantedRoute): string {
  // Buckets are part of the identity: the kernel cannot change a resilient group's bucket count,
  // so a new count means a new group (route repointed, old group deleted).
  return `grp|${r.table}|${r.dst}/${r.dstLen}|${r.resilient?.buckets ?? 0}`;
}

/** The interface with a connected prefix containing `via` (longest match), for nexthop objects
 * that need a device when the config gives none. */
export function connectedIfindex(observed: ObservedKernel, via: string): number | undefined {
  let best: { len: number; ifindex: number } | undefined;
  const max = via.includes(':') ? 128 : 32;
  for (const a of observed.addresses) {
    if (a.prefixLen >= max || (a.family === 6) !== via.includes(':')) continue;
    if (prefixContains({ address: a.address, length: a.prefixLen }, via) && (!best || a.prefixLen > best.len))
      best = { len: a.prefixLen, ifindex: a.ifindex };
  }
  return best?.ifindex;
}

function hopsEqual(want: RouteHop[], have: RouteHop[]): boolean {
  if (want.length !== have.length) return false;
  const w = [...want].sort((x, y) => (x.via < y.via ? -1 : x.via > y.via ? 1 : 0));
  const h = [...have].sort((x, y) => (x.via < y.via ? -1 : x.via > y.via ? 1 : 0));
  return w.every((x, i) => {
    const y = h[i];
    if (x.via !== y.via) return false;
    if (x.ifindex && x.ifindex !== y.ifindex) return false;
    // A single-path route does not report a weight.
    return want.length === 1 || x.weight === y.weight;
  });
}

function describeHops(hops: RouteHop[], names: Map<number, string>): string {
  return hops
    .map(
      (h) =>
        `${h.via}${h.ifindex ? ` dev ${names.get(h.ifindex) ?? h.ifindex}` : ''}${hops.length > 1 ? ` w${h.weight}` : ''}`,
    )
    .join(', ');
}

function addAddressOp(w: WantedAddress, ifindex: number, proto: number): KernelOp {
  return {
    op: 'add-address',
    key: w.key,
    phase: PHASE.routeAndAddressAdd,
    source: w.source,
    msg: {
      family: w.family,
      address: w.address,
      prefixLen: w.prefixLen,
      ifindex,
      flags: IFA_F_NODAD * Number(w.family === 6),
      proto,
      scope: 0,
    },
  };
}

/**
 * Only the adds of `wanted` addresses that are not there (by interface, address, prefix), as
 * planKernel would write them: the VRRP takeover fast path, which must not wait for the plan of
 * everything else. Nothing is ever deleted or replaced here; the full plan follows.
 */
export function planAddressAdds(
  wanted: WantedAddress[],
  ifindexOf: (ifname: string) => number | undefined,
  present: (ifindex: number, address: string, prefixLen: number) => boolean,
  proto: number,
): KernelOp[] {
  const ops: KernelOp[] = [];
  for (const w of wanted) {
    const ifindex = ifindexOf(w.interface);
    if (ifindex === undefined || present(ifindex, w.address, w.prefixLen)) continue;
    ops.push(addAddressOp(w, ifindex, proto));
  }
  return ops;
}

export function planKernel(
  desired: DesiredKernelState,
  observed: ObservedKernel,
  opts: PlanOptions = {},
): KernelPlan {
  const proto = desired.protocol;
  const ops: KernelOp[] = [];
  const objects: ObjectState[] = [];
  const problems: KernelProblem[] = [];
  const ifindexOf = new Map(observed.links.map((l) => [l.name, l.index]));
  const nameOf = new Map(observed.links.map((l) => [l.index, l.name]));

  // ---------- addresses ----------
  const haveAddr = new Map<string, AddressMsg>();
  for (const a of observed.addresses) {
    const ifname = nameOf.get(a.ifindex);
    if (ifname) haveAddr.set(addressKey(ifname, a.address, a.prefixLen), a);
  }
  const ownsAddress = (key: string, a: AddressMsg) =>
    a.proto === proto || (a.proto === undefined && !!opts.ownedAddressKeys?.has(key));
  const wantedAddrKeys = new Set<string>();
  for (const w of desired.addresses) {
    wantedAddrKeys.add(w.key);
    const have = haveAddr.get(w.key);
    if (have) {
      const owned = ownsAddress(w.key, have);
      objects.push({
        kind: 'address',
        key: w.key,
        desired: true,
        actual: owned ? 'ok' : 'foreign',
        owned,
        source: w.source,
        detail: owned ? undefined : 'present, not created by lbagent (left alone)',
      });
      continue;
    }
    const ifindex = ifindexOf.get(w.interface);
    if (ifindex === undefined) {
      objects.push({
        kind: 'address',
        key: w.key,
        desired: true,
        actual: 'unresolved',
        owned: false,
        source: w.source,
        detail: `interface ${w.interface} does not exist`,
      });
      problems.push({
        object: `address ${w.address}/${w.prefixLen} (${w.source})`,
        message: `interface "${w.interface}" does not exist`,
      });
      continue;
    }
    objects.push({
      kind: 'address',
      key: w.key,
      desired: true,
      actual: 'missing',
      owned: false,
      source: w.source,
    });
    ops.push(addAddressOp(w, ifindex, proto));
  }
  for (const [key, a] of haveAddr) {
    if (wantedAddrKeys.has(key) || !ownsAddress(key, a)) continue;
    objects.push({ kind: 'address', key, desired: false, actual: 'stale', owned: true });
    ops.push({ op: 'del-address', key, phase: PHASE.routeAndAddressDel, msg: a });
  }

  if (opts.addressesOnly) return { ops: ops.sort((a, b) => a.phase - b.phase), objects, problems };

  // ---------- nexthop objects (resilient groups) ----------
  const haveNh = new Map(observed.nexthops.map((n) => [n.id, n]));
  const wantedNhIds = new Set<number>();
  const groupIdOf = new Map<string, number>(); // route key → group id
  for (const r of desired.routes) {
    if (!r.resilient) continue;
    const members: { id: number; weight: number }[] = [];
    let unresolved = false;
    for (const h of r.hops) {
      const ifindex = h.dev ? ifindexOf.get(h.dev) : connectedIfindex(observed, h.via);
      if (ifindex === undefined) {
        unresolved = true;
        problems.push({
          object: `route ${r.dst}/${r.dstLen} table ${r.table} (${h.source})`,
          message: h.dev
            ? `interface "${h.dev}" does not exist`
            : `no interface has a connected prefix containing ${h.via}; set dev (resilient groups need a device)`,
        });
        continue;
      }
      const key = memberKey(r, h.via);
      const id = nexthopId(key);
      members.push({ id, weight: h.weight });
      wantedNhIds.add(id);
      const want: NexthopMsg = { id, family: r.family, protocol: proto, via: h.via, ifindex };
      planNexthop(key, want, haveNh.get(id), proto, ops, objects, problems, h.source);
    }
    if (unresolved || members.length === 0) {
      objects.push({
        kind: 'route',
        key: r.key,
        desired: true,
        actual: 'unresolved',
        owned: false,
        source: r.source,
      });
      continue;
    }
    const gkey = groupKey(r);
    const gid = nexthopId(gkey);
    wantedNhIds.add(gid);
    groupIdOf.set(r.key, gid);
    const res = r.resilient;
    const want: NexthopMsg = {
      id: gid,
      family: 0,
      protocol: proto,
      group: members,
      groupType: NEXTHOP_GRP_TYPE_RES,
      resilient: { ...res },
    };
    planNexthop(gkey, want, haveNh.get(gid), proto, ops, objects, problems, r.source);
  }
  for (const n of observed.nexthops) {
    if (n.protocol !== proto || wantedNhIds.has(n.id)) continue;
    objects.push({ kind: 'nexthop', key: `id ${n.id}`, desired: false, actual: 'stale', owned: true });
    ops.push({
      op: 'del-nexthop',
      key: `id ${n.id}`,
      id: n.id,
      phase: n.group ? PHASE.groupDel : PHASE.nexthopDel,
    });
  }

  // ---------- routes ----------
  const haveRoutes = new Map<string, RouteMsg[]>();
  for (const r of observed.routes) {
    if (r.type !== RTN_UNICAST) continue;
    const key = routeKey(r.table, r.dst, r.dstLen, r.metric ?? 0);
    const list = haveRoutes.get(key) ?? [];
    list.push(r);
    haveRoutes.set(key, list);
  }
  const wantedRouteKeys = new Set<string>();
  for (const r of desired.routes) {
    wantedRouteKeys.add(r.key);
    if (r.resilient && !groupIdOf.has(r.key)) continue; // unresolved, reported above
    const hops: RouteHop[] = [];
    let unresolved = false;
    if (!r.resilient) {
      for (const h of r.hops) {
        const ifindex = h.dev ? ifindexOf.get(h.dev) : 0;
        if (ifindex === undefined) {
          unresolved = true;
          problems.push({
            object: `route ${r.dst}/${r.dstLen} table ${r.table} (${h.source})`,
            message: `interface "${h.dev}" does not exist`,
          });
        } else hops.push({ via: h.via, ifindex, weight: h.weight });
      }
    }
    if (unresolved) {
      objects.push({
        kind: 'route',
        key: r.key,
        desired: true,
        actual: 'unresolved',
        owned: false,
        source: r.source,
      });
      continue;
    }
    const want: RouteMsg = {
      family: r.family,
      dst: r.dst,
      dstLen: r.dstLen,
      table: r.table,
      protocol: proto,
      type: RTN_UNICAST,
      metric: r.metric,
      hops,
      nhid: groupIdOf.get(r.key),
    };
    const have = haveRoutes.get(r.key) ?? [];
    const foreign = have.find((h) => h.protocol !== proto);
    const mine = have.find((h) => h.protocol === proto);
    if (foreign && !mine) {
      objects.push({
        kind: 'route',
        key: r.key,
        desired: true,
        actual: 'foreign',
        owned: false,
        source: r.source,
        detail: `a route with protocol ${foreign.protocol} is in the way (left alone)`,
      });
      problems.push({
        object: `route ${r.dst}/${r.dstLen} table ${r.table} metric ${r.metric} (${r.source})`,
        message: `the kernel has a route with protocol ${foreign.protocol} (not lbagent's ${proto}) at this prefix and metric; not replacing it`,
      });
      continue;
    }
    if (!mine) {
      objects.push({
        kind: 'route',
        key: r.key,
        desired: true,
        actual: 'missing',
        owned: false,
        source: r.source,
      });
      ops.push({ op: 'add-route', key: r.key, phase: PHASE.routeAndAddressAdd, msg: want, source: r.source });
      continue;
    }
    const same =
      want.nhid !== undefined
        ? mine.nhid === want.nhid
        : mine.nhid === undefined && hopsEqual(hops, mine.hops);
    if (same) {
      objects.push({ kind: 'route', key: r.key, desired: true, actual: 'ok', owned: true, source: r.source });
    } else {
      const now = mine.nhid !== undefined ? `nhid ${mine.nhid}` : describeHops(mine.hops, nameOf);
      objects.push({
        kind: 'route',
        key: r.key,
        desired: true,
        actual: 'differs',
        owned: true,
        source: r.source,
        detail: `kernel has ${now}`,
      });
      ops.push({
        op: 'replace-route',
        key: r.key,
        phase: PHASE.routeAndAddressAdd,
        msg: want,
        source: r.source,
      });
    }
  }
  for (const w of desired.withdrawnRoutes)
    wantedRouteKeys.has(w.key) ||
      objects.push({
        kind: 'route',
        key: w.key,
        desired: false,
        actual: 'missing',
        owned: false,
        source: w.source,
        detail: 'all nexthops down',
      });
  for (const [key, list] of haveRoutes) {
    if (wantedRouteKeys.has(key)) continue;
    for (const r of list) {
      if (r.protocol !== proto) continue;
      objects.push({ kind: 'route', key, desired: false, actual: 'stale', owned: true });
      ops.push({ op: 'del-route', key, phase: PHASE.routeAndAddressDel, msg: r });
    }
  }

  ops.sort((a, b) => a.phase - b.phase);
  return { ops, objects, problems };
}

function planNexthop(
  key: string,
  want: NexthopMsg,
  have: NexthopMsg | undefined,
  proto: number,
  ops: KernelOp[],
  objects: ObjectState[],
  problems: KernelProblem[],
  source: string,
): void {
  const phase = want.group ? PHASE.groupAdd : PHASE.nexthopAdd;
  const label = `${key} (id ${want.id})`;
  if (!have) {
    objects.push({ kind: 'nexthop', key: label, desired: true, actual: 'missing', owned: false, source });
    ops.push({ op: 'add-nexthop', key: label, phase, msg: want, source });
    return;
  }
  if (have.protocol !== proto) {
    objects.push({ kind: 'nexthop', key: label, desired: true, actual: 'foreign', owned: false, source });
    problems.push({
      object: `nexthop id ${want.id} (${source})`,
      message: `id is taken by a nexthop with protocol ${have.protocol}; not replacing it`,
    });
    return;
  }
  if (nexthopEqual(want, have)) {
    objects.push({ kind: 'nexthop', key: label, desired: true, actual: 'ok', owned: true, source });
    return;
  }
  objects.push({ kind: 'nexthop', key: label, desired: true, actual: 'differs', owned: true, source });
  ops.push({ op: 'replace-nexthop', key: label, phase, msg: want, source });
}

function nexthopEqual(a: NexthopMsg, b: NexthopMsg): boolean {
  if (a.group || b.group) {
    if (!a.group || !b.group || a.group.length !== b.group.length) return false;
    const ga = [...a.group].sort((x, y) => x.id - y.id);
    const gb = [...b.group].sort((x, y) => x.id - y.id);
    if (!ga.every((m, i) => m.id === gb[i].id && m.weight === gb[i].weight)) return false;
    if ((a.groupType ?? 0) !== (b.groupType ?? 0)) return false;
    if (a.resilient && b.resilient) {
      return (
        a.resilient.buckets === b.resilient.buckets &&
        a.resilient.idleTimerMs === b.resilient.idleTimerMs &&
        a.resilient.unbalancedTimerMs === b.resilient.unbalancedTimerMs
      );
    }
    return !a.resilient === !b.resilient;
  }
  return a.via === b.via && a.ifindex === b.ifindex && a.family === b.family;
}
