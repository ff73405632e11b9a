// Virtual MAC (keepalived `use_vmac`), the pure part: names, the MAC, the IFLA_LINKINFO of a
// private macvlan, and when an existing link may be adopted. The shell is vmac-link.ts.
import { attr, parseAttrs } from '../lib/netlink.js';

export const VMAC_ALIAS = 'lbagent';
const IFLA_INFO_KIND = 1;
const IFLA_INFO_DATA = 2;
const IFLA_MACVLAN_MODE = 1;
const MACVLAN_MODE_PRIVATE = 1;
const NLA_F_NESTED = 0x8000;

/** keepalived's default name: vrrp.<VRID> (IPv6: vrrp6.<VRID>). */
export function vmacName(vrid: number, family: 4 | 6 = 4): string {
  return `${family === 6 ? 'vrrp6' : 'vrrp'}.${vrid}`;
}

/** RFC 5798 7.3: 00-00-5E-00-01-{VRID} (IPv6: 00-00-5E-00-02-{VRID}). */
export function vmacAddress(vrid: number, family: 4 | 6 = 4): Buffer {
  if (!Number.isInteger(vrid) || vrid < 1 || vrid > 255) throw new Error(`VRID ${vrid} is not 1..255`);
  return Buffer.from([0x00, 0x00, 0x5e, 0x00, family === 6 ? 0x02 : 0x01, vrid]);
}

export const macText = (mac: Buffer): string =>
  [...mac].map((b) => b.toString(16).padStart(2, '0')).join(':');

/** IFLA_LINKINFO payload: kind "macvlan", data {IFLA_MACVLAN_MODE = private}. */
export function macvlanLinkInfo(): Buffer {
  const mode = Buffer.alloc(4);
  mode.writeUInt32LE(MACVLAN_MODE_PRIVATE, 0);
  return Buffer.concat([
    attr(IFLA_INFO_KIND, Buffer.from('macvlan\0')),
    attr(IFLA_INFO_DATA | NLA_F_NESTED, attr(IFLA_MACVLAN_MODE, mode)),
  ]);
}

const IFLA_INET6_ADDR_GEN_MODE = 8;
const IN6_ADDR_GEN_MODE_NONE = 1;
export const AF_INET6 = 10;

/** IFLA_AF_SPEC[AF_INET6] payload: addrgenmode none (keepalived's IPv4 vmac has no link-local). */
export function inet6AddrGenModeNone(): Buffer {
  return attr(IFLA_INET6_ADDR_GEN_MODE, Buffer.from([IN6_ADDR_GEN_MODE_NONE]));
}

/** What an IFLA_LINKINFO says: kind and, for a macvlan, its mode. */
export function parseLinkInfo(buf: Buffer | undefined): { kind?: string; macvlanMode?: number } {
  if (!buf) return {};
  const a = parseAttrs(buf);
  const kind = a.get(IFLA_INFO_KIND)?.toString('latin1').replace(/\0+$/, '');
  const data = a.get(IFLA_INFO_DATA);
  const mode = data ? parseAttrs(data).get(IFLA_MACVLAN_MODE) : undefined;
  return { kind, macvlanMode: mode && mode.length >= 4 ? mode.readUInt32LE(0) : undefined };
}

export interface ExistingLink {
  index: number;
  mac: Buffer;
  kind?: string;
  /** IFLA_LINK: the parent's index. */
  parent?: number;
  alias?: string;
}

/** Can an existing link named like our vmac be adopted? undefined = yes, else why not. */
export function adoptProblem(l: ExistingLink, parentIndex: number, mac: Buffer): string | undefined {
  if (l.kind !== 'macvlan') return `it is a ${l.kind ?? 'device of unknown kind'}, not a macvlan`;
  if (l.parent !== parentIndex) return `its parent is ifindex ${l.parent}, not ${parentIndex}`;
  if (!l.mac.equals(mac)) return `its MAC is ${macText(l.mac)}, not ${macText(mac)}`;
  return undefined;
}
