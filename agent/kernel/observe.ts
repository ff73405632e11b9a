// Observe: dump links, addresses, routes and nexthop objects over one rtnetlink socket.
import {
  decodeAddress,
  decodeLink,
  decodeNexthop,
  decodeRoute,
  encodeAddressDump,
  encodeLinkDump,
  encodeNexthopDump,
  encodeRouteDump,
  RTM,
} from './codec.js';
import { NetlinkError, RtnlSocket } from './transport.js';
import type { ObservedKernel } from './types.js';

export interface ObserveScope {
  addresses?: boolean;
  routes?: boolean;
}

function decodeAll<T>(parts: { payload: Buffer }[], decode: (b: Buffer) => T | null, onBad: () => void): T[] {
  const out: T[] = [];
  for (const p of parts) {
    try {
      const v = decode(p.payload);
      if (v) out.push(v);
    } catch {
      onBad(); // malformed message: dropped and counted
    }
  }
  return out;
}

/** Dumps the kernel state. Links are always read (names ↔ indexes); `scope` limits the rest
 * (a VRRP flip only needs addresses). Kernels without nexthop objects report none. */
export async function observeWith(
  sock: RtnlSocket,
  scope: ObserveScope = { addresses: true, routes: true },
): Promise<ObservedKernel> {
  const bad = () => sock.counters.malformed++;
  const links = decodeAll(await sock.dump(RTM.GETLINK, encodeLinkDump(), 'links'), decodeLink, bad);
  const addresses =
    scope.addresses || scope.routes
      ? decodeAll(await sock.dump(RTM.GETADDR, encodeAddressDump(), 'addresses'), decodeAddress, bad)
      : [];
  let routes: ObservedKernel['routes'] = [];
  let nexthops: ObservedKernel['nexthops'] = [];
  if (scope.routes) {
    routes = decodeAll(await sock.dump(RTM.GETROUTE, encodeRouteDump(), 'routes'), decodeRoute, bad);
    try {
      nexthops = decodeAll(
        await sock.dump(RTM.GETNEXTHOP, encodeNexthopDump(), 'nexthops'),
        decodeNexthop,
        bad,
      );
    } catch (err) {
      // Before 5.3 there are no nexthop objects: EOPNOTSUPP/EINVAL means "none".
      if (!(err instanceof NetlinkError)) throw err;
    }
  }
  return { links, addresses, routes, nexthops };
}

/** One-shot observe on a temporary socket (for `lbagent plan`). */
export async function observeKernel(scope?: ObserveScope): Promise<ObservedKernel> {
  const sock = new RtnlSocket();
  try {
    return await observeWith(sock, scope);
  } finally {
    sock.close();
  }
}
