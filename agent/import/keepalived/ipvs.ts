// virtual_server / virtual_server_group / real_server → ipvs.services. keepalived's defaults are
// written out where lbagent's differ (scheduler wlc, forwarding NAT, no mh-fallback flag, a failed
// server removed unless inhibit_on_failure, persistence 360 s), so `ipvsadm -Sn` reads the same.
import { canonicalAddress, familyOf } from '../../lib/ip.js';
import { type CheckDefaults, type CheckOut, convertChecker } from './checks.js';
import { type Ctx, dur } from './context.js';
import { CHECKERS, REAL_SERVER, VIRTUAL_SERVER } from './keywords.js';
import type { Node } from './tree.js';

export type ServiceOut = Record<string, unknown> & { name: string };

const SCHEDULERS = new Set([
  'rr',
  'wrr',
  'lc',
  'wlc',
  'lblc',
  'lblcr',
  'dh',
  'sh',
  'sed',
  'nq',
  'fo',
  'ovf',
  'twos',
  'mh',
]);

const VS_REASONS: Record<string, string> = {
  sorry_server:
    'lbagent has no sorry server; a low-weight backend, or a BGP withdraw on service down, does the job',
  sorry_server_inhibit: 'lbagent has no sorry server',
  sorry_server_lvs_method: 'lbagent has no sorry server',
  quorum_up:
    'lbagent runs no script on quorum changes; the service fact drives BGP and VRRP tracking, and is logged',
  quorum_down:
    'lbagent runs no script on quorum changes; the service fact drives BGP and VRRP tracking, and is logged',
  ha_suspend: 'lbagent checks backends whether or not the VIP is configured',
  omega: 'lbagent runs no scripts at shutdown',
  smtp_alert: 'lbagent sends no e-mail; alert on lbagent_* metrics',
  snmp_name: 'lbagent has no SNMP; the service name is in metrics and lbctl',
  hashed: 'lbagent has no hashed flag',
  'flag-3': 'lbagent sets no scheduler flag 3',
  'sh-port': 'lbagent sets scheduler flags for mh only (mhPort)',
  'sh-fallback': 'lbagent sets scheduler flags for mh only (mhFallback)',
  warmup: 'lbagent spreads the first checks over one interval by itself',
};

const RS_REASONS: Record<string, string> = {
  notify_up: 'lbagent runs no script per backend; transitions are logged and in metrics',
  notify_down: 'lbagent runs no script per backend; transitions are logged and in metrics',
  smtp_alert: VS_REASONS.smtp_alert,
  snmp_name: VS_REASONS.snmp_name,
  warmup: VS_REASONS.warmup,
};

interface Fwd {
  forwarding: 'nat' | 'dr' | 'tun';
  tunnel?: Record<string, unknown>;
}

/** lb_kind / lvs_method NAT|DR|TUN [type ipip|gue port N|gre] [nocsum|csum|remcsum]. */
function forwarding(ctx: Ctx, n: Node): Fwd | undefined {
  const k = (n.args[0] ?? '').toUpperCase();
  if (k === 'NAT') return { forwarding: 'nat' };
  if (k === 'DR') return { forwarding: 'dr' };
  if (k !== 'TUN') {
    ctx.findings.error(n, n.name, `"${n.args[0] ?? ''}" is not NAT, DR or TUN`);
    return undefined;
  }
  const tunnel: Record<string, unknown> = {};
  for (let i = 1; i < n.args.length; i++) {
    const a = n.args[i];
    if (a === 'type') {
      const t = n.args[++i];
      if (t !== 'ipip' && t !== 'gue' && t !== 'gre')
        ctx.findings.error(n, 'type', `"${t}" is not ipip, gue or gre`);
      else tunnel.type = t;
    } else if (a === 'port') tunnel.port = Number(n.args[++i]);
    else if (a === 'nocsum') tunnel.checksum = 'none';
    else if (a === 'csum' || a === 'remcsum') tunnel.checksum = a;
    else ctx.findings.error(n, a, `unknown ${n.name} TUN option`);
  }
  return { forwarding: 'tun', tunnel: Object.keys(tunnel).length ? tunnel : undefined };
}

