// Desired IPVS state from the config plus backend health facts (pure).
import type { BackendConfig, Config, IpvsServiceConfig } from '../config/schema.js';
import { type FactView, factKey } from '../daemon/facts.js';
import { addressBytes, canonicalAddress, type Family, familyOf } from '../lib/ip.js';
import {
  type DestSpec,
  destKey,
  type ServiceSpec,
  SVC_F_ONEPACKET,
  SVC_F_PERSISTENT,
  SVC_F_SCHED1,
  SVC_F_SCHED2,
  serviceKey,
} from './types.js';

export interface DesiredService {
  /** Config name of the service. */
  name: string;
  key: string;
  spec: ServiceSpec;
  /** Destinations in the kernel list order the agent wants (head first): see maglevOrder. */
  dests: DestSpec[];
}

export interface DesiredIpvs {
  services: DesiredService[];
}

/**
 * Maglev ordering. ip_vs_mh fills its table walking the service's destination list from the head,
 * and the kernel inserts a new destination at the head, so the table depends on the order of the
 * list. The agent keeps every owned service's list sorted by this key, highest first (head), on
 * every director, so the same backend set always gives the same table. Highest-first makes the
 * common growth case (a new backend with the highest address) a single NEW_DEST at the head.
 */
export function compareDests(a: { family: Family; address: string; port: number }, b: typeof a): number {
  if (a.family !== b.family) return a.family - b.family;
  const c =
    a.family === 4
      ? v4Number(a.address) - v4Number(b.address)
      : Buffer.compare(addressBytes(a.address), addressBytes(b.address));
  return c !== 0 ? c : a.port - b.port;
}

function v4Number(a: string): number {
  const q = a.split('.');
  return ((Number(q[0]) * 256 + Number(q[1])) * 256 + Number(q[2])) * 256 + Number(q[3]);
}

/** Sorts destinations into the agent's canonical list order (head first = highest key). */
export function maglevOrder<T extends { family: Family; address: string; port: number }>(dests: T[]): T[] {
  if (dests.length < 2) return [...dests];
  // Sort keys computed once per destination (compareDests would parse addresses per comparison).
  const keyed = dests.map((d) => ({ d, k: sortKey(d) }));
  keyed.sort((a, b) => (a.k < b.k ? 1 : a.k > b.k ? -1 : 0));
  return keyed.map((x) => x.d);
}

/** A string that orders like compareDests: family, address bytes, port (fixed-width hex). */
function sortKey(d: { family: Family; address: string; port: number }): string {
  const addr =
    d.family === 4
      ? v4Number(d.address).toString(16).padStart(8, '0')
      : addressBytes(d.address).toString('hex');
  return `${d.family}${addr}${d.port.toString(16).padStart(4, '0')}`;
}

function netmaskOf(svc: IpvsServiceConfig, family: Family): number {
  const nm = svc.persistence?.netmask;
  if (family === 6) {
    if (typeof nm === 'string')
      throw new Error(`ipvs service ${svc.name}: persistence.netmask must be a prefix length for IPv6`);
    return nm ?? 128;
  }
  if (nm === undefined) return 0xffffffff;
  if (typeof nm === 'string') return addressBytes(nm).readUInt32BE(0);
  if (nm > 32)
    throw new Error(`ipvs service ${svc.name}: persistence.netmask ${nm} is longer than 32 for IPv4`);
  return nm === 0 ? 0 : (0xffffffff << (32 - nm)) >>> 0;
}

