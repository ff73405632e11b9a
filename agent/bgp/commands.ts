// ExaBGP text API commands (what the bridge prints on ExaBGP's stdin-facing pipe). Pure; the
// syntax is ExaBGP 4.x's `announce route` / `withdraw route` with `neighbor A, neighbor B`
// selectors, as its healthcheck writes them.
import type { RouteIntent } from './policy.js';

function list(words: Array<string | number>): string {
  return `[ ${words.join(' ')} ]`;
}

function selector(neighbors: string[]): string {
  return neighbors.length ? `${neighbors.map((n) => `neighbor ${n}`).join(', ')} ` : '';
}

/** The command that makes ExaBGP's RIB match the intent. */
export function renderCommand(r: RouteIntent): string {
  return r.withdraw ? renderWithdraw(r) : renderAnnounce(r);
}

export function renderAnnounce(r: RouteIntent): string {
  const parts = [`${selector(r.neighbors)}announce route ${r.prefix} next-hop ${r.nextHop}`];
  if (r.med !== undefined) parts.push(`med ${r.med}`);
  if (r.localPreference !== undefined) parts.push(`local-preference ${r.localPreference}`);
  if (r.communities.length) parts.push(`community ${list(r.communities)}`);
  if (r.extendedCommunities.length) parts.push(`extended-community ${list(r.extendedCommunities)}`);
  if (r.largeCommunities.length) parts.push(`large-community ${list(r.largeCommunities)}`);
  if (r.asPath.length) parts.push(`as-path ${list(r.asPath)}`);
  if (r.pathId !== undefined) parts.push(`path-information ${r.pathId}`);
  return parts.join(' ');
}

/** Withdraw names only what identifies the route (prefix, next-hop, path id, neighbors). */
export function renderWithdraw(r: Pick<RouteIntent, 'neighbors' | 'prefix' | 'nextHop' | 'pathId'>): string {
  const pid = r.pathId !== undefined ? ` path-information ${r.pathId}` : '';
  return `${selector(r.neighbors)}withdraw route ${r.prefix} next-hop ${r.nextHop}${pid}`;
}

/** A line ExaBGP wrote to our stdin, classified. */
export type ExabgpLine =
  | { kind: 'ack'; ok: boolean }
  | { kind: 'neighbor'; neighbor: string; event: 'up' | 'down' | 'connected'; detail?: string }
  | { kind: 'shutdown' }
  | { kind: 'other'; text: string };

export function parseExabgpLine(line: string): ExabgpLine {
  const t = line.trim();
  if (t === 'done') return { kind: 'ack', ok: true };
  if (t === 'error') return { kind: 'ack', ok: false };
  if (t.startsWith('shutdown')) return { kind: 'shutdown' };
  const m = /^neighbor (\S+) (up|connected|down)(?: - (.*))?$/.exec(t);
  if (m)
    return { kind: 'neighbor', neighbor: m[1], event: m[2] as 'up' | 'down' | 'connected', detail: m[3] };
  return { kind: 'other', text: t };
}
