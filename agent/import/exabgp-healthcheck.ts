// `lbagent import exabgp-healthcheck -- ARGS...`: ExaBGP 4.2's healthcheck command line (and its
// --config file) → checks, vips, maintenance and bgp.announcements. Options are parsed the way
// its argparse does (long names, unique prefixes, --opt=value, short aliases, repeated --ip),
// defaults are its own (interval 5, fast-interval 1, timeout 5, rise 3, fall 3, metrics
// 100/1000/500, increase 1), and every flag that has no lbagent meaning is reported.
import { formatDuration } from '../config/duration.js';
import { familyOf, parsePrefix } from '../lib/ip.js';
import { Findings } from './report.js';

type Kind = 'flag' | 'value' | 'append' | 'optional';
interface Spec {
  names: string[];
  dest: string;
  kind: Kind;
}

const SPECS: Spec[] = [
  { names: ['--silent', '-s'], dest: 'silent', kind: 'flag' },
  { names: ['--syslog-facility', '-sF'], dest: 'syslog_facility', kind: 'optional' },
  { names: ['--no-syslog'], dest: 'no_syslog', kind: 'flag' },
  { names: ['--no-ack', '-a'], dest: 'no_ack', kind: 'flag' },
  { names: ['--sudo'], dest: 'sudo', kind: 'flag' },
  { names: ['--debug', '-d'], dest: 'debug', kind: 'flag' },
  { names: ['--name', '-n'], dest: 'name', kind: 'value' },
  { names: ['--config', '-F'], dest: 'config', kind: 'value' },
  { names: ['--pid', '-p'], dest: 'pid', kind: 'value' },
  { names: ['--user'], dest: 'user', kind: 'value' },
  { names: ['--group'], dest: 'group', kind: 'value' },
  { names: ['--interval', '-i'], dest: 'interval', kind: 'value' },
  { names: ['--fast-interval', '-f'], dest: 'fast', kind: 'value' },
  { names: ['--timeout', '-t'], dest: 'timeout', kind: 'value' },
  { names: ['--rise'], dest: 'rise', kind: 'value' },
  { names: ['--fall'], dest: 'fall', kind: 'value' },
  { names: ['--disable'], dest: 'disable', kind: 'value' },
  { names: ['--command', '--cmd', '-c'], dest: 'command', kind: 'value' },
  { names: ['--next-hop', '-N'], dest: 'next_hop', kind: 'value' },
  { names: ['--ip'], dest: 'ips', kind: 'append' },
  { names: ['--local-preference'], dest: 'local_preference', kind: 'value' },
  { names: ['--deaggregate-networks'], dest: 'deaggregate_networks', kind: 'flag' },
  { names: ['--no-ip-setup'], dest: 'no_ip_setup', kind: 'flag' },
  { names: ['--dynamic-ip-setup'], dest: 'ip_dynamic', kind: 'flag' },
  { names: ['--label'], dest: 'label', kind: 'value' },
  { names: ['--start-ip'], dest: 'start_ip', kind: 'value' },
  { names: ['--up-metric'], dest: 'up_metric', kind: 'value' },
  { names: ['--down-metric'], dest: 'down_metric', kind: 'value' },
  { names: ['--disabled-metric'], dest: 'disabled_metric', kind: 'value' },
  { names: ['--increase'], dest: 'increase', kind: 'value' },
  { names: ['--community'], dest: 'community', kind: 'value' },
  { names: ['--extended-community'], dest: 'extended_community', kind: 'value' },
  { names: ['--large-community'], dest: 'large_community', kind: 'value' },
  { names: ['--disabled-community'], dest: 'disabled_community', kind: 'value' },
  { names: ['--as-path'], dest: 'as_path', kind: 'value' },
  { names: ['--up-as-path'], dest: 'up_as_path', kind: 'value' },
  { names: ['--down-as-path'], dest: 'down_as_path', kind: 'value' },
  { names: ['--disabled-as-path'], dest: 'disabled_as_path', kind: 'value' },
  { names: ['--withdraw-on-down'], dest: 'withdraw_on_down', kind: 'flag' },
  { names: ['--path-id'], dest: 'path_id', kind: 'value' },
  { names: ['--neighbor'], dest: 'neighbors', kind: 'append' },
  { names: ['--execute'], dest: 'execute', kind: 'append' },
  { names: ['--up-execute'], dest: 'up_execute', kind: 'append' },
  { names: ['--down-execute'], dest: 'down_execute', kind: 'append' },
  { names: ['--disabled-execute'], dest: 'disabled_execute', kind: 'append' },
];

export interface ParsedArgs {
  values: Map<string, { value: string | true; index: number }>;
  lists: Map<string, { value: string; index: number }[]>;
}

