// Health state across agent restarts. Without it every check would restart from its `initial`
// state (down by default): all checked backends would go to weight 0 and nexthops leave their
// routes until `rise` results came in, which is not hitless. The file keeps each check's state and
// the manual backend drains (a rolling update must survive an agent restart). It lives under /run
// (tmpfs: gone on reboot, like the kernel state it protects), next to the agent's control socket.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Health } from './machine.js';

export interface HealthState {
  checks: Record<string, Health>;
  drained: string[];
}

/** The state file sits next to the control socket: one per agent, whatever the namespace. */
export function defaultHealthStateFile(controlSocket: string): string {
  return join(dirname(controlSocket), 'health-state.json');
}

/** Reads the state file; a missing file is empty state; a bad one throws naming the file. */
export function loadHealthState(path: string): HealthState {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { checks: {}, drained: [] };
    throw new Error(`health state file ${path}: ${(err as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new Error(`health state file ${path} is not JSON: ${(err as Error).message}`);
  }
  const d = data as Partial<HealthState>;
  const checksOk =
    typeof d.checks === 'object' &&
    d.checks !== null &&
    Object.values(d.checks).every((v) => v === 'up' || v === 'down');
  const drainedOk = Array.isArray(d.drained) && d.drained.every((k) => typeof k === 'string');
  if (!checksOk || !drainedOk) {
    throw new Error(
      `health state file ${path}: expected {"checks": {id: "up"|"down"}, "drained": [key, ...]}`,
    );
  }
  return { checks: d.checks as Record<string, Health>, drained: d.drained as string[] };
}

/** Writes atomically (write + rename). */
export function saveHealthState(path: string, state: HealthState): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(state)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}
