// Parsers for ExaBGP 4.2's text answers to `show neighbor extensive` and
// `show adj-rib out extensive` (reactor/api/command/neighbor.py and rib.py), and the check of
// an announcement against them. Pure. ExaBGP's `done` only says a command was parsed: a route
// of a family no neighbor carries is acked `done` and logged, then never sent. What ExaBGP will
// send is its adj-rib-out per neighbor; whether it reaches a router is the session's state and
// the families negotiated on it.
import { canonicalAddress } from '../lib/ip.js';
import type { RouteIntent } from './policy.js';

export interface ExabgpFamily {
  /** e.g. "ipv4 unicast". */
  family: string;
  /** Configured on the neighbor. */
  local: boolean;
  /** Negotiated with the peer (null while the session is not up). */
  remote: boolean | null;
}

export interface ExabgpNeighbor {
  peer: string;
  /** ExaBGP's FSM state, lower case: established, active, idle, connect, opensent, openconfirm. */
  state: string;
  families: ExabgpFamily[];
}

const enabled = (v: string | undefined): boolean | null =>
  v === 'enabled' ? true : v === 'disabled' ? false : null;

/** `show neighbor extensive`: one block per configured neighbor. */
export function parseNeighborExtensive(lines: string[]): ExabgpNeighbor[] {
  const out: ExabgpNeighbor[] = [];
  let cur: ExabgpNeighbor | undefined;
  let section = '';
  for (const raw of lines) {
    const line = raw.trimEnd();
    const head = /^Neighbor (\S+)$/.exec(line.trim());
    if (head) {
      cur = { peer: head[1], state: 'unknown', families: [] };
      out.push(cur);
      section = '';
      continue;
    }
    if (!cur) continue;
    const sec = /^\s{1,3}(Session|Setup|Capability|Families|Message Statistic)\b/.exec(line);
    if (sec) {
      section = sec[1];
      continue;
    }
    const t = line.trim();
    if (section === 'Session') {
      const m = /^state\s+(\S+)/.exec(t);
      if (m) cur.state = m[1].toLowerCase();
    } else if (section === 'Families') {
      const m = /^(\S+ \S+):\s+(\S+)\s+(\S+)/.exec(t);
      if (m) cur.families.push({ family: m[1], local: enabled(m[2]) === true, remote: enabled(m[3]) });
    }
  }
  return out;
}

export interface RibRoute {
  neighbor: string;
  family: string;
  prefix: string;
  /** Attribute name -> value tokens (a `[ a b ]` list gives several). */
  attrs: Map<string, string[]>;
}

const FAMILY_RE =
  /\b(ipv4|ipv6|l2vpn) (unicast|multicast|nlri-mpls|mpls-vpn|flow|flow-vpn|vpls|evpn) (\S+)(.*)$/;

/** `show adj-rib out extensive`: one line per route per neighbor. */
export function parseAdjRibOut(lines: string[]): RibRoute[] {
  const out: RibRoute[] = [];
  for (const raw of lines) {
    const t = raw.trim();
    const n = /^neighbor (\S+) /.exec(t);
    if (!n) continue;
    const m = FAMILY_RE.exec(t);
    if (!m) continue;
    out.push({ neighbor: n[1], family: `${m[1]} ${m[2]}`, prefix: m[3], attrs: tokenizeAttrs(m[4]) });
  }
  return out;
}

function tokenizeAttrs(text: string): Map<string, string[]> {
  const toks = text.trim().split(/\s+/).filter(Boolean);
  const attrs = new Map<string, string[]>();
  for (let i = 0; i < toks.length; i++) {
    const key = toks[i];
    if (toks[i + 1] === '[') {
      const vals: string[] = [];
      for (i += 2; i < toks.length && toks[i] !== ']'; i++) vals.push(toks[i]);
      attrs.set(key, vals);
    } else if (i + 1 < toks.length) {
      attrs.set(key, [toks[i + 1]]);
      i++;
    } else attrs.set(key, []);
  }
  return attrs;
}

/** The ExaBGP family of an announcement's prefix. */
export function familyOf(prefix: string): string {
  return prefix.includes(':') ? 'ipv6 unicast' : 'ipv4 unicast';
}

/** Canonical prefix text for comparisons (ExaBGP prints IPv6 compressed; so may the config). */
function prefixId(prefix: string): string {
  const [addr, len] = prefix.split('/');
  try {
    return `${canonicalAddress(addr)}/${len}`;
  } catch {
    return prefix.toLowerCase();
  }
}

const WELL_KNOWN: Record<string, string> = {
  'no-export': '65535:65281',
  'no-advertise': '65535:65282',
  'no-export-subconfed': '65535:65283',
  nopeer: '65535:65284',
  blackhole: '65535:666',
};
const community = (c: string) => WELL_KNOWN[c.toLowerCase()] ?? c.toLowerCase();

