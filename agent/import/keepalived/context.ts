// Shared by the keepalived converters: walking a block keyword by keyword (each is converted,
// unmapped with a reason, or unknown with a "did you mean"), and reading keepalived's values.
import { formatDuration } from '../../config/duration.js';
import type { Findings } from '../report.js';
import { suggest } from './keywords.js';
import type { Node } from './tree.js';

export type Handler = (n: Node) => void;

export class Ctx {
  constructor(readonly findings: Findings) {}

  /**
   * Visits `block`: a keyword with a handler is converted by it; a keyword keepalived knows
   * without one is unmapped (with `reasons[kw]` or `fallback`); anything else is unknown.
   */
  walk(
    block: Node[] | undefined,
    where: string,
    known: Set<string>,
    handlers: Record<string, Handler>,
    reasons: Record<string, string> = {},
    fallback = 'lbagent has no equivalent',
  ): void {
    for (const n of block ?? []) {
      const h = handlers[n.name];
      if (h) h(n);
      else if (known.has(n.name)) this.findings.unmapped(n, n.name, reasons[n.name] ?? fallback);
      else this.unknown(n, where, known);
    }
  }

  unknown(n: Node, where: string, known: Set<string>): void {
    const s = suggest(n.name, known);
    this.findings.error(
      n,
      n.name,
      `unknown keyword in ${where}${s ? ` (did you mean "${s}"?)` : ''}; keepalived -t rejects it too`,
    );
  }

  /** A word of n's args, or an error finding when missing. */
  arg(n: Node, i = 0): string | undefined {
    const v = n.args[i];
    if (v === undefined) this.findings.error(n, n.name, `needs a value`);
    return v;
  }

  int(n: Node, i = 0, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number | undefined {
    const v = this.arg(n, i);
    if (v === undefined) return undefined;
    const x = Number(v);
    if (!/^-?\d+$/.test(v) || x < min || x > max) {
      this.findings.error(n, n.name, `"${v}" is not an integer in ${min}..${max}`);
      return undefined;
    }
    return x;
  }

  /** keepalived <TIMER>: seconds with an optional fraction (resolution µs); returned in ms. */
  timer(n: Node, i = 0): number | undefined {
    const v = this.arg(n, i);
    if (v === undefined) return undefined;
    if (!/^\d+(\.\d+)?$/.test(v)) {
      this.findings.error(n, n.name, `"${v}" is not a time in seconds`);
      return undefined;
    }
    return Math.round(Number(v) * 1000);
  }

  /** keepalived <BOOL> (absent means on). */
  bool(n: Node, i = 0): boolean | undefined {
    const v = n.args[i];
    if (v === undefined) return true;
    const t = v.toLowerCase();
    if (['on', 'true', 'yes'].includes(t)) return true;
    if (['off', 'false', 'no'].includes(t)) return false;
    this.findings.error(n, n.name, `"${v}" is not on|off|true|false|yes|no`);
    return undefined;
  }

  /** Extra words after what a keyword uses are reported, never ignored. */
  extra(n: Node, used: number, why = 'not converted'): void {
    if (n.args.length > used) this.findings.unmapped(n, `${n.name} ${n.args.slice(used).join(' ')}`, why);
  }
}

export const dur = (ms: number): string => formatDuration(ms);

/** keepalived names are free text; lbagent names are [A-Za-z0-9_.-]{1,64}. */
export function safeName(name: string): string {
  const s = name.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64);
  return s || 'unnamed';
}
