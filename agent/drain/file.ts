// The disable file: its existence means "drained". lbctl writes owner/who/why/when/expiry inside
// as `key: value` lines an operator can read with cat; a file touched by hand (empty, or any text
// we cannot parse) still means drained, just without details (and without an owner). Pure.
export interface DrainRecord {
  /** Who may undrain it (`lbctl drain --owner NAME`); absent = nobody in particular (by hand). */
  owner?: string;
  reason?: string;
  who?: string;
  /** Epoch ms. */
  when?: number;
  /** Epoch ms; absent = no expiry. */
  expires?: number;
}

const HEADER =
  '# lbagent drain: this host is drained while this file exists (lbctl undrain or rm to undrain)';

export function renderDrainFile(r: DrainRecord): string {
  const lines = [HEADER];
  if (r.owner !== undefined) lines.push(`owner: ${oneLine(r.owner)}`);
  if (r.reason !== undefined) lines.push(`reason: ${oneLine(r.reason)}`);
  if (r.who !== undefined) lines.push(`who: ${oneLine(r.who)}`);
  if (r.when !== undefined) lines.push(`when: ${new Date(r.when).toISOString()}`);
  if (r.expires !== undefined) lines.push(`expires: ${new Date(r.expires).toISOString()}`);
  return `${lines.join('\n')}\n`;
}

export function parseDrainFile(text: string): DrainRecord {
  const r: DrainRecord = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-z]+):\s*(.*)$/.exec(line);
    if (!m) {
      // Free text written by hand: take the first such line as the reason.
      r.reason ??= line.slice(0, 200);
      continue;
    }
    const [, key, value] = m;
    if (key === 'reason') r.reason = value;
    else if (key === 'owner') r.owner = value.slice(0, 200);
    else if (key === 'who') r.who = value;
    else if (key === 'when' || key === 'expires') {
      const t = Date.parse(value);
      // An unreadable expiry must not undrain: it is ignored, the drain stays.
      if (Number.isFinite(t)) r[key] = t;
    }
  }
  return r;
}

function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').slice(0, 500);
}

export interface DrainState {
  drained: boolean;
  record?: DrainRecord;
  /** Drained but the expiry has passed: the owner should remove the file. */
  expired: boolean;
}

export function drainState(file: string | null, now: number): DrainState {
  if (file === null) return { drained: false, expired: false };
  const record = parseDrainFile(file);
  const expired = record.expires !== undefined && record.expires <= now;
  return { drained: !expired, record, expired };
}

export function drainReason(s: DrainState): string | undefined {
  if (!s.drained) return undefined;
  const r = s.record;
  if (!r) return undefined;
  const parts = [
    r.reason,
    r.who ? `by ${r.who}` : undefined,
    r.owner ? `(owner ${r.owner})` : undefined,
  ].filter(Boolean);
  return parts.length ? parts.join(' ') : undefined;
}

/** A drain owner name: what `--owner` accepts (one token an operator and a playbook can type). */
export function validOwner(name: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._@:/-]{0,99}$/.test(name);
}

/** One line naming who drained the host, when and why (for refusals and logs). */
export function describeDrain(r: DrainRecord | undefined): string {
  if (!r) return 'drained (no details)';
  const parts = [r.owner ? `owner ${r.owner}` : 'no owner (drained by hand or without --owner)'];
  if (r.who) parts.push(`by ${r.who}`);
  if (r.when !== undefined) parts.push(`since ${new Date(r.when).toISOString()}`);
  if (r.reason) parts.push(`reason: ${r.reason}`);
  return parts.join(', ');
}