/** IP, IP-LAST, A.B.C.D-E.F.G.H ranges and CIDR blocks of a virtual_server_group (bounded). */
function expandRange(spec: string): string[] | string {
  const v4 = (s: string) => s.split('.').reduce((a, o) => a * 256 + Number(o), 0);
  const str = (x: number) => [24, 16, 8, 0].map((s) => Math.floor(x / 2 ** s) % 256).join('.');
  const cidr = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(spec);
  const dash = /^(\d+\.\d+\.\d+\.\d+)-(\d+(?:\.\d+\.\d+\.\d+)?)$/.exec(spec);
  let first: number;
  let last: number;
  if (cidr) {
    const len = Number(cidr[2]);
    first = v4(cidr[1]) - (v4(cidr[1]) % 2 ** (32 - len));
    last = first + 2 ** (32 - len) - 1;
  } else if (dash) {
    first = v4(dash[1]);
    last = dash[2].includes('.') ? v4(dash[2]) : first - (first % 256) + Number(dash[2]);
  } else {
    if (familyOf(spec) === 0) return `"${spec}" is not an address or range`;
    return [spec];
  }
  if (last < first || last - first >= 256) return `range ${spec} is empty or has more than 256 addresses`;
  const out: string[] = [];
  for (let x = first; x <= last; x++) out.push(str(x));
  return out;
}

interface VsKey {
  vip?: string;
  port?: number;
  fwmark?: number;
  family?: 4 | 6;
}

/** The services one virtual_server stands for (several when it names a group). */
function keys(ctx: Ctx, vs: Node, groups: Map<string, Node>): VsKey[] {
  const [a, b] = vs.args;
  if (a === 'fwmark') {
    const m = ctx.int(vs, 1, 1, 0xffffffff);
    return m === undefined ? [] : [{ fwmark: m }];
  }
  if (a === 'group') {
    const g = groups.get(b ?? '');
    if (!g) {
      ctx.findings.error(vs, `group ${b ?? ''}`, 'no virtual_server_group of that name');
      return [];
    }
    const out: VsKey[] = [];
    for (const e of g.block ?? []) {
      if (e.name === 'fwmark') {
        const m = ctx.int(e, 0, 1, 0xffffffff);
        const fam = e.args[1] === 'inet6' ? 6 : e.args[1] === 'inet' ? 4 : undefined;
        if (m !== undefined) out.push({ fwmark: m, family: fam });
        continue;
      }
      const addrs = expandRange(e.name);
      if (typeof addrs === 'string') {
        ctx.findings.error(e, e.name, addrs);
        continue;
      }
      const port = e.args[0] !== undefined ? Number(e.args[0]) : undefined;
      for (const vip of addrs) out.push({ vip, port: port || undefined });
    }
    return out;
  }
  if (!a || familyOf(a) === 0) {
    ctx.findings.error(vs, 'virtual_server', `"${a ?? ''}" is not an address, "fwmark N" or "group NAME"`);
    return [];
  }
  const port = b !== undefined && Number(b) > 0 ? Number(b) : undefined;
  return [{ vip: a, port }];
}

function serviceName(k: VsKey, proto: string, used: Set<string>): string {
  const base =
    k.fwmark !== undefined
      ? `fwmark-${k.fwmark}${k.family === 6 ? '-v6' : ''}`
      : `${proto}-${canonicalAddress(k.vip ?? '').replace(/:/g, '_')}${k.port ? `-${k.port}` : ''}`;
  let n = base.slice(0, 60);
  for (let i = 2; used.has(n); i++) n = `${base.slice(0, 56)}-${i}`;
  used.add(n);
  return n;
}