function sameSet(a: string[], b: string[]): boolean {
  const x = [...a].sort();
  const y = [...b].sort();
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/** path-information is printed as a dotted quad; the config gives a number. */
function pathIdText(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** Differences between what the intent announces and one adj-rib-out route (empty = same). */
export function attributeDiff(r: RouteIntent, route: RibRoute): string[] {
  const a = route.attrs;
  const diff: string[] = [];
  const one = (k: string) => a.get(k)?.[0];
  const num = (k: string, want: number | undefined) => {
    const got = one(k);
    if ((want === undefined) !== (got === undefined) || (got !== undefined && Number(got) !== want))
      diff.push(`${k} ${got ?? 'absent'}, want ${want ?? 'absent'}`);
  };
  num('med', r.med);
  num('local-preference', r.localPreference);
  const nh = one('next-hop');
  const nhWant = r.nextHop === 'self' ? 'self' : prefixId(`${r.nextHop}/0`);
  if (nh !== undefined && (nh === 'self' ? 'self' : prefixId(`${nh}/0`)) !== nhWant)
    diff.push(`next-hop ${nh}, want ${r.nextHop}`);
  const list = (k: string, want: string[], norm: (s: string) => string = (s) => s.toLowerCase()) => {
    const got = a.get(k) ?? [];
    if (!sameSet(got.map(norm), want.map(norm)))
      diff.push(`${k} [${got.join(' ')}], want [${want.join(' ')}]`);
  };
  list('community', r.communities, community);
  list('large-community', r.largeCommunities);
  // Extended communities have several spellings (target:/rt, origin:/soo): count only.
  if ((a.get('extended-community') ?? []).length !== r.extendedCommunities.length)
    diff.push(`extended-community [${(a.get('extended-community') ?? []).join(' ')}]`);
  const asPath = a.get('as-path') ?? [];
  if (asPath.join(' ') !== r.asPath.join(' '))
    diff.push(`as-path [${asPath.join(' ')}], want [${r.asPath.join(' ')}]`);
  return diff;
}

export type Verdict =
  /** ExaBGP's adj-rib-out holds exactly the intent (announce) / nothing (withdraw) on `targets`. */
  | { kind: 'ok'; targets: string[] }
  /** No neighbor ExaBGP has carries the prefix's family (or the selected neighbors do not). */
  | { kind: 'rejected'; detail: string }
  /** ExaBGP's adj-rib-out disagrees with what it acked. */
  | { kind: 'mismatch'; detail: string; targets: string[] };

/**
 * Checks one intent against ExaBGP's neighbors and adj-rib-out. Targets are the neighbors the
 * command reaches (its selector, or all) that have the prefix's family configured.
 */
export function verifyIntent(r: RouteIntent, neighbors: ExabgpNeighbor[], rib: RibRoute[]): Verdict {
  const family = familyOf(r.prefix);
  const selected = r.neighbors.length ? neighbors.filter((n) => r.neighbors.includes(n.peer)) : neighbors;
  const targets = selected
    .filter((n) => n.families.some((f) => f.family === family && f.local))
    .map((n) => n.peer);
  if (targets.length === 0 && !r.withdraw) {
    const where = r.neighbors.length ? `neighbor ${r.neighbors.join(', ')}` : 'any neighbor';
    return { kind: 'rejected', detail: `${family} not configured on ${where}` };
  }
  const want = prefixId(r.prefix);
  const wantPath = r.pathId !== undefined ? pathIdText(r.pathId) : undefined;
  const problems: string[] = [];
  for (const peer of targets) {
    const routes = rib.filter(
      (x) =>
        x.neighbor === peer &&
        x.family === family &&
        prefixId(x.prefix) === want &&
        (wantPath === undefined || x.attrs.get('path-information')?.[0] === wantPath),
    );
    if (r.withdraw) {
      if (routes.length) problems.push(`${peer}: still in adj-rib-out`);
      continue;
    }
    if (routes.length === 0) {
      problems.push(`${peer}: not in adj-rib-out`);
      continue;
    }
    const d = attributeDiff(r, routes[routes.length - 1]);
    if (d.length) problems.push(`${peer}: ${d.join(', ')}`);
  }
  return problems.length
    ? { kind: 'mismatch', detail: problems.join('; '), targets }
    : { kind: 'ok', targets };
}

/** The targets among `neighbors` whose session is up with the family negotiated. */
export function liveTargets(family: string, targets: string[], neighbors: ExabgpNeighbor[]): string[] {
  return targets.filter((t) => {
    const n = neighbors.find((x) => x.peer === t);
    return n?.state === 'established' && n.families.some((f) => f.family === family && f.remote === true);
  });
}
