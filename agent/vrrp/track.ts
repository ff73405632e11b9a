// Effective priority from tracked objects (pure). keepalived semantics: a positive weight is
// added while the object is up, a negative one while it is down, "fault" forces the Fault state
// while it is down; track_file adds value × weight (weight 0: any non-zero value is a fault;
// a product at or below -254 is a fault too). The result is clamped to 1..254; an owner (255)
// keeps 255 while nothing applies.

export type TrackWeight = number | 'fault';

export interface TrackedObject {
  /** Shown in status: e.g. "interface eth1", "service web", "drain", "file /run/x". */
  what: string;
  weight: TrackWeight;
  /** For up/down objects; unknown (never reported) counts as down. */
  up?: boolean;
  /** For track files: the number read from the file (missing or unreadable: 0). */
  value?: number;
}

export interface PriorityResult {
  priority: number;
  fault: boolean;
  /** Why the priority differs from the configured one (empty when it does not). */
  reasons: string[];
}

export function computePriority(base: number, objects: TrackedObject[]): PriorityResult {
  let delta = 0;
  let fault = false;
  const reasons: string[] = [];
  for (const o of objects) {
    if (o.value !== undefined) {
      if (o.weight === 'fault') {
        if (o.value !== 0) {
          fault = true;
          reasons.push(`${o.what} = ${o.value}: fault`);
        }
        continue;
      }
      if (o.weight === 0) {
        if (o.value !== 0) {
          fault = true;
          reasons.push(`${o.what} = ${o.value} with weight 0: fault`);
        }
        continue;
      }
      const d = o.value * o.weight;
      if (d <= -254) {
        fault = true;
        reasons.push(`${o.what} = ${o.value} × ${o.weight}: fault`);
      } else if (d !== 0) {
        delta += d;
        reasons.push(`${o.what} = ${o.value} × ${o.weight}: ${d > 0 ? '+' : ''}${d}`);
      }
      continue;
    }
    const up = o.up === true;
    if (o.weight === 'fault') {
      if (!up) {
        fault = true;
        reasons.push(`${o.what} down: fault`);
      }
    } else if (o.weight > 0 && up) {
      delta += o.weight;
      reasons.push(`${o.what} up: +${o.weight}`);
    } else if (o.weight < 0 && !up) {
      delta += o.weight;
      reasons.push(`${o.what} down: ${o.weight}`);
    }
  }
  const priority = delta === 0 ? base : Math.max(1, Math.min(254, base + delta));
  return { priority, fault, reasons };
}

/** keepalived reads the first number in a track file; anything else counts as 0. */
export function parseTrackFile(text: string): number {
  const m = /^\s*(-?\d+)/.exec(text);
  return m ? Number(m[1]) : 0;
}

/** Rise/fall for exec scripts: a result flips the state only after `rise` successes or `fall` failures in a row. */
export class RiseFall {
  up: boolean | undefined;
  private run = 0;
  private lastOk: boolean | undefined;

  constructor(
    private rise: number,
    private fall: number,
  ) {}

  /** Feeds one result; returns true when the state changed. */
  push(ok: boolean): boolean {
    this.run = ok === this.lastOk ? this.run + 1 : 1;
    this.lastOk = ok;
    const next = ok ? (this.run >= this.rise ? true : this.up) : this.run >= this.fall ? false : this.up;
    if (next === this.up) return false;
    this.up = next;
    return true;
  }
}
