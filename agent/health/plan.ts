// From config to a health plan: which checks run (deduplicated by what they probe), and which
// facts they feed (backends, nexthops, named checks, services, host). Pure; errors name the field.
import { createHash } from 'node:crypto';
import type { CheckConfig, Config, HostCheckConfig } from '../config/schema.js';
import { factKey } from '../daemon/facts.js';
import { canonicalAddress, parsePrefix, prefixKey } from '../lib/ip.js';
import type { DampingParams } from './damping.js';
import type { MachineParams } from './machine.js';
import type { DnsType } from './probes/dns.js';
import { statusMatcher } from './probes/http.js';
import { lookupUser } from './probes/user.js';

export type ProbeSpec =
  | { kind: 'tcp'; address: string; port: number }
  | {
      kind: 'http' | 'https';
      address: string;
      port: number;
      path: string;
      method: 'GET' | 'HEAD';
      host?: string;
      expect: (number | string)[];
      body?: string;
      sni?: string;
      insecure: boolean;
    }
  | { kind: 'dns'; address: string; port: number; query: string; qtype: DnsType; expect?: string[] }
  | {
      kind: 'exec';
      command: string[];
      dynamicWeight: 'none' | 'exit-code' | 'stdout';
      env?: Record<string, string>;
      user?: string;
      targetEnv?: Record<string, string>;
    }
  | { kind: 'disk'; path: string; minFreePercent: number }
  | { kind: 'memory'; minAvailablePercent: number }
  | { kind: 'load'; maxPerCpu: number }
  | { kind: 'file'; path: string };

export interface CheckSpec {
  /** Identity: what is probed and how (not timing), so reloads keep the state of unchanged checks. */
  id: string;
  kind: ProbeSpec['kind'];
  /** Display: "10.0.0.1:80", "/var/lib/x", "./check.sh". */
  target: string;
  interval: number;
  timeout: number;
  fastInterval?: number;
  machine: MachineParams;
  probe: ProbeSpec;
  /** Where the check came from, for messages and status ("ipvs.services[0].backends[1].check"). */
  origins: string[];
}

export interface BackendSubject {
  key: string;
  service: string;
  address: string;
  port: number;
  weight: number;
  slowStart: number;
  checkId?: string;
}

export interface Subject {
  key: string;
  checkId: string;
}

export interface ServiceSubject {
  key: string;
  name: string;
  quorum: number;
  /** keepalived-style weight quorum; backendWeights[i] is the configured weight of backendKeys[i]. */
  quorumWeight?: number;
  quorumHysteresis: number;
  backendKeys: string[];
  backendWeights: number[];
}

export interface HealthPlan {
  checks: Map<string, CheckSpec>;
  backends: BackendSubject[];
  nexthops: Subject[];
  named: Subject[];
  services: ServiceSubject[];
  /** Check ids of the host checks; undefined when there are none (no `host` fact). */
  host?: string[];
}

export interface PlanIssue {
  path: string;
  message: string;
}

export class HealthPlanError extends Error {
  constructor(readonly issues: PlanIssue[]) {
    super(`health: ${issues.length} error(s):\n${issues.map((i) => `  ${i.path}: ${i.message}`).join('\n')}`);
    this.name = 'HealthPlanError';
  }
}

const DEFAULT_PORT: Partial<Record<string, number>> = { https: 443, dns: 53 };

