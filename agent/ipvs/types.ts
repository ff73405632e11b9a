// The IPVS objects the agent speaks about, independent of the wire format.
import type { Family } from '../lib/ip.js';

export type Protocol = 'tcp' | 'udp' | 'sctp';
export type Forwarding = 'nat' | 'local' | 'tun' | 'dr';
export type TunnelType = 'ipip' | 'gue' | 'gre';

/** What identifies a virtual service: protocol + address + port, or a firewall mark. */
export interface ServiceId {
  family: Family;
  protocol: Protocol;
  /** Absent for fwmark services. */
  address?: string;
  port?: number;
  fwmark?: number;
}

export interface ServiceSpec extends ServiceId {
  scheduler: string;
  /** IP_VS_SVC_F_* without HASHED (kernel-internal). */
  flags: number;
  /** Persistence timeout in seconds. */
  timeout: number;
  /** IPv4: the persistence netmask as a 32-bit number; IPv6: a prefix length. */
  netmask: number;
  /** Persistence engine name (e.g. "sip"), absent when none. */
  pe?: string;
}

export interface DestSpec {
  /** The destination's own address family (can differ from the service's for tunnels). */
  family: Family;
  address: string;
  port: number;
  forwarding: Forwarding;
  weight: number;
  upperThreshold: number;
  lowerThreshold: number;
  tunnelType?: TunnelType;
  tunnelPort?: number;
  /** IP_VS_TUNNEL_ENCAP_FLAG_*: 1 = csum, 2 = remcsum. */
  tunnelFlags?: number;
}

export interface Stats {
  conns: number;
  inpkts: number;
  outpkts: number;
  inbytes: number;
  outbytes: number;
  cps: number;
  inpps: number;
  outpps: number;
  inbps: number;
  outbps: number;
}

export interface ObservedService extends ServiceSpec {
  stats?: Stats;
}

export interface ObservedDest extends DestSpec {
  activeConns: number;
  inactConns: number;
  persistConns: number;
  stats?: Stats;
}

export interface IpvsInfo {
  version: string;
  connTableSize: number;
}

export interface Timeouts {
  tcp?: number;
  tcpFin?: number;
  udp?: number;
}

export const SVC_F_PERSISTENT = 0x1;
export const SVC_F_HASHED = 0x2;
export const SVC_F_ONEPACKET = 0x4;
export const SVC_F_SCHED1 = 0x8;
export const SVC_F_SCHED2 = 0x10;
export const SVC_F_SCHED3 = 0x20;
/** The flags the agent manages; everything else in a dump is ignored. */
export const SVC_F_MANAGED = SVC_F_PERSISTENT | SVC_F_ONEPACKET | SVC_F_SCHED1 | SVC_F_SCHED2 | SVC_F_SCHED3;

/** Stable text key of a service, e.g. "tcp:192.0.2.1:80", "udp:[2001:db8::1]:53", "fwmark:7/v4". */
export function serviceKey(s: ServiceId): string {
  if (s.fwmark) return `fwmark:${s.fwmark}/v${s.family}`;
  const a = s.family === 6 ? `[${s.address}]` : s.address;
  return `${s.protocol}:${a}:${s.port}`;
}

/** Stable text key of a destination inside its service, e.g. "10.0.0.2:80", "[2001:db8::2]:80". */
export function destKey(d: { address: string; port: number; family: Family }): string {
  return d.family === 6 ? `[${d.address}]:${d.port}` : `${d.address}:${d.port}`;
}
