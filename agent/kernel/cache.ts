// The observed kernel state kept between reconciles, so that a reload, a fact change or a no-op
// reconcile plans without dumping thousands of objects. Pure (no I/O): a dump resets it, acked
// operations update it, and watch events (foreign changes, deletions) keep it current. Each part
// (addresses, routes + nexthops) is either valid or needs a dump; whatever the cache cannot follow
// exactly (link changes, which flush routes without events; a deleted address, which can take
// routes with it; a lost listener; a failed write) invalidates it, and the periodic resync dumps
// anyway. Keyed upserts and deletions applied in the kernel's event order converge on the kernel's
// state, also when an event that predates a dump arrives after it.
import type { AddressMsg, LinkInfo, NexthopMsg, RouteMsg } from './codec.js';
import { RTN_UNICAST } from './codec.js';
import { routeKey } from './desired.js';
import type { KernelOp, ObservedKernel } from './types.js';

export interface CacheScope {
  addresses: boolean;
  routes: boolean;
}

/** Key of an observed address (by ifindex: a link change invalidates the cache anyway). */
export function observedAddressKey(a: { ifindex: number; address: string; prefixLen: number }): string {
  return `${a.ifindex}|${a.address}/${a.prefixLen}`;
}

function observedRouteKey(r: RouteMsg): string {
  return routeKey(r.table, r.dst, r.dstLen, r.metric ?? 0);
}

export class ObservedCache {
  private links: LinkInfo[] = [];
  private readonly addresses = new Map<string, AddressMsg>();
  private readonly routes = new Map<string, RouteMsg[]>();
  private readonly nexthops = new Map<number, NexthopMsg>();
  private addressesValid = false;
  private routesValid = false;

  /** True when the parts `scope` needs can be planned from the cache. */
  valid(scope: CacheScope): boolean {
    return (!scope.addresses || this.addressesValid) && (!scope.routes || this.routesValid);
  }

  invalidate(part: 'all' | 'routes' = 'all'): void {
    this.routesValid = false;
    if (part === 'all') this.addressesValid = false;
  }

  /** A dump of `scope` (links are always part of it). */
  reset(observed: ObservedKernel, scope: CacheScope): void {
    this.links = observed.links;
    if (scope.addresses || scope.routes) {
      this.addresses.clear();
      for (const a of observed.addresses) this.addresses.set(observedAddressKey(a), a);
      this.addressesValid = true;
    }
    if (scope.routes) {
      this.routes.clear();
      for (const r of observed.routes) this.addRoute(r);
      this.nexthops.clear();
      for (const n of observed.nexthops) this.nexthops.set(n.id, n);
      this.routesValid = true;
    }
  }

  /** The links of the last dump. */
  linkList(): LinkInfo[] {
    return this.links;
  }

  /** Is this address on this interface (as far as the cache knows)? */
  hasAddress(ifindex: number, address: string, prefixLen: number): boolean {
    return this.addresses.has(observedAddressKey({ ifindex, address, prefixLen }));
  }

  view(): ObservedKernel {
    const routes: RouteMsg[] = [];
    for (const list of this.routes.values()) for (const r of list) routes.push(r);
    return {
      links: this.links,
      addresses: [...this.addresses.values()],
      routes,
      nexthops: [...this.nexthops.values()],
    };
  }

  /** Operations the kernel acknowledged (failed ones are left out by the caller). */
  applied(ops: KernelOp[], protocol: number): void {
    for (const op of ops) {
      switch (op.op) {
        case 'add-address':
          this.addresses.set(observedAddressKey(op.msg), op.msg);
          break;
        case 'del-address':
          this.addresses.delete(observedAddressKey(op.msg));
          break;
        case 'add-nexthop':
        case 'replace-nexthop':
          this.nexthops.set(op.msg.id, op.msg);
          break;
        case 'del-nexthop':
          this.nexthops.delete(op.id);
          break;
        // A route op's key is the route's table|dst/len|metric: no second key to build.
        case 'add-route':
        case 'replace-route':
          this.putRoute(op.msg, false, op.key); // ours takes the place of ours; a foreign one stays
          break;
        case 'del-route':
          this.dropRoute(op.msg, protocol, op.key);
          break;
      }
    }
  }

  /** A foreign or surviving NEWADDR (the listener drops the echo of our own). */
  addressAdded(a: AddressMsg): void {
    this.addresses.set(observedAddressKey(a), a);
  }

  addressDeleted(a: AddressMsg): void {
    this.addresses.delete(observedAddressKey(a));
  }

  /** NEWROUTE: with NLM_F_REPLACE the route took the place of what was at its key. */
  routeAdded(r: RouteMsg, replace: boolean): void {
    if (r.type !== RTN_UNICAST) return;
    this.putRoute(r, replace);
  }

  routeDeleted(r: RouteMsg): void {
    this.dropRoute(r, r.protocol);
  }

  nexthopAdded(n: NexthopMsg): void {
    this.nexthops.set(n.id, n);
  }

  nexthopDeleted(id: number): void {
    this.nexthops.delete(id);
  }

  private addRoute(r: RouteMsg): void {
    const key = observedRouteKey(r);
    const list = this.routes.get(key);
    if (list) list.push(r);
    else this.routes.set(key, [r]);
  }

  private putRoute(r: RouteMsg, replace: boolean, key = observedRouteKey(r)): void {
    const have = replace ? undefined : this.routes.get(key);
    const list = have ? have.filter((x) => x.protocol !== r.protocol) : [];
    list.push(r);
    this.routes.set(key, list);
  }

  private dropRoute(r: RouteMsg, protocol: number, key = observedRouteKey(r)): void {
    const list = this.routes.get(key);
    if (!list) return;
    const rest = list.filter((x) => x.protocol !== protocol);
    if (rest.length) this.routes.set(key, rest);
    else this.routes.delete(key);
  }
}