/** argparse's reading of the argv: unique long-option prefixes, `--x=v`, short aliases. */
export function parseHealthcheckArgs(argv: string[], findings: Findings, file = 'argv'): ParsedArgs {
  const out: ParsedArgs = { values: new Map(), lists: new Map() };
  const longs = SPECS.flatMap((s) => s.names.filter((n) => n.startsWith('--')).map((n) => [n, s] as const));
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const at = { file, line: i + 1 };
    if (!a.startsWith('-') || a === '-') {
      findings.error(at, a, 'unexpected argument (the healthcheck takes options only)');
      continue;
    }
    let name = a;
    let inline: string | undefined;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) {
      name = a.slice(0, eq);
      inline = a.slice(eq + 1);
    }
    let spec = SPECS.find((s) => s.names.includes(name));
    if (!spec && name.startsWith('--')) {
      const cands = [...new Set(longs.filter(([n]) => n.startsWith(name)).map(([, s]) => s))];
      if (cands.length === 1) spec = cands[0];
      else if (cands.length > 1) {
        findings.error(at, a, `ambiguous option: could be ${cands.map((c) => c.names[0]).join(', ')}`);
        continue;
      }
    }
    if (!spec && !name.startsWith('--') && name.length > 2) {
      // -i5: a short option with its value attached.
      spec = SPECS.find((s) => s.names.includes(name.slice(0, 2)) && s.kind !== 'flag');
      if (spec) inline = name.slice(2);
    }
    if (!spec) {
      findings.error(at, a, 'unknown option (the healthcheck rejects it too)');
      continue;
    }
    let value: string | true = true;
    if (spec.kind !== 'flag') {
      if (inline !== undefined) value = inline;
      else if (
        i + 1 < argv.length &&
        !(argv[i + 1].startsWith('-') && argv[i + 1].length > 1 && !/^-\d/.test(argv[i + 1]))
      )
        value = argv[++i];
      else if (spec.kind !== 'optional') {
        findings.error(at, a, 'needs a value');
        continue;
      }
    }
    if (spec.kind === 'append') {
      const l = out.lists.get(spec.dest) ?? [];
      l.push({ value: String(value), index: i + 1 });
      out.lists.set(spec.dest, l);
    } else out.values.set(spec.dest, { value, index: i + 1 });
  }
  return out;
}

/** The --config file: "key = value" or "key" per line, '#' comments, as extra leading options. */
export function configFileArgs(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .flatMap((l) => `--${l}`.split(/=(.*)/s, 2).map((x) => x.trim()));
}

const PROCESS_NOTES: Record<string, string> = {
  silent: 'lbagent logs to the journal',
  syslog_facility: 'lbagent logs to the journal',
  no_syslog: 'lbagent logs to the journal',
  debug: 'use log.level: debug or lbctl log-level debug',
  pid: 'systemd tracks lbagent',
  user: 'lbagent runs as root under systemd; exec checks take `user:`',
  group: 'lbagent runs as root under systemd',
  sudo: 'lbagent adds addresses itself over netlink',
  no_ack: "lbagent reads ExaBGP's acks (exabgp.api.ack must stay on)",
};

export interface HealthcheckImport {
  config: Record<string, unknown>;
  findings: Findings;
}

/**
 * Converts a healthcheck argv. `readConfig` reads a --config file (the CLI passes a file reader;
 * without one a --config is reported).
 */
