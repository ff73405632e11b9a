// The narrow protocol between the agent and its ExaBGP bridge: JSON lines over a unix socket
// (`exabgp.sock` next to the control socket). The agent listens, the bridge (run by ExaBGP)
// connects. Kept separate from the control protocol, which is request/response.
export const BRIDGE_PROTOCOL_VERSION = 1;
/**
 * Optional features a bridge announces in its hello (the version stays 1 so that an agent and a
 * bridge of different releases still talk: a bridge is ExaBGP's child and outlives an agent
 * upgrade). `query`: the bridge answers `query` with `reply` (ExaBGP's output lines up to its ack).
 */
export const BRIDGE_CAPS = ['query'] as const;
/** At most this many bytes are kept for one query's reply (a runaway answer cannot grow us). */
export const MAX_REPLY_BYTES = 8 * 1024 * 1024;
/** Longest line the agent accepts from a bridge (a reply is one line). */
export const MAX_BRIDGE_REPLY_LINE = MAX_REPLY_BYTES * 2 + 64 * 1024;
export const MAX_BRIDGE_LINE = 64 * 1024;

export type AgentToBridge =
  /** First message on every connection; graceMs is how long to keep routes if the agent goes away. */
  | { t: 'hello'; v: number; graceMs: number }
  /** Commands between sync-begin and sync-end are the agent's whole set; the bridge withdraws the rest. */
  | { t: 'sync-begin' }
  | { t: 'sync-end' }
  /** One ExaBGP command; `undo` (for announcements) is the withdraw the bridge uses on agent loss. */
  | { t: 'cmd'; id: number; key: string; cmd: string; undo?: string }
  /** A `show ...` command whose output lines the bridge returns in one `reply`. */
  | { t: 'query'; id: number; cmd: string };

export type BridgeToAgent =
  | { t: 'hello'; v: number; pid: number; exabgpPid: number; caps?: string[] }
  | { t: 'ack'; id: number; ok: boolean }
  | { t: 'reply'; id: number; ok: boolean; lines: string[]; truncated?: boolean }
  | { t: 'neighbor'; neighbor: string; event: 'up' | 'down' | 'connected'; detail?: string }
  | { t: 'shutdown' }
  | { t: 'notice'; text: string };

/** Parses one line from the agent; returns an error text for anything malformed. */
/** One JSON object per line; an error text for anything else. */
function parseObject(line: string): Record<string, unknown> | string {
  let m: unknown;
  try {
    m = JSON.parse(line);
  } catch {
    return 'not JSON';
  }
  return typeof m === 'object' && m !== null && !Array.isArray(m)
    ? (m as Record<string, unknown>)
    : 'not an object';
}

export function parseAgentMessage(line: string): AgentToBridge | string {
  const o = parseObject(line);
  if (typeof o === 'string') return o;
  switch (o.t) {
    case 'hello':
      if (o.v !== BRIDGE_PROTOCOL_VERSION) return `protocol version ${String(o.v)} not supported`;
      if (typeof o.graceMs !== 'number' || o.graceMs < 0) return 'hello.graceMs must be a number >= 0';
      return { t: 'hello', v: o.v, graceMs: o.graceMs };
    case 'sync-begin':
    case 'sync-end':
      return { t: o.t };
    case 'cmd':
      if (typeof o.id !== 'number' || typeof o.key !== 'string' || typeof o.cmd !== 'string')
        return 'cmd needs id, key, cmd';
      // ExaBGP reads one command per line: a newline inside would inject a second command.
      if (/[\r\n]/.test(o.cmd) || (typeof o.undo === 'string' && /[\r\n]/.test(o.undo)))
        return 'cmd contains a newline';
      return {
        t: 'cmd',
        id: o.id,
        key: o.key,
        cmd: o.cmd,
        undo: typeof o.undo === 'string' ? o.undo : undefined,
      };
    case 'query':
      if (typeof o.id !== 'number' || typeof o.cmd !== 'string') return 'query needs id, cmd';
      if (/[\r\n]/.test(o.cmd)) return 'query contains a newline';
      if (!/^show /.test(o.cmd)) return 'query must be a show command';
      return { t: 'query', id: o.id, cmd: o.cmd };
    default:
      return `unknown message type ${JSON.stringify(o.t)}`;
  }
}

export function parseBridgeMessage(line: string): BridgeToAgent | string {
  const o = parseObject(line);
  if (typeof o === 'string') return o;
  switch (o.t) {
    case 'hello':
      if (o.v !== BRIDGE_PROTOCOL_VERSION) return `protocol version ${String(o.v)} not supported`;
      return {
        t: 'hello',
        v: o.v,
        pid: Number(o.pid) || 0,
        exabgpPid: Number(o.exabgpPid) || 0,
        caps: Array.isArray(o.caps) ? o.caps.filter((c): c is string => typeof c === 'string') : [],
      };
    case 'ack':
      if (typeof o.id !== 'number' || typeof o.ok !== 'boolean') return 'ack needs id and ok';
      return { t: 'ack', id: o.id, ok: o.ok };
    case 'reply':
      if (typeof o.id !== 'number' || typeof o.ok !== 'boolean' || !Array.isArray(o.lines))
        return 'reply needs id, ok, lines';
      return { t: 'reply', id: o.id, ok: o.ok, lines: o.lines.map(String), truncated: o.truncated === true };
    case 'neighbor':
      if (typeof o.neighbor !== 'string' || !['up', 'down', 'connected'].includes(String(o.event)))
        return 'bad neighbor event';
      return {
        t: 'neighbor',
        neighbor: o.neighbor,
        event: o.event as 'up' | 'down' | 'connected',
        detail: typeof o.detail === 'string' ? o.detail : undefined,
      };
    case 'shutdown':
      return { t: 'shutdown' };
    case 'notice':
      return { t: 'notice', text: String(o.text) };
    default:
      return `unknown message type ${JSON.stringify(o.t)}`;
  }
}
