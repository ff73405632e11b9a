// IPVS generic netlink codec (linux/ip_vs.h): every command the agent sends and every reply it
// reads. Pure functions from objects to message bodies (attribute lists) and back; the socket adds
// the nlmsghdr/genlmsghdr with genlMessage().
import { addressBytes, bytesToAddress, type Family } from '../lib/ip.js';
import { AttrWriter, attr, nested, parseAttrs, readString, readUint, u32 } from './netlink.js';
import {
  type DestSpec,
  destKey,
  type Forwarding,
  type IpvsInfo,
  type ObservedDest,
  type ObservedService,
  type Protocol,
  type ServiceId,
  type ServiceSpec,
  type Stats,
  SVC_F_HASHED,
  serviceKey,
  type Timeouts,
  type TunnelType,
} from './types.js';

export const IPVS_GENL_NAME = 'IPVS';
export const IPVS_GENL_VERSION = 1;

export const CMD = {
  NEW_SERVICE: 1,
  SET_SERVICE: 2,
  DEL_SERVICE: 3,
  GET_SERVICE: 4,
  NEW_DEST: 5,
  SET_DEST: 6,
  DEL_DEST: 7,
  GET_DEST: 8,
  NEW_DAEMON: 9,
  DEL_DAEMON: 10,
  GET_DAEMON: 11,
  SET_CONFIG: 12,
  GET_CONFIG: 13,
  SET_INFO: 14,
  GET_INFO: 15,
  ZERO: 16,
  FLUSH: 17,
} as const;

const CMD_ATTR = {
  SERVICE: 1,
  DEST: 2,
  DAEMON: 3,
  TIMEOUT_TCP: 4,
  TIMEOUT_TCP_FIN: 5,
  TIMEOUT_UDP: 6,
} as const;
const SVC = {
  AF: 1,
  PROTOCOL: 2,
  ADDR: 3,
  PORT: 4,
  FWMARK: 5,
  SCHED_NAME: 6,
  FLAGS: 7,
  TIMEOUT: 8,
  NETMASK: 9,
  STATS: 10,
  PE_NAME: 11,
  STATS64: 12,
} as const;
const DEST = {
  ADDR: 1,
  PORT: 2,
  FWD_METHOD: 3,
  WEIGHT: 4,
  U_THRESH: 5,
  L_THRESH: 6,
  ACTIVE_CONNS: 7,
  INACT_CONNS: 8,
  PERSIST_CONNS: 9,
  STATS: 10,
  ADDR_FAMILY: 11,
  STATS64: 12,
  TUN_TYPE: 13,
  TUN_PORT: 14,
  TUN_FLAGS: 15,
} as const;
const INFO = { VERSION: 1, CONN_TAB_SIZE: 2 } as const;
const STATS_KEYS: (keyof Stats)[] = [
  'conns',
  'inpkts',
  'outpkts',
  'inbytes',
  'outbytes',
  'cps',
  'inpps',
  'outpps',
  'inbps',
  'outbps',
];

const AF_INET = 2;
const AF_INET6 = 10;
const PROTO_NUM: Record<Protocol, number> = { tcp: 6, udp: 17, sctp: 132 };
const FWD_NUM: Record<Forwarding, number> = { nat: 0, local: 1, tun: 2, dr: 3 };
const TUN_NUM: Record<TunnelType, number> = { ipip: 0, gue: 1, gre: 2 };
const SCHED_MAXLEN = 15; // IP_VS_SCHEDNAME_MAXLEN - 1 (NUL)

const afOf = (f: Family): number => (f === 6 ? AF_INET6 : AF_INET);
function familyOfAf(af: number | undefined, what: string): Family {
  if (af === AF_INET) return 4;
  if (af === AF_INET6) return 6;
  throw new Error(`${what}: unknown address family ${af}`);
}
const invert = <K extends string>(m: Record<K, number>): Map<number, K> =>
  new Map(Object.entries(m).map(([k, v]) => [v as number, k as K]));