export function importHealthcheck(argv: string[], readConfig?: (path: string) => string): HealthcheckImport {
  const findings = new Findings();
  let args = parseHealthcheckArgs(argv, findings);
  const cfgFile = args.values.get('config');
  if (cfgFile && typeof cfgFile.value === 'string') {
    try {
      if (!readConfig) throw new Error('no file reader');
      const extra = configFileArgs(readConfig(cfgFile.value));
      const fromFile = parseHealthcheckArgs(extra, findings, cfgFile.value);
      // Command-line options win over the file, as in the healthcheck.
      args = {
        values: new Map([...fromFile.values, ...args.values]),
        lists: new Map([...fromFile.lists, ...args.lists]),
      };
    } catch (err) {
      findings.error(
        { file: 'argv', line: cfgFile.index },
        '--config',
        `cannot read ${cfgFile.value}: ${(err as Error).message}`,
      );
    }
  }
  const at = (dest: string) => ({
    file: 'argv',
    line: args.values.get(dest)?.index ?? args.lists.get(dest)?.[0]?.index ?? 0,
  });
  const str = (dest: string) => {
    const v = args.values.get(dest)?.value;
    return typeof v === 'string' ? v : undefined;
  };
  const has = (dest: string) => args.values.has(dest);
  const num = (dest: string, def: number, int = true): number => {
    const s = str(dest);
    if (s === undefined) return def;
    const x = Number(s);
    if (!Number.isFinite(x) || (int && !Number.isInteger(x)) || x < 0) {
      findings.error(
        at(dest),
        `--${dest.replace(/_/g, '-')}`,
        `"${s}" is not a ${int ? 'whole ' : ''}number`,
      );
      return def;
    }
    return x;
  };
  const seconds = (s: number) => formatDuration(Math.round(s * 1000));

  for (const [dest, why] of Object.entries(PROCESS_NOTES))
    if (has(dest)) findings.note(at(dest), `--${dest.replace(/_/g, '-')}`, why);
  for (const dest of ['execute', 'up_execute', 'down_execute', 'disabled_execute'])
    for (const e of args.lists.get(dest) ?? [])
      findings.unmapped(
        { file: 'argv', line: e.index },
        `--${dest.replace(/_/g, '-')} ${e.value}`,
        'lbagent runs no command on announcement changes; every transition is a log line and a metric',
      );

  const name = (str('name') ?? 'healthcheck').replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64) || 'healthcheck';
  const interval = num('interval', 5, false);
  const fast = num('fast', 1, false);
  const timeoutS = num('timeout', 5);
  const rise = Math.max(1, num('rise', 3));
  const fall = Math.max(1, num('fall', 3));
  if (interval === 0)
    findings.unmapped(
      at('interval'),
      '--interval 0',
      'lbagent keeps running; it does not exit after the first announcement',
    );

  const config: Record<string, unknown> = {};
  const checks: string[] = [];
  const command = str('command');
  if (command !== undefined) {
    const ivl = interval > 0 ? interval : 5;
    let timeout = timeoutS === 0 ? ivl : timeoutS;
    if (timeoutS === 0)
      findings.note(
        at('timeout'),
        '--timeout 0',
        `no timeout in the healthcheck; lbagent stops the command after the interval (${ivl} s)`,
      );
    if (timeout > ivl) {
      findings.note(
        at('timeout'),
        '--timeout',
        `${timeout} s is longer than the ${ivl} s interval; lbagent uses the interval`,
      );
      timeout = ivl;
    }
    config.checks = {
      [name]: {
        type: 'exec',
        // The healthcheck runs the command through the shell (subprocess shell=True).
        command: ['/bin/sh', '-c', command],
        interval: seconds(ivl),
        fastInterval: seconds(fast > 0 ? fast : ivl),
        timeout: seconds(timeout),
        rise,
        fall,
      },
    };
    checks.push(name);
  }

  const disable = str('disable');
  config.maintenance = disable ? { disableFile: disable } : {};
  if (!disable)
    findings.note(
      { file: 'argv', line: 0 },
      '--disable',
      'none given: lbagent still drains when /etc/lb/disable exists (maintenance.disableFile)',
    );

  // The announced prefixes: --ip in order, networks split into hosts with --deaggregate-networks,
  // rotated by --start-ip.
  let ips: string[] = [];
  for (const e of args.lists.get('ips') ?? []) {
    const p = parsePrefix(e.value);
    if (typeof p === 'string') {
      findings.error({ file: 'argv', line: e.index }, `--ip ${e.value}`, p);
      continue;
    }
    ips.push(e.value.includes('/') ? e.value : `${e.value}/${familyOf(e.value) === 6 ? 128 : 32}`);
  }
  if (!ips.length && !(args.lists.get('ips') ?? []).length)
    findings.unmapped(
      { file: 'argv', line: 0 },
      '--ip',
      'none given: the healthcheck announces the loopback addresses it finds at run time (by --label); list them with --ip',
    );
  if (args.values.has('deaggregate_networks')) ips = ips.flatMap((p) => deaggregate(p, findings));
  const start = num('start_ip', 0);
  if (ips.length && start) ips = [...ips.slice(start % ips.length), ...ips.slice(0, start % ips.length)];

  const label = str('label');
  if (label)
    findings.unmapped(
      at('label'),
      `--label ${label}`,
      'lbagent adds VIPs without a label (it marks them with its protocol id)',
    );
  const setup = !has('no_ip_setup');
  const dynamic = has('ip_dynamic');
  const withdrawOnDown = has('withdraw_on_down');
  if (dynamic && !withdrawOnDown)
    findings.unmapped(
      at('ip_dynamic'),
      '--dynamic-ip-setup',
      'without --withdraw-on-down the healthcheck removes the address but keeps announcing it; lbagent removes a VIP only with its announcement (followAnnouncement)',
    );
  if (setup || dynamic) {
    config.vips = ips.map((p) => ({ address: p, ...(dynamic ? { followAnnouncement: true } : {}) }));
    findings.note(
      { file: 'argv', line: 0 },
      'addresses',
      'the healthcheck removes the addresses it added when it exits; lbagent keeps VIPs across restarts (kernel.removeOnStop removes them on stop)',
    );
  }

  const nextHop = str('next_hop');
  if (nextHop && familyOf(nextHop) === 0)
    findings.error(at('next_hop'), '--next-hop', `"${nextHop}" is not an address`);
  const up = num('up_metric', 100);
  const down = num('down_metric', 1000);
  const disabled = num('disabled_metric', 500);
  const inc = num('increase', 1);
  const lp = str('local_preference');
  const asPath = (dest: string): number[] | undefined => {
    const s = str(dest);
    if (s === undefined) return undefined;
    const path = s.replace(/[[\]]/g, ' ').trim().split(/\s+/).filter(Boolean).map(Number);
    if (path.some((x) => !Number.isInteger(x) || x < 1)) {
      findings.error(at(dest), `--${dest.replace(/_/g, '-')}`, `"${s}" is not a list of AS numbers`);
      return undefined;
    }
    return path;
  };
  const words = (dest: string) => str(dest)?.replace(/[[\]]/g, ' ').trim().split(/\s+/).filter(Boolean);
  const attributes: Record<string, unknown> = {};
  if (lp !== undefined && Number(lp) >= 0) attributes.localPreference = Number(lp);
  if (words('community')?.length) attributes.communities = words('community');
  if (words('extended_community')?.length) attributes.extendedCommunities = words('extended_community');
  if (words('large_community')?.length) attributes.largeCommunities = words('large_community');
  if (asPath('as_path')) attributes.asPath = asPath('as_path');
  const perState = (state: 'up' | 'down' | 'disabled') => {
    const o: Record<string, unknown> = {};
    const p = asPath(`${state}_as_path`);
    if (p) o.asPath = p;
    // The healthcheck sends --disabled-community instead of --community when down or disabled.
    if (state !== 'up' && words('disabled_community')?.length) o.communities = words('disabled_community');
    return Object.keys(o).length ? o : undefined;
  };
  const pathId = str('path_id');
  const neighbors = (args.lists.get('neighbors') ?? []).map((e) => e.value);
  for (const e of args.lists.get('neighbors') ?? [])
    if (familyOf(e.value) === 0)
      findings.error({ file: 'argv', line: e.index }, `--neighbor ${e.value}`, 'not an address');

  const announcements = ips.map((prefix, i) => {
    const a: Record<string, unknown> = { prefix };
    if (nextHop) a.nextHop = nextHop;
    a.checks = checks;
    a.med = { up: up + i * inc, down: down + i * inc, disabled: disabled + i * inc };
    // With --withdraw-on-down every state but up is a withdraw (disabled too).
    if (withdrawOnDown) {
      a.withdrawOnDown = true;
      a.withdrawOnDisabled = true;
    }
    if (Object.keys(attributes).length) a.attributes = attributes;
    for (const s of ['up', 'down', 'disabled'] as const) {
      const o = perState(s);
      if (o) a[s] = o;
    }
    if (pathId !== undefined) a.pathId = Number(pathId);
    if (neighbors.length) a.neighbors = neighbors;
    return a;
  });
  if (announcements.length) config.bgp = { announcements };
  findings.note(
    { file: 'argv', line: 0 },
    'start-up',
    'the healthcheck announces nothing until its first rise/fall completes; lbagent announces the down state (down MED, or nothing with withdrawOnDown) from the start',
  );
  findings.note(
    { file: 'argv', line: 0 },
    'exabgp.conf',
    'replace the healthcheck process with `run /usr/bin/lbagent exabgp-bridge;` (see docs/bgp.md); neighbors stay as they are',
  );
  return { config, findings };
}

function deaggregate(prefix: string, findings: Findings): string[] {
  const [addr, lenS] = prefix.split('/');
  const len = Number(lenS);
  if (familyOf(addr) !== 4) return [prefix];
  if (32 - len > 8) {
    findings.unmapped(
      { file: 'argv', line: 0 },
      `--deaggregate-networks ${prefix}`,
      'more than 256 addresses; announced as one prefix',
    );
    return [prefix];
  }
  const base = addr.split('.').reduce((a, o) => a * 256 + Number(o), 0);
  const first = base - (base % 2 ** (32 - len));
  const out: string[] = [];
  for (let x = first; x < first + 2 ** (32 - len); x++)
    out.push(`${[24, 16, 8, 0].map((s) => Math.floor(x / 2 ** s) % 256).join('.')}/32`);
  return out;
}