export function convertVirtualServer(
  ctx: Ctx,
  vs: Node,
  groups: Map<string, Node>,
  used: Set<string>,
): ServiceOut[] {
  const ks = keys(ctx, vs, groups);
  const svc: Record<string, unknown> = {};
  const checkDefaults: CheckDefaults = {};
  let sched = 'wlc';
  let fwd: Fwd | undefined;
  let proto = 'tcp';
  let inhibit = false;
  let quorum = 1;
  let hysteresis = 0;
  let vsWeight = 1;
  let family: 4 | 6 | undefined;
  const flags = { mhPort: false, mhFallback: false };
  const realServers: Node[] = [];
  const where = `virtual_server ${vs.args.join(' ')}`;
  ctx.walk(
    vs.block,
    where,
    VIRTUAL_SERVER,
    {
      lb_algo: (n) => {
        const s = ctx.arg(n);
        if (s && SCHEDULERS.has(s)) sched = s;
        else ctx.findings.error(n, n.name, `"${s}" is not an IPVS scheduler`);
      },
      lvs_sched: (n) => {
        const s = ctx.arg(n);
        if (s && SCHEDULERS.has(s)) sched = s;
        else ctx.findings.error(n, n.name, `"${s}" is not an IPVS scheduler`);
      },
      'mh-port': () => {
        flags.mhPort = true;
      },
      'mh-fallback': () => {
        flags.mhFallback = true;
      },
      'flag-1': () => {
        flags.mhFallback = true;
      },
      'flag-2': () => {
        flags.mhPort = true;
      },
      ops: () => {
        svc.onePacket = true;
      },
      lb_kind: (n) => {
        fwd = forwarding(ctx, n) ?? fwd;
      },
      lvs_method: (n) => {
        fwd = forwarding(ctx, n) ?? fwd;
      },
      protocol: (n) => {
        const p = (n.args[0] ?? '').toLowerCase();
        if (p === 'tcp' || p === 'udp' || p === 'sctp') proto = p;
        else ctx.findings.error(n, 'protocol', `"${n.args[0] ?? ''}" is not TCP, UDP or SCTP`);
      },
      persistence_timeout: (n) => {
        const s = n.args[0] === undefined ? 360 : ctx.int(n, 0, 1, 2678400);
        if (s !== undefined) svc.persistence = { ...(svc.persistence as object), timeout: dur(s * 1000) };
      },
      persistence_granularity: (n) => {
        const m = ctx.arg(n);
        if (m) svc.persistence = { ...(svc.persistence as object), netmask: /^\d+$/.test(m) ? Number(m) : m };
      },
      persistence_engine: (n) => {
        if (n.args[0] === 'sip') svc.persistence = { ...(svc.persistence as object), engine: 'sip' };
        else
          ctx.findings.unmapped(
            n,
            `persistence_engine ${n.args[0] ?? ''}`,
            'lbagent knows the sip engine only',
          );
      },
      quorum: (n) => {
        quorum = ctx.int(n, 0, 0, 0xffffffff) ?? quorum;
      },
      hysteresis: (n) => {
        hysteresis = ctx.int(n, 0, 0, 0xffffffff) ?? hysteresis;
      },
      ip_family: (n) => {
        if (n.args[0] === 'inet') family = 4;
        else if (n.args[0] === 'inet6') family = 6;
        else ctx.findings.error(n, 'ip_family', 'must be inet or inet6');
      },
      delay_loop: (n) => {
        checkDefaults.delayLoop = ctx.timer(n);
      },
      connect_timeout: (n) => {
        checkDefaults.connectTimeout = ctx.timer(n);
      },
      retry: (n) => {
        checkDefaults.retry = ctx.int(n, 0, 0, 99);
      },
      delay_before_retry: (n) => {
        checkDefaults.delayBeforeRetry = ctx.timer(n);
      },
      alpha: (n) => {
        checkDefaults.alpha = ctx.bool(n);
      },
      virtualhost: (n) => {
        checkDefaults.virtualhost = ctx.arg(n);
      },
      inhibit_on_failure: (n) => {
        inhibit = ctx.bool(n) ?? inhibit;
      },
      weight: (n) => {
        vsWeight = ctx.int(n, 0, 0, 65535) ?? vsWeight;
      },
      real_server: (n) => {
        realServers.push(n);
      },
    },
    VS_REASONS,
  );
  if (!fwd)
    ctx.findings.note(
      vs,
      'lb_kind',
      "none set: NAT, keepalived's default (written out: lbagent's default is DR)",
    );
  const f: Fwd = fwd ?? { forwarding: 'nat' };
  if (flags.mhPort && sched !== 'mh')
    ctx.findings.unmapped(
      vs,
      'mh-port/flag-2',
      `lbagent sets scheduler flags for mh only (scheduler ${sched})`,
    );
  if (flags.mhFallback && sched !== 'mh')
    ctx.findings.unmapped(
      vs,
      'mh-fallback/flag-1',
      `lbagent sets scheduler flags for mh only (scheduler ${sched})`,
    );

  // Backends, with their checks and per-server inhibit_on_failure.
  const backends: Record<string, unknown>[] = [];
  const inhibits: { rs: Node; inhibit: boolean }[] = [];
  for (const rs of realServers) {
    const b = convertRealServer(ctx, rs, { ...checkDefaults }, f, vsWeight, inhibit);
    if (b) {
      backends.push(b.backend);
      inhibits.push({ rs, inhibit: b.inhibit });
    }
  }
  const inhibitCount = inhibits.filter((x) => x.inhibit).length;
  const onDown = inhibitCount * 2 >= inhibits.length && inhibitCount > 0 ? 'weight0' : 'remove';
  for (const x of inhibits)
    if (x.inhibit !== (onDown === 'weight0'))
      ctx.findings.unmapped(
        x.rs,
        `inhibit_on_failure ${x.inhibit ? 'on' : 'off'}`,
        `lbagent applies onDown per service; this service uses onDown: ${onDown}`,
      );

  const base: Record<string, unknown> = {
    protocol: proto,
    scheduler: sched,
    ...svc,
    forwarding: f.forwarding,
    ...(f.tunnel ? { tunnel: f.tunnel } : {}),
    onDown,
  };
  if (sched === 'mh') {
    if (flags.mhPort) base.mhPort = true;
    base.mhFallback = flags.mhFallback;
  }
  if (quorum !== 1 || hysteresis !== 0) {
    const total = backends.reduce((s, b) => s + Number(b.weight ?? 1), 0);
    if (quorum === 0) base.quorum = 0;
    else if (quorum > total) {
      ctx.findings.unmapped(
        vs,
        `quorum ${quorum}`,
        `more than the real servers' weights (${total}): keepalived would never reach quorum; lbagent rejects it`,
      );
    } else {
      base.quorumWeight = quorum;
      if (hysteresis >= quorum) {
        ctx.findings.note(
          vs,
          'hysteresis',
          `${hysteresis} >= quorum: keepalived uses ${quorum - 1}, and so does lbagent`,
        );
        hysteresis = quorum - 1;
      }
      if (hysteresis) base.quorumHysteresis = hysteresis;
    }
  }
  return ks.map((k) => {
    const s: ServiceOut = { name: serviceName(k, proto, used) };
    if (k.fwmark !== undefined) {
      s.fwmark = k.fwmark;
      const fam = k.family ?? family ?? inferFamily(backends);
      if (fam === 6) s.family = 6;
    } else {
      s.vip = k.vip;
      if (k.port) s.port = k.port;
    }
    Object.assign(s, base);
    if (k.fwmark !== undefined) delete s.protocol;
    // Backends without a port take the service's; with a fwmark service there is none to take.
    s.backends = backends.map((b) => ({ ...b }));
    return s;
  });
}