const PROTO_NAME = invert(PROTO_NUM);
const FWD_NAME = invert(FWD_NUM);
const TUN_NAME = invert(TUN_NUM);

/** union nf_inet_addr: the kernel copies up to 16 bytes; we always send all 16. */
function inetAddr(w: AttrWriter, type: number, address: string): void {
  const at = w.reserve(type, 16);
  // Hot path (60,000 writes in a cold apply): a dotted quad parsed straight into the attribute.
  if (!writeDottedQuad(w.raw, at, address)) addressBytes(address).copy(w.raw, at);
}

/** Writes a canonical dotted quad's 4 bytes at `at`; false (nothing meaningful written) otherwise. */
function writeDottedQuad(b: Buffer, at: number, a: string): boolean {
  let part = 0;
  let v = 0;
  let digits = 0;
  for (let i = 0; i < a.length; i++) {
    const c = a.charCodeAt(i);
    if (c === 46 /* . */) {
      if (!digits || part === 3) return false;
      b[at + part++] = v;
      v = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      v = v * 10 + (c - 48);
      if (v > 255) return false;
      digits++;
    } else return false;
  }
  if (part !== 3 || !digits) return false;
  b[at + 3] = v;
  return true;
}

function readAddr(b: Buffer | undefined, family: Family, what: string): string {
  const n = family === 4 ? 4 : 16;
  if (!b || b.length < n) throw new Error(`${what}: missing or short address`);
  return bytesToAddress(b.subarray(0, n));
}

// One writer for every request: encoding is synchronous, and take() copies the result out.
const w = new AttrWriter();

// Destination writes of one service share its spec object: encode its identifying nest once.
const serviceNestCache = new WeakMap<ServiceId, Buffer>();
function serviceNest(s: ServiceId): Buffer {
  let b = serviceNestCache.get(s);
  if (!b) {
    const n = w.begin(CMD_ATTR.SERVICE);
    serviceIdAttrs(s);
    b = w.end(n).take();
    serviceNestCache.set(s, b);
  }
  return b;
}

/** The attributes that identify a service (for DEL_SERVICE and as the service of dest commands). */
function serviceIdAttrs(s: ServiceId): void {
  w.u16(SVC.AF, afOf(s.family));
  if (s.fwmark) {
    w.u32(SVC.FWMARK, s.fwmark);
  } else {
    if (!s.address || !s.port)
      throw new Error(`service ${s.protocol}:${s.address}:${s.port}: address and port are required`);
    w.u16(SVC.PROTOCOL, PROTO_NUM[s.protocol]);
    inetAddr(w, SVC.ADDR, s.address);
    w.be16(SVC.PORT, s.port);
  }
}

function serviceFullAttrs(s: ServiceSpec): void {
  if (s.scheduler.length < 1 || s.scheduler.length > SCHED_MAXLEN) {
    throw new Error(`scheduler name "${s.scheduler}" must be 1-${SCHED_MAXLEN} characters`);
  }
  serviceIdAttrs(s);
  w.str(SVC.SCHED_NAME, s.scheduler);
  if (s.pe) w.str(SVC.PE_NAME, s.pe);
  // mask ~0: we send the whole flag word.
  w.u32pair(SVC.FLAGS, s.flags, 0xffffffff).u32(SVC.TIMEOUT, s.timeout);
  // IPv4: a mask in network order; IPv6: a prefix length the kernel reads as a host-order u32.
  if (s.family === 4) w.be32(SVC.NETMASK, s.netmask);
  else w.u32(SVC.NETMASK, s.netmask);
}