export function serviceSpecOf(svc: IpvsServiceConfig): ServiceSpec {
  const where = `ipvs service ${svc.name}`;
  let family: Family;
  if (svc.fwmark !== undefined) {
    if (svc.vip !== undefined || svc.port !== undefined)
      throw new Error(`${where}: give either fwmark or vip+port, not both`);
    family = svc.family ?? 4;
  } else {
    if (svc.vip === undefined || svc.port === undefined)
      throw new Error(`${where}: vip and port are required (or fwmark)`);
    family = familyOf(svc.vip) as Family;
    if (svc.family !== undefined && svc.family !== family)
      throw new Error(`${where}: family ${svc.family} does not match vip ${svc.vip}`);
  }
  let flags = 0;
  if (svc.persistence) flags |= SVC_F_PERSISTENT;
  if (svc.onePacket) flags |= SVC_F_ONEPACKET;
  // Default on for mh: a weight-0 destination stays in the Maglev table and would drop its flows.
  if (svc.scheduler === 'mh' && (svc.mhFallback ?? true)) flags |= SVC_F_SCHED1;
  if (svc.mhPort) flags |= SVC_F_SCHED2;
  const spec: ServiceSpec = {
    family,
    protocol: svc.protocol,
    scheduler: svc.scheduler,
    flags,
    timeout: svc.persistence ? Math.max(1, Math.ceil(svc.persistence.timeout / 1000)) : 0,
    netmask: netmaskOf(svc, family),
  };
  if (svc.fwmark !== undefined) spec.fwmark = svc.fwmark;
  else {
    spec.address = family === 4 ? svc.vip! : canonicalAddress(svc.vip!);
    spec.port = svc.port;
  }
  if (svc.persistence?.engine) spec.pe = svc.persistence.engine;
  return spec;
}

/** The destination port of a backend: its own, else the service's, else 0 (fwmark: same as packet). */
export const backendPort = (svc: IpvsServiceConfig, b: BackendConfig): number => b.port ?? svc.port ?? 0;

const TUN_FLAGS = { none: 0, csum: 1, remcsum: 2 } as const;

/**
 * Desired services and destinations. A backend's health fact (factKey.backend with the effective
 * port) decides: up=false → weight 0 (onDown weight0) or no destination (onDown remove); up with a
 * weight → that weight (dynamic weight, slow-start ramp); no fact → configured weight.
 */
export function desiredIpvs(cfg: Config, facts: FactView): DesiredIpvs {
  const services: DesiredService[] = [];
  const seen = new Map<string, string>();
  for (const svc of cfg.ipvs.services) {
    const spec = serviceSpecOf(svc);
    const key = serviceKey(spec);
    const other = seen.get(key);
    if (other) throw new Error(`ipvs service ${svc.name}: same virtual service ${key} as service ${other}`);
    seen.set(key, svc.name);
    const dests: DestSpec[] = [];
    const seenDest = new Set<string>();
    for (const b of svc.backends) {
      const family = familyOf(b.address) as Family;
      // IPv4 text is canonical once validated (no leading zeros); IPv6 needs RFC 5952 form.
      const address = family === 4 ? b.address : canonicalAddress(b.address);
      const port = backendPort(svc, b);
      const dk = destKey({ family, address, port });
      if (seenDest.has(dk)) throw new Error(`ipvs service ${svc.name}: backend ${dk} listed twice`);
      seenDest.add(dk);
      const forwarding = b.forwarding ?? svc.forwarding;
      if (family !== spec.family && forwarding !== 'tun') {
        throw new Error(
          `ipvs service ${svc.name}: backend ${dk} is IPv${family} in an IPv${spec.family} service (only forwarding tun allows that)`,
        );
      }
      const fact = facts.get(factKey.backend(svc.name, address, port));
      let weight = b.weight;
      if (fact && !fact.up) {
        if (svc.onDown === 'remove') continue;
        weight = 0;
      } else if (fact?.weight !== undefined) {
        weight = Math.max(0, Math.min(65535, Math.round(fact.weight)));
      }
      const d: DestSpec = {
        family,
        address,
        port,
        forwarding,
        weight,
        upperThreshold: b.upperThreshold,
        lowerThreshold: b.lowerThreshold,
      };
      if (forwarding === 'tun') {
        const t = b.tunnel ?? svc.tunnel;
        d.tunnelType = t?.type ?? 'ipip';
        if (t?.port) d.tunnelPort = t.port;
        if (t && TUN_FLAGS[t.checksum]) d.tunnelFlags = TUN_FLAGS[t.checksum];
        if (d.tunnelType === 'gue' && !d.tunnelPort)
          throw new Error(`ipvs service ${svc.name}: backend ${dk}: tunnel type gue needs tunnel.port`);
      }
      dests.push(d);
    }
    services.push({ name: svc.name, key, spec, dests: maglevOrder(dests) });
  }
  return { services };
}