function inferFamily(backends: Record<string, unknown>[]): 4 | 6 {
  return backends.some((b) => familyOf(String(b.address)) === 6) ? 6 : 4;
}

function convertRealServer(
  ctx: Ctx,
  rs: Node,
  checkDefaults: CheckDefaults,
  vsFwd: Fwd,
  vsWeight: number,
  vsInhibit: boolean,
): { backend: Record<string, unknown>; inhibit: boolean } | undefined {
  const address = rs.args[0];
  if (!address || familyOf(address) === 0) {
    ctx.findings.error(rs, 'real_server', `"${address ?? ''}" is not an address`);
    return undefined;
  }
  const port = rs.args[1] !== undefined && Number(rs.args[1]) > 0 ? Number(rs.args[1]) : undefined;
  const b: Record<string, unknown> = { address };
  if (port !== undefined) b.port = port;
  let weight = vsWeight;
  let inhibit = vsInhibit;
  let fwd: Fwd | undefined;
  const checkers: Node[] = [];
  const handlers: Record<string, (n: Node) => void> = {
    weight: (n) => {
      weight = ctx.int(n, 0, 0, 65535) ?? weight;
    },
    lvs_method: (n) => {
      fwd = forwarding(ctx, n) ?? fwd;
    },
    uthreshold: (n) => {
      b.upperThreshold = ctx.int(n, 0, 0, 0xffffffff);
    },
    lthreshold: (n) => {
      b.lowerThreshold = ctx.int(n, 0, 0, 0xffffffff);
    },
    inhibit_on_failure: (n) => {
      inhibit = ctx.bool(n) ?? inhibit;
    },
    delay_loop: (n) => {
      checkDefaults.delayLoop = ctx.timer(n);
    },
    connect_timeout: (n) => {
      checkDefaults.connectTimeout = ctx.timer(n);
    },
    retry: (n) => {
      checkDefaults.retry = ctx.int(n, 0, 0, 99);
    },
    delay_before_retry: (n) => {
      checkDefaults.delayBeforeRetry = ctx.timer(n);
    },
    alpha: (n) => {
      checkDefaults.alpha = ctx.bool(n);
    },
    virtualhost: (n) => {
      checkDefaults.virtualhost = ctx.arg(n);
    },
  };
  for (const c of Object.keys(CHECKERS)) handlers[c] = (n) => checkers.push(n);
  ctx.walk(rs.block, `real_server ${rs.args.join(' ')}`, REAL_SERVER, handlers, RS_REASONS);
  if (weight !== 1) b.weight = weight;
  if (
    fwd &&
    (fwd.forwarding !== vsFwd.forwarding || JSON.stringify(fwd.tunnel) !== JSON.stringify(vsFwd.tunnel))
  ) {
    b.forwarding = fwd.forwarding;
    if (fwd.tunnel) b.tunnel = fwd.tunnel;
  }
  let check: CheckOut | undefined;
  for (const c of checkers) {
    if (check) {
      ctx.findings.unmapped(
        c,
        c.name,
        'lbagent runs one check per backend; only the first convertible checker is kept',
      );
      continue;
    }
    check = convertChecker(ctx, c, checkDefaults, { address, port });
  }
  if (check) b.check = check;
  return { backend: b, inhibit };
}