function destAttrs(d: DestSpec, full: boolean): void {
  inetAddr(w, DEST.ADDR, d.address);
  w.be16(DEST.PORT, d.port);
  if (!full) {
    w.u16(DEST.ADDR_FAMILY, afOf(d.family));
    return;
  }
  w.u32(DEST.FWD_METHOD, FWD_NUM[d.forwarding])
    .u32(DEST.WEIGHT, d.weight)
    .u32(DEST.U_THRESH, d.upperThreshold)
    .u32(DEST.L_THRESH, d.lowerThreshold)
    .u16(DEST.ADDR_FAMILY, afOf(d.family));
  if (d.forwarding === 'tun') {
    w.u8(DEST.TUN_TYPE, TUN_NUM[d.tunnelType ?? 'ipip']);
    if (d.tunnelPort) w.be16(DEST.TUN_PORT, d.tunnelPort);
    if (d.tunnelFlags) w.u16(DEST.TUN_FLAGS, d.tunnelFlags);
  }
}

/** `fill` writes into the shared writer; the result is one buffer of attributes. */
function body(fill: () => void): Buffer[] {
  try {
    fill();
    return [w.take()];
  } catch (err) {
    w.take(); // drop the partial encoding
    throw err;
  }
}
const serviceBody = (full: ServiceSpec | undefined, id: ServiceId): Buffer[] =>
  body(() => {
    const n = w.begin(CMD_ATTR.SERVICE);
    if (full) serviceFullAttrs(full);
    else serviceIdAttrs(id);
    w.end(n);
  });
const destBody = (s: ServiceId, d: DestSpec, full: boolean): Buffer[] => {
  const svc = serviceNest(s);
  return body(() => {
    w.append(svc);
    const n = w.begin(CMD_ATTR.DEST);
    destAttrs(d, full);
    w.end(n);
  });
};

/** A request body: the genl command plus its attributes. */
export interface IpvsRequest {
  cmd: number;
  attrs: Buffer[];
  dump?: boolean;
  /** What the request is about, for error messages ("service tcp:10.0.0.1:80", ...). */
  what: string;
}

const svcWhat = (s: ServiceId): string => `service ${serviceKey(s)}`;
const destWhat = (s: ServiceId, d: { address: string; port: number; family: Family }): string =>
  `destination ${destKey(d)} of ${svcWhat(s)}`;

export const encode = {
  newService: (s: ServiceSpec): IpvsRequest => ({
    cmd: CMD.NEW_SERVICE,
    attrs: serviceBody(s, s),
    what: svcWhat(s),
  }),
  setService: (s: ServiceSpec): IpvsRequest => ({
    cmd: CMD.SET_SERVICE,
    attrs: serviceBody(s, s),
    what: svcWhat(s),
  }),
  delService: (s: ServiceId): IpvsRequest => ({
    cmd: CMD.DEL_SERVICE,
    attrs: serviceBody(undefined, s),
    what: svcWhat(s),
  }),
  getServices: (): IpvsRequest => ({ cmd: CMD.GET_SERVICE, attrs: [], dump: true, what: 'service dump' }),
  getService: (s: ServiceId): IpvsRequest => ({
    cmd: CMD.GET_SERVICE,
    attrs: serviceBody(undefined, s),
    what: svcWhat(s),
  }),
  newDest: (s: ServiceId, d: DestSpec): IpvsRequest => ({
    cmd: CMD.NEW_DEST,
    attrs: destBody(s, d, true),
    what: destWhat(s, d),
  }),
  setDest: (s: ServiceId, d: DestSpec): IpvsRequest => ({
    cmd: CMD.SET_DEST,
    attrs: destBody(s, d, true),
    what: destWhat(s, d),
  }),
  delDest: (s: ServiceId, d: { address: string; port: number; family: Family }): IpvsRequest => ({
    cmd: CMD.DEL_DEST,
    attrs: destBody(s, d as DestSpec, false),
    what: destWhat(s, d),
  }),
  getDests: (s: ServiceId): IpvsRequest => ({
    cmd: CMD.GET_DEST,
    attrs: [serviceNest(s)],
    dump: true,
    what: `destinations of ${svcWhat(s)}`,
  }),
  getInfo: (): IpvsRequest => ({ cmd: CMD.GET_INFO, attrs: [], what: 'IPVS info' }),
  getConfig: (): IpvsRequest => ({ cmd: CMD.GET_CONFIG, attrs: [], what: 'IPVS timeouts' }),
  setConfig: (t: Timeouts): IpvsRequest => ({
    cmd: CMD.SET_CONFIG,
    attrs: [
      ...(t.tcp !== undefined ? [u32(CMD_ATTR.TIMEOUT_TCP, t.tcp)] : []),
      ...(t.tcpFin !== undefined ? [u32(CMD_ATTR.TIMEOUT_TCP_FIN, t.tcpFin)] : []),
      ...(t.udp !== undefined ? [u32(CMD_ATTR.TIMEOUT_UDP, t.udp)] : []),
    ],
    what: 'IPVS timeouts',
  }),
  flush: (): IpvsRequest => ({ cmd: CMD.FLUSH, attrs: [], what: 'IPVS flush' }),
  zero: (s?: ServiceId): IpvsRequest => ({
    cmd: CMD.ZERO,
    attrs: s ? serviceBody(undefined, s) : [],
    what: s ? svcWhat(s) : 'IPVS counters',
  }),
};