/** Stable JSON (sorted keys) for identities. */
function stable(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stable(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

function identity(probe: ProbeSpec, target: string): string {
  const { kind, ...rest } = probe as ProbeSpec & Record<string, unknown>;
  const params = { ...rest } as Record<string, unknown>;
  delete params.address;
  delete params.port;
  const extra = stable(params);
  if (extra === '{}') return `${kind} ${target}`;
  return `${kind} ${target} #${createHash('sha1').update(extra).digest('hex').slice(0, 8)}`;
}

function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

interface Defaults {
  address?: string;
  port?: number;
  /** Subjects without a port of their own (nexthops, named checks) need an explicit one for tcp/http. */
  portRequired: boolean;
}

export function buildPlan(cfg: Config): HealthPlan {
  const issues: PlanIssue[] = [];
  const checks = new Map<string, CheckSpec>();

  const resolveRef = (ref: string | CheckConfig, at: string): CheckConfig | undefined => {
    if (typeof ref !== 'string') return ref;
    const c = cfg.checks[ref];
    if (!c) issues.push({ path: at, message: `check "${ref}" is not defined in checks` });
    return c;
  };

  const timing = (c: CheckConfig): Omit<CheckSpec, 'id' | 'kind' | 'target' | 'probe' | 'origins'> => {
    const damping: DampingParams | undefined = c.damping ? { ...c.damping } : undefined;
    return {
      interval: c.interval,
      timeout: Math.min(c.timeout, c.interval),
      fastInterval: c.fastInterval,
      machine: { rise: c.rise, fall: c.fall, initial: c.initial, damping },
    };
  };

  /** Adds (or finds) the check instance for `c` against the subject's defaults. */
  const addCheck = (c: CheckConfig, def: Defaults, at: string): string | undefined => {
    let probe: ProbeSpec;
    let target: string;
    if (c.type === 'exec') {
      if (c.user !== undefined) {
        try {
          lookupUser(c.user);
        } catch (err) {
          issues.push({ path: `${at}.user`, message: (err as Error).message });
          return undefined;
        }
      }
      const address = c.address ?? def.address;
      const port = c.port ?? def.port;
      const targetEnv: Record<string, string> = {};
      if (address) targetEnv.LBAGENT_CHECK_ADDRESS = address;
      if (port) targetEnv.LBAGENT_CHECK_PORT = String(port);
      probe = {
        kind: 'exec',
        command: c.command,
        dynamicWeight: c.dynamicWeight,
        env: c.env,
        user: c.user,
        targetEnv: Object.keys(targetEnv).length ? targetEnv : undefined,
      };
      target = `${c.command.join(' ')}${address ? ` @${port ? hostPort(address, port) : address}` : ''}`;
    } else {
      const address = c.address ?? def.address;
      const port = c.port ?? (def.portRequired ? undefined : def.port) ?? DEFAULT_PORT[c.type];
      if (!address) {
        issues.push({ path: at, message: `a ${c.type} check needs an address here (set address)` });
        return undefined;
      }
      if (port === undefined) {
        issues.push({ path: at, message: `a ${c.type} check needs a port here (set port)` });
        return undefined;
      }
      const a = canonicalAddress(address);
      target = hostPort(a, port);
      if (c.type === 'tcp') probe = { kind: 'tcp', address: a, port };
      else if (c.type === 'dns') {
        probe = { kind: 'dns', address: a, port, query: c.query, qtype: c.qtype, expect: c.expect };
      } else {
        if (c.body !== undefined) {
          try {
            new RegExp(c.body);
          } catch (err) {
            issues.push({
              path: `${at}.body`,
              message: `is not a regular expression: ${(err as Error).message}`,
            });
            return undefined;
          }
        }
        try {
          statusMatcher(c.expect);
        } catch (err) {
          issues.push({ path: `${at}.expect`, message: (err as Error).message });
          return undefined;
        }
        if (c.type === 'http' && c.sni !== undefined) {
          issues.push({ path: `${at}.sni`, message: 'only applies to https checks' });
        }
        probe = {
          kind: c.type,
          address: a,
          port,
          path: c.path,
          method: c.method,
          host: c.host,
          expect: c.expect,
          body: c.body,
          sni: c.sni,
          insecure: c.insecure,
        };
      }
    }
    const id = identity(probe, target);
    const have = checks.get(id);
    if (have) have.origins.push(at);
    else checks.set(id, { id, kind: probe.kind, target, probe, origins: [at], ...timing(c) });
    return id;
  };

  // Backends: own check, else the service's default check.
  const backends: BackendSubject[] = [];
  const services: ServiceSubject[] = [];
  cfg.ipvs.services.forEach((s, i) => {
    const keys: string[] = [];
    s.backends.forEach((b, j) => {
      const at = `ipvs.services[${i}].backends[${j}]`;
      const address = canonicalAddress(b.address);
      const port = b.port ?? s.port ?? 0;
      const key = factKey.backend(s.name, address, port);
      keys.push(key);
      const ref = b.check ?? s.check;
      const refAt = b.check !== undefined ? `${at}.check` : `ipvs.services[${i}].check`;
      let checkId: string | undefined;
      if (ref !== undefined) {
        const c = resolveRef(ref, refAt);
        if (c)
          checkId = addCheck(
            c,
            { address, port: port || undefined, portRequired: false },
            refAt === `${at}.check` ? refAt : `${at} (from ${refAt})`,
          );
      }
      backends.push({
        key,
        service: s.name,
        address,
        port,
        weight: b.weight,
        slowStart: s.slowStart,
        checkId,
      });
    });
    services.push({
      key: factKey.service(s.name),
      name: s.name,
      quorum: s.quorum,
      quorumWeight: s.quorumWeight,
      quorumHysteresis: s.quorumHysteresis,
      backendKeys: keys,
      backendWeights: s.backends.map((b) => b.weight),
    });
  });

  const nexthops: Subject[] = [];
  cfg.routes.forEach((r, i) => {
    const p = parsePrefix(r.prefix);
    if (typeof p === 'string') return;
    r.nexthops.forEach((nh, j) => {
      if (nh.check === undefined) return;
      const at = `routes[${i}].nexthops[${j}].check`;
      const c = resolveRef(nh.check, at);
      const via = canonicalAddress(nh.via);
      const checkId = c && addCheck(c, { address: via, portRequired: true }, at);
      if (checkId) nexthops.push({ key: factKey.nexthop(prefixKey(p), r.table, via), checkId });
    });
  });

  // Named checks run on their own (fact check:<name>) when they have a target of their own.
  const mustRun = new Map<string, string>();
  cfg.bgp.announcements.forEach((a, i) => {
    a.checks.forEach((n, j) => {
      mustRun.set(n, mustRun.get(n) ?? `bgp.announcements[${i}].checks[${j}]`);
    });
  });
  cfg.vrrp.instances.forEach((v, i) => {
    v.track.services.forEach((t, j) => {
      if (cfg.checks[t.name])
        mustRun.set(t.name, mustRun.get(t.name) ?? `vrrp.instances[${i}].track.services[${j}]`);
    });
  });
  cfg.host.checks.forEach((h, i) => {
    if (h.type === 'check') mustRun.set(h.name, mustRun.get(h.name) ?? `host.checks[${i}]`);
  });
  const named: Subject[] = [];
  const namedIds = new Map<string, string>();
  for (const [n, c] of Object.entries(cfg.checks)) {
    const runnable = c.type === 'exec' || c.address !== undefined;
    const usedBy = mustRun.get(n);
    if (!runnable) {
      if (usedBy)
        issues.push({ path: `checks.${n}`, message: `needs an address: it runs on its own for ${usedBy}` });
      continue;
    }
    const checkId = addCheck(c, { portRequired: true }, `checks.${n}`);
    if (checkId) {
      named.push({ key: factKey.check(n), checkId });
      namedIds.set(n, checkId);
    }
  }
  for (const [n, at] of mustRun) {
    if (!cfg.checks[n] && at.startsWith('host.'))
      issues.push({ path: `${at}.name`, message: `check "${n}" is not defined in checks` });
  }

  let host: string[] | undefined;
  if (cfg.host.checks.length) {
    host = [];
    cfg.host.checks.forEach((h, i) => {
      const at = `host.checks[${i}]`;
      if (h.type === 'check') {
        const id = namedIds.get(h.name);
        if (id) host!.push(id);
        return;
      }
      host!.push(addHostCheck(h, at, checks));
    });
  }

  if (issues.length) throw new HealthPlanError(issues);
  return { checks, backends, nexthops, named, services, host };
}

function addHostCheck(
  h: Exclude<HostCheckConfig, { type: 'check' }>,
  at: string,
  checks: Map<string, CheckSpec>,
): string {
  let probe: ProbeSpec;
  let target: string;
  switch (h.type) {
    case 'disk':
      probe = { kind: 'disk', path: h.path, minFreePercent: h.minFreePercent };
      target = `${h.path} >= ${h.minFreePercent}% free`;
      break;
    case 'memory':
      probe = { kind: 'memory', minAvailablePercent: h.minAvailablePercent };
      target = `>= ${h.minAvailablePercent}% available`;
      break;
    case 'load':
      probe = { kind: 'load', maxPerCpu: h.maxPerCpu };
      target = `<= ${h.maxPerCpu} per cpu`;
      break;
    case 'file':
      probe = { kind: 'file', path: h.path };
      target = h.path;
      break;
  }
  const id = `${probe.kind} ${target}`;
  const have = checks.get(id);
  if (have) have.origins.push(at);
  else {
    checks.set(id, {
      id,
      kind: probe.kind,
      target,
      probe,
      origins: [at],
      interval: h.interval,
      timeout: Math.min(h.interval, 10_000),
      machine: { rise: h.rise, fall: h.fall, initial: 'down' },
    });
  }
  return id;
}
