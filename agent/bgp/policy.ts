// Announcement policy: from the config of one announcement plus the facts it depends on, decide
// its state (up / down / disabled / not-ready) and the BGP attributes that state carries. Pure;
// defaults follow ExaBGP's healthcheck (MED 100 up, 1000 down, 500 disabled; withdraw-on-down).
import type { AnnouncementConfig } from '../config/schema.js';
import { type FactView, factKey } from '../daemon/facts.js';
import { parsePrefix, prefixKey } from '../lib/ip.js';

export type AnnouncementState = 'up' | 'down' | 'disabled' | 'not-ready';

export interface StateDecision {
  state: AnnouncementState;
  /** Why the state is not "up" (empty when up). */
  reasons: string[];
}

export interface PolicyEnv {
  /** maintenance.readyFile is configured: the `ready` fact must be up before anything is announced. */
  readyRequired: boolean;
  /** The ready file has been seen once since start (the gate only holds the first announcement). */
  readySeen: boolean;
}

/**
 * State of one announcement. Order matters: not-ready beats disabled beats down.
 * Missing facts: `drain`, `host` and `ready` absent mean up (no producer configured);
 * a missing `service:`/`check:` fact means down (no verdict yet is not a healthy verdict).
 */
export function announcementState(a: AnnouncementConfig, facts: FactView, env: PolicyEnv): StateDecision {
  if (env.readyRequired && !env.readySeen && facts.get(factKey.ready)?.up !== true) {
    return { state: 'not-ready', reasons: ['ready file not present yet'] };
  }
  const drain = facts.get(factKey.drain);
  if (drain && !drain.up)
    return { state: 'disabled', reasons: [drain.reason ? `drained: ${drain.reason}` : 'drained'] };
  const reasons: string[] = [];
  const host = facts.get(factKey.host);
  if (host && !host.up) reasons.push(host.reason ? `host down: ${host.reason}` : 'host checks down');
  for (const s of a.services) {
    const f = facts.get(factKey.service(s));
    if (!f) reasons.push(`service ${s}: no state yet`);
    else if (!f.up) reasons.push(`service ${s} down`);
  }
  for (const c of a.checks) {
    const f = facts.get(factKey.check(c));
    if (!f) reasons.push(`check ${c}: no state yet`);
    else if (!f.up) reasons.push(`check ${c} down`);
  }
  return reasons.length ? { state: 'down', reasons } : { state: 'up', reasons };
}

/** What to tell ExaBGP about one prefix. */
export interface RouteIntent {
  /** Stable identity of the route in ExaBGP's RIB: neighbors + prefix + path id. */
  key: string;
  prefix: string;
  withdraw: boolean;
  nextHop: string;
  med?: number;
  localPreference?: number;
  communities: string[];
  largeCommunities: string[];
  extendedCommunities: string[];
  asPath: number[];
  pathId?: number;
  neighbors: string[];
}

export interface LoadAdjust {
  /** Added to the MED while up (dynamic MED from load). */
  medDelta: number;
  /** Withdraw while up because the host is overloaded. */
  overloaded: boolean;
}

export const NO_LOAD: LoadAdjust = { medDelta: 0, overloaded: false };

/** Canonical prefix text (host bits must be zero; the schema already validated it). */
export function canonicalPrefix(text: string): string {
  const p = parsePrefix(text);
  if (typeof p === 'string') throw new Error(`announcement prefix ${text}: ${p}`);
  return prefixKey(p);
}

export function routeKey(a: AnnouncementConfig): string {
  const n = a.neighbors?.length ? [...a.neighbors].sort().join(',') : '*';
  return `${n}|${canonicalPrefix(a.prefix)}|${a.pathId ?? 0}`;
}

/** Attributes for a state: per-state values override `attributes`, which override the defaults. */
export function routeIntent(
  a: AnnouncementConfig,
  state: AnnouncementState,
  load: LoadAdjust = NO_LOAD,
): RouteIntent {
  const per =
    state === 'up' ? a.up : state === 'down' ? a.down : state === 'disabled' ? a.disabled : undefined;
  const base = a.attributes ?? {};
  const pick = <K extends keyof NonNullable<typeof per>>(k: K) => per?.[k] ?? base[k];
  let withdraw: boolean;
  if (state === 'not-ready') withdraw = true;
  else if (state === 'up') withdraw = pick('withdraw') ?? load.overloaded;
  else if (state === 'down') withdraw = pick('withdraw') ?? a.withdrawOnDown;
  else withdraw = pick('withdraw') ?? a.withdrawOnDisabled;
  const stateMed = state === 'up' ? a.med.up + load.medDelta : state === 'down' ? a.med.down : a.med.disabled;
  return {
    key: routeKey(a),
    prefix: canonicalPrefix(a.prefix),
    withdraw,
    nextHop: a.nextHop,
    med: per?.med ?? (state === 'not-ready' ? undefined : (base.med ?? stateMed)),
    localPreference: pick('localPreference'),
    communities: pick('communities') ?? [],
    largeCommunities: pick('largeCommunities') ?? [],
    extendedCommunities: pick('extendedCommunities') ?? [],
    asPath: pick('asPath') ?? [],
    pathId: a.pathId,
    neighbors: a.neighbors ? [...a.neighbors].sort() : [],
  };
}

// ---------- dynamic MED from load ----------

export interface DynamicMedConfig {
  step: number;
  hysteresis: number;
  overload?: number;
}

export interface LoadLevel {
  /** Quantised load: MED delta = level * step. */
  level: number;
  overloaded: boolean;
}

/**
 * Next load level with hysteresis: the level moves only when the load is `hysteresis` past the
 * boundary it crosses, so a load hovering around a boundary does not flap the MED. Overload
 * starts at `overload` and ends below `overload - hysteresis`.
 */
export function nextLoadLevel(prev: LoadLevel, load: number, cfg: DynamicMedConfig): LoadLevel {
  const l = Math.max(0, load);
  let level = prev.level;
  const candidate = Math.floor(l / cfg.step);
  if (candidate > level) {
    // Going up: accept the highest level whose lower boundary we passed by the hysteresis.
    let c = candidate;
    while (c > level && l < c * cfg.step + cfg.hysteresis) c--;
    level = c;
  } else if (candidate < level) {
    let c = candidate;
    while (c < level && l > (c + 1) * cfg.step - cfg.hysteresis) c++;
    level = c;
  }
  let overloaded = prev.overloaded;
  if (cfg.overload !== undefined) {
    if (!overloaded && l >= cfg.overload) overloaded = true;
    else if (overloaded && l < cfg.overload - cfg.hysteresis) overloaded = false;
  } else overloaded = false;
  return { level, overloaded };
}

export function loadAdjust(level: LoadLevel, cfg: DynamicMedConfig): LoadAdjust {
  return { medDelta: level.level * cfg.step, overloaded: level.overloaded };
}