function decodeStats(b: Buffer | undefined): Stats | undefined {
  if (!b) return undefined;
  const a = parseAttrs(b);
  const out = {} as Stats;
  STATS_KEYS.forEach((k, i) => {
    out[k] = readUint(a.get(i + 1)) ?? 0;
  });
  return out;
}

/** Decodes the attributes of one service message (a GET_SERVICE reply or dump entry). */
export function decodeService(body: Buffer): ObservedService {
  const top = parseAttrs(body);
  const inner = top.get(CMD_ATTR.SERVICE);
  if (!inner) throw new Error('service message without IPVS_CMD_ATTR_SERVICE');
  const a = parseAttrs(inner);
  const family = familyOfAf(readUint(a.get(SVC.AF)), 'service');
  const fwmark = readUint(a.get(SVC.FWMARK));
  const flagsBuf = a.get(SVC.FLAGS);
  const netmaskBuf = a.get(SVC.NETMASK);
  const protoNum = readUint(a.get(SVC.PROTOCOL));
  const s: ObservedService = {
    family,
    protocol: (protoNum !== undefined && PROTO_NAME.get(protoNum)) || 'tcp',
    scheduler: readString(a.get(SVC.SCHED_NAME)) ?? '',
    flags: flagsBuf && flagsBuf.length >= 4 ? flagsBuf.readUInt32LE(0) & ~SVC_F_HASHED : 0,
    timeout: readUint(a.get(SVC.TIMEOUT)) ?? 0,
    netmask:
      netmaskBuf && netmaskBuf.length === 4
        ? family === 4
          ? netmaskBuf.readUInt32BE(0)
          : netmaskBuf.readUInt32LE(0)
        : 0,
  };
  if (fwmark) s.fwmark = fwmark;
  else {
    s.address = readAddr(a.get(SVC.ADDR), family, 'service');
    const port = a.get(SVC.PORT);
    s.port = port && port.length >= 2 ? port.readUInt16BE(0) : 0;
  }
  const pe = readString(a.get(SVC.PE_NAME));
  if (pe) s.pe = pe;
  const stats = decodeStats(a.get(SVC.STATS64)) ?? decodeStats(a.get(SVC.STATS));
  if (stats) s.stats = stats;
  return s;
}

