// The kernel objects the agent wants (desired), what the kernel has (observed), and the
// operations between them (plan). Pure data; no I/O.
import type { Family } from '../lib/ip.js';
import type { AddressMsg, LinkInfo, NexthopMsg, RouteMsg } from './codec.js';

export interface WantedAddress {
  /** `<interface>|<address>/<len>` */
  key: string;
  family: Family;
  address: string; // canonical
  prefixLen: number;
  interface: string;
  /** Where it comes from, e.g. `vips[0]` or `vrrp:VI_1`, for errors and status. */
  source: string;
}

export interface WantedHop {
  via: string; // canonical
  dev?: string;
  weight: number;
  /** Path in the config, e.g. `routes[1].nexthops[2]`. */
  source: string;
}

export interface WantedRoute {
  /** `<table>|<prefix>/<len>|<metric>` */
  key: string;
  family: Family;
  dst: string;
  dstLen: number;
  table: number;
  /** Effective metric: what the kernel reports (IPv6 defaults to 1024, IPv4 to 0). */
  metric: number;
  /** Nexthops currently wanted (health-failed ones left out); never empty. */
  hops: WantedHop[];
  /** Configured nexthops that are left out because their health fact is down. */
  downHops: string[];
  resilient?: { buckets: number; idleTimerMs: number; unbalancedTimerMs: number };
  source: string;
}

export interface DesiredKernelState {
  protocol: number;
  addresses: WantedAddress[];
  routes: WantedRoute[];
  /** Interfaces that get arp_ignore=1 / arp_announce=2 (DSR VIPs). */
  arpTune: string[];
  /** Routes whose nexthops are all down (not installed), for status. */
  withdrawnRoutes: { key: string; source: string }[];
}

export interface ObservedKernel {
  links: LinkInfo[];
  addresses: AddressMsg[];
  routes: RouteMsg[];
  nexthops: NexthopMsg[];
}

export type KernelOp =
  | { op: 'add-address' | 'del-address'; key: string; msg: AddressMsg; phase: number; source?: string }
  | { op: 'add-nexthop' | 'replace-nexthop'; key: string; msg: NexthopMsg; phase: number; source?: string }
  | { op: 'del-nexthop'; key: string; id: number; phase: number; source?: string }
  | {
      op: 'add-route' | 'replace-route' | 'del-route';
      key: string;
      msg: RouteMsg;
      phase: number;
      source?: string;
    };

/** Per-object view for status: desired vs actual. */
export interface ObjectState {
  kind: 'address' | 'route' | 'nexthop';
  key: string;
  desired: boolean;
  /** ok: as wanted; missing; differs (owned, will be replaced); foreign: the kernel has a
   * matching/conflicting object the agent does not own; stale: owned but no longer wanted;
   * unresolved: cannot be planned (e.g. interface missing). */
  actual: 'ok' | 'missing' | 'differs' | 'foreign' | 'stale' | 'unresolved';
  owned: boolean;
  detail?: string;
  source?: string;
}

export interface KernelProblem {
  object: string;
  message: string;
}

export interface KernelPlan {
  ops: KernelOp[];
  objects: ObjectState[];
  problems: KernelProblem[];
}

/** Phases: creations first (members before groups before routes), deletions after (routes
 * before groups before members), so no step ever references a missing object. */
export const PHASE = {
  nexthopAdd: 0,
  groupAdd: 1,
  routeAndAddressAdd: 2,
  routeAndAddressDel: 3,
  groupDel: 4,
  nexthopDel: 5,
} as const;
