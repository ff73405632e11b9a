// Rules that span fields: duplicates, references between sections, address families.
import { buildPlan, HealthPlanError } from '../health/plan.js';
import { coveringAnnouncement } from '../kernel/desired.js';
import { familyOf, parsePrefix, prefixKey } from '../lib/ip.js';
import { vmacName } from '../vrrp/vmac.js';
import type { ConfigIssue } from './load.js';
import type { Config } from './schema.js';

export function crossFieldIssues(cfg: Config): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const add = (path: string, message: string) => issues.push({ path, message });
  const checkNames = new Set(Object.keys(cfg.checks));
  const refCheck = (path: string, ref: unknown) => {
    if (typeof ref === 'string' && !checkNames.has(ref)) add(path, `check "${ref}" is not defined in checks`);
  };

  // VIPs: one per address+interface.
  const vipSeen = new Map<string, number>();
  cfg.vips.forEach((v, i) => {
    const p = parsePrefix(v.address, { allowHostBits: true });
    if (typeof p === 'string') return;
    const key = `${p.address}%${v.interface}`;
    const first = vipSeen.get(key);
    if (first !== undefined)
      add(`vips[${i}].address`, `duplicate VIP ${p.address} on ${v.interface} (also vips[${first}])`);
    else vipSeen.set(key, i);
    if (v.followAnnouncement && coveringAnnouncement(cfg, v.address) === undefined)
      add(`vips[${i}].followAnnouncement`, `no bgp.announcements prefix covers ${p.address}`);
  });

  // Routes: one per prefix+table; nexthops in the prefix's family (IPv4 via IPv6 is allowed by
  // the kernel, RFC 5549, but only without resilient groups, which need one family).
  const routeSeen = new Map<string, number>();
  cfg.routes.forEach((r, i) => {
    const p = parsePrefix(r.prefix);
    if (typeof p === 'string') return;
    const key = `${prefixKey(p)}@${r.table}`;
    const first = routeSeen.get(key);
    if (first !== undefined)
      add(
        `routes[${i}].prefix`,
        `duplicate route ${prefixKey(p)} in table ${r.table} (also routes[${first}])`,
      );
    else routeSeen.set(key, i);
    const vias = new Set<string>();
    r.nexthops.forEach((nh, j) => {
      const f = familyOf(nh.via);
      if (f !== p.family && (r.resilient || !(p.family === 4 && f === 6))) {
        add(`routes[${i}].nexthops[${j}].via`, `IPv${f} nexthop for an IPv${p.family} prefix`);
      }
      if (vias.has(`${nh.via}%${nh.dev ?? ''}`))
        add(`routes[${i}].nexthops[${j}].via`, `duplicate nexthop ${nh.via}`);
      vias.add(`${nh.via}%${nh.dev ?? ''}`);
      refCheck(`routes[${i}].nexthops[${j}].check`, nh.check);
    });
  });

  // IPVS services: unique names and unique (vip, port, protocol) or (fwmark, family).
  const svcNames = new Map<string, number>();
  const svcKeys = new Map<string, number>();
  cfg.ipvs.services.forEach((s, i) => {
    const at = `ipvs.services[${i}]`;
    if (svcNames.has(s.name))
      add(`${at}.name`, `duplicate service name "${s.name}" (also ipvs.services[${svcNames.get(s.name)}])`);
    else svcNames.set(s.name, i);
    let family: number;
    let key: string;
    if (s.fwmark !== undefined) {
      if (s.vip !== undefined) add(`${at}.vip`, 'a service has either vip+port or fwmark, not both');
      if (s.port !== undefined) add(`${at}.port`, 'a fwmark service has no port');
      family = s.family ?? 4;
      key = `fwmark ${s.fwmark} v${family}`;
    } else {
      if (s.vip === undefined) {
        add(`${at}.vip`, 'is required (or give fwmark)');
        return;
      }
      if (s.port === undefined) add(`${at}.port`, 'is required for a vip service');
      family = familyOf(s.vip);
      if (s.family !== undefined && s.family !== family)
        add(`${at}.family`, `does not match vip (IPv${family})`);
      key = `${s.protocol} ${s.vip} ${s.port}`;
    }
    const first = svcKeys.get(key);
    if (first !== undefined) add(at, `duplicate service ${key} (also ipvs.services[${first}])`);
    else svcKeys.set(key, i);
    if ((s.mhPort || s.mhFallback) && s.scheduler !== 'mh') {
      add(
        `${at}.${s.mhPort ? 'mhPort' : 'mhFallback'}`,
        `only applies to the mh scheduler, not ${s.scheduler}`,
      );
    }
    refCheck(`${at}.check`, s.check);
    const be = new Map<string, number>();
    s.backends.forEach((b, j) => {
      const bat = `${at}.backends[${j}]`;
      const fwd = b.forwarding ?? s.forwarding;
      // IPVS allows an IPv4 real server behind an IPv6 service only with tunnelling (and vice versa).
      if (familyOf(b.address) !== family && fwd !== 'tun') {
        add(
          `${bat}.address`,
          `IPv${familyOf(b.address)} backend in an IPv${family} service (only tun forwarding may mix families)`,
        );
      }
      const k = `${b.address}:${b.port ?? s.port}`;
      if (be.has(k)) add(`${bat}.address`, `duplicate backend ${k} (also backends[${be.get(k)}])`);
      else be.set(k, j);
      if (b.upperThreshold && b.lowerThreshold > b.upperThreshold) {
        add(`${bat}.lowerThreshold`, 'must not exceed upperThreshold');
      }
      if (s.fwmark === undefined && s.port === undefined && b.port === undefined)
        add(`${bat}.port`, 'is required');
      refCheck(`${bat}.check`, b.check);
    });
    if (s.quorum > s.backends.length && s.backends.length > 0) {
      add(`${at}.quorum`, `needs ${s.quorum} healthy backends but the service has ${s.backends.length}`);
    }
    const totalWeight = s.backends.reduce((sum, b) => sum + b.weight, 0);
    if (s.quorumWeight !== undefined && s.backends.length > 0 && s.quorumWeight > totalWeight) {
      add(
        `${at}.quorumWeight`,
        `needs weight ${s.quorumWeight} but the backends' weights sum to ${totalWeight}`,
      );
    }
    if (s.quorumWeight === undefined && s.quorumHysteresis > 0) {
      add(`${at}.quorumHysteresis`, 'needs quorumWeight');
    }
    // Below quorumWeight, so an up service still needs some healthy weight (keepalived clamps the
    // same way: hysteresis >= quorum becomes quorum - 1).
    if (s.quorumWeight !== undefined && s.quorumHysteresis >= s.quorumWeight) {
      add(`${at}.quorumHysteresis`, `must be below quorumWeight (${s.quorumWeight})`);
    }
  });

  // VRRP: VRID unique per interface and family; v2 whole seconds; auth only for v2.
  const vrids = new Map<string, number>();
  const vrrpNames = new Map<string, number>();
  const vmacs = new Map<string, number>();
  cfg.vrrp.instances.forEach((v, i) => {
    const at = `vrrp.instances[${i}]`;
    if (vrrpNames.has(v.name)) add(`${at}.name`, `duplicate instance name "${v.name}"`);
    else vrrpNames.set(v.name, i);
    const fams = new Set(v.vips.map((a) => familyOf(a.split('/')[0])));
    if (fams.size > 1) add(`${at}.vips`, 'mixes IPv4 and IPv6 addresses (use one instance per family)');
    const fam = [...fams][0] ?? 4;
    if (fam === 6 && v.version === 2) add(`${at}.version`, 'VRRPv2 is IPv4 only; use version 3 for IPv6');
    const key = `${v.interface} v${fam} vrid ${v.vrid}`;
    if (vrids.has(key))
      add(
        `${at}.vrid`,
        `VRID ${v.vrid} is already used on ${v.interface} by vrrp.instances[${vrids.get(key)}]`,
      );
    else vrids.set(key, i);
    if (v.version === 2 && v.advertInterval % 1000 !== 0)
      add(`${at}.advertInterval`, 'VRRPv2 intervals are whole seconds');
    if (
      v.version === 3 &&
      (v.advertInterval % 10 !== 0 || v.advertInterval < 10 || v.advertInterval > 40950)
    ) {
      add(`${at}.advertInterval`, 'VRRPv3 intervals are centiseconds from 10ms to 40.95s');
    }
    if (v.unicast?.source && familyOf(v.unicast.source) !== fam) {
      add(`${at}.unicast.source`, `IPv${familyOf(v.unicast.source)} source for an IPv${fam} instance`);
    }
    if (v.useVmac) {
      const vmac = vmacName(v.vrid, fam === 6 ? 6 : 4);
      if (fam === 6) add(`${at}.useVmac`, 'virtual MAC (macvlan) is IPv4 only for now');
      else if (vmacs.has(vmac))
        add(
          `${at}.useVmac`,
          `macvlan ${vmac} is already used by vrrp.instances[${vmacs.get(vmac)}] (same VRID)`,
        );
      else vmacs.set(vmac, i);
      if (v.interface === vmac)
        add(`${at}.interface`, `${vmac} is the instance's own macvlan; name its parent`);
    }
    if (v.version === 2 && v.advertInterval > 255_000)
      add(`${at}.advertInterval`, 'VRRPv2 allows at most 255s');
    if (v.auth && v.version === 3) add(`${at}.auth`, 'VRRPv3 has no authentication (RFC 5798)');
    if (v.priority === 255 && v.preemptDelay > 0)
      add(`${at}.preemptDelay`, 'an address owner (priority 255) does not delay');
    v.unicast?.peers.forEach((p, j) => {
      if (familyOf(p) !== fam)
        add(`${at}.unicast.peers[${j}]`, `IPv${familyOf(p)} peer for an IPv${fam} instance`);
    });
    v.track.services.forEach((t, j) => {
      if (!svcNames.has(t.name) && !checkNames.has(t.name)) {
        add(`${at}.track.services[${j}].name`, `"${t.name}" is neither an ipvs service nor a check`);
      }
    });
  });
  cfg.vrrp.syncGroups.forEach((g, i) => {
    g.instances.forEach((n, j) => {
      if (!vrrpNames.has(n)) add(`vrrp.syncGroups[${i}].instances[${j}]`, `no VRRP instance named "${n}"`);
    });
  });

  // BGP: prefixes unique, references exist.
  const annSeen = new Map<string, number>();
  cfg.bgp.announcements.forEach((a, i) => {
    const at = `bgp.announcements[${i}]`;
    const p = parsePrefix(a.prefix);
    if (typeof p !== 'string') {
      const key = `${prefixKey(p)} ${a.pathId ?? 0}`;
      if (annSeen.has(key))
        add(
          `${at}.prefix`,
          `duplicate announcement ${prefixKey(p)} (also bgp.announcements[${annSeen.get(key)}])`,
        );
      else annSeen.set(key, i);
      if (a.nextHop !== 'self' && familyOf(a.nextHop) !== p.family)
        add(`${at}.nextHop`, `IPv${familyOf(a.nextHop)} next hop for an IPv${p.family} prefix`);
    }
    a.services.forEach((s, j) => {
      if (!svcNames.has(s)) add(`${at}.services[${j}]`, `no ipvs service named "${s}"`);
    });
    a.checks.forEach((c, j) => {
      refCheck(`${at}.checks[${j}]`, c);
    });
  });

  cfg.host.checks.forEach((h, i) => {
    if (h.type === 'check') refCheck(`host.checks[${i}].name`, h.name);
  });

  // Health checks: what the health planner cannot build (a check without a target, a user that
  // does not exist, ...) is a config error too, so the daemon never accepts a config it cannot run.
  const walkChecks = (path: string, c: unknown) => {
    const t = c as { interval?: number; timeout?: number } | undefined;
    if (
      t &&
      typeof t === 'object' &&
      t.timeout !== undefined &&
      t.interval !== undefined &&
      t.timeout > t.interval
    ) {
      add(`${path}.timeout`, `must not exceed interval (${t.interval}ms)`);
    }
  };
  for (const [n, c] of Object.entries(cfg.checks)) walkChecks(`checks.${n}`, c);
  cfg.ipvs.services.forEach((s, i) => {
    walkChecks(`ipvs.services[${i}].check`, s.check);
    s.backends.forEach((b, j) => {
      walkChecks(`ipvs.services[${i}].backends[${j}].check`, b.check);
    });
  });
  cfg.routes.forEach((r, i) => {
    r.nexthops.forEach((nh, j) => {
      walkChecks(`routes[${i}].nexthops[${j}].check`, nh.check);
    });
  });
  if (issues.length === 0) {
    try {
      buildPlan(cfg);
    } catch (err) {
      if (!(err instanceof HealthPlanError)) throw err;
      issues.push(...err.issues);
    }
  }

  if (
    cfg.metrics.enabled &&
    !/^(\[[0-9a-fA-F:.]+\]|[0-9.]+|[A-Za-z0-9.-]+):\d{1,5}$/.test(cfg.metrics.listen)
  ) {
    add('metrics.listen', 'must be HOST:PORT, e.g. 127.0.0.1:9475 or [::1]:9475');
  }
  return issues;
}