/** Decodes one destination dump entry; serviceFamily is used when the kernel omits ADDR_FAMILY (< 4.19). */
export function decodeDest(body: Buffer, serviceFamily: Family): ObservedDest {
  const top = parseAttrs(body);
  const inner = top.get(CMD_ATTR.DEST);
  if (!inner) throw new Error('destination message without IPVS_CMD_ATTR_DEST');
  const a = parseAttrs(inner);
  const afRaw = readUint(a.get(DEST.ADDR_FAMILY));
  const family = afRaw === undefined ? serviceFamily : familyOfAf(afRaw, 'destination');
  const port = a.get(DEST.PORT);
  const fwd = (readUint(a.get(DEST.FWD_METHOD)) ?? 0) & 0x7;
  const d: ObservedDest = {
    family,
    address: readAddr(a.get(DEST.ADDR), family, 'destination'),
    port: port && port.length >= 2 ? port.readUInt16BE(0) : 0,
    forwarding: FWD_NAME.get(fwd) ?? 'nat',
    weight: readUint(a.get(DEST.WEIGHT)) ?? 0,
    upperThreshold: readUint(a.get(DEST.U_THRESH)) ?? 0,
    lowerThreshold: readUint(a.get(DEST.L_THRESH)) ?? 0,
    activeConns: readUint(a.get(DEST.ACTIVE_CONNS)) ?? 0,
    inactConns: readUint(a.get(DEST.INACT_CONNS)) ?? 0,
    persistConns: readUint(a.get(DEST.PERSIST_CONNS)) ?? 0,
  };
  if (d.forwarding === 'tun') {
    const tt = readUint(a.get(DEST.TUN_TYPE));
    d.tunnelType = (tt !== undefined && TUN_NAME.get(tt)) || 'ipip';
    const tp = a.get(DEST.TUN_PORT);
    if (tp && tp.length >= 2 && tp.readUInt16BE(0)) d.tunnelPort = tp.readUInt16BE(0);
    const tf = readUint(a.get(DEST.TUN_FLAGS));
    if (tf) d.tunnelFlags = tf;
  }
  const stats = decodeStats(a.get(DEST.STATS64)) ?? decodeStats(a.get(DEST.STATS));
  if (stats) d.stats = stats;
  return d;
}

export function decodeInfo(body: Buffer): IpvsInfo {
  const a = parseAttrs(body);
  const v = readUint(a.get(INFO.VERSION)) ?? 0;
  return {
    version: `${(v >> 16) & 0xff}.${(v >> 8) & 0xff}.${v & 0xff}`,
    connTableSize: readUint(a.get(INFO.CONN_TAB_SIZE)) ?? 0,
  };
}

export function decodeTimeouts(body: Buffer): Timeouts {
  const a = parseAttrs(body);
  return {
    tcp: readUint(a.get(CMD_ATTR.TIMEOUT_TCP)),
    tcpFin: readUint(a.get(CMD_ATTR.TIMEOUT_TCP_FIN)),
    udp: readUint(a.get(CMD_ATTR.TIMEOUT_UDP)),
  };
}

/** Encoders for reply-shaped messages, used by tests to build golden dumps and by fakes. */
export const encodeReply = {
  service(s: ObservedService): Buffer[] {
    return body(() => {
      const n = w.begin(CMD_ATTR.SERVICE);
      serviceIdAttrs(s);
      w.str(SVC.SCHED_NAME, s.scheduler);
      if (s.pe) w.str(SVC.PE_NAME, s.pe);
      w.u32pair(SVC.FLAGS, s.flags | SVC_F_HASHED, 0xffffffff).u32(SVC.TIMEOUT, s.timeout);
      if (s.family === 4) w.be32(SVC.NETMASK, s.netmask);
      else w.u32(SVC.NETMASK, s.netmask);
      if (s.stats) w.append(nested(SVC.STATS64, statsAttrs(s.stats)));
      w.end(n);
    });
  },
  dest(d: ObservedDest): Buffer[] {
    return body(() => {
      const n = w.begin(CMD_ATTR.DEST);
      destAttrs(d, true);
      w.u32(DEST.ACTIVE_CONNS, d.activeConns)
        .u32(DEST.INACT_CONNS, d.inactConns)
        .u32(DEST.PERSIST_CONNS, d.persistConns);
      if (d.stats) w.append(nested(DEST.STATS64, statsAttrs(d.stats)));
      w.end(n);
    });
  },
};

function statsAttrs(s: Stats): Buffer[] {
  return STATS_KEYS.map((k, i) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(s[k]));
    return attr(i + 1, b);
  });
}
