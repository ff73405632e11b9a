// Exec check: an argument array run with execa (never a shell string) in its own process group, so
// that a timeout kills the whole group (scripts that fork do not leak). Exit 0 = healthy.
// Dynamic weight like keepalived's misc_dynamic: exit code 2..255 means healthy with weight code-2,
// or the first stdout line is the weight.
import { execa } from 'execa';
import type { Probe } from './types.js';
import { lookupUser } from './user.js';

export interface ExecProbeSpec {
  command: string[];
  dynamicWeight: 'none' | 'exit-code' | 'stdout';
  env?: Record<string, string>;
  user?: string;
  /** Extra variables naming the target, so one script can serve many backends. */
  targetEnv?: Record<string, string>;
}

/** Interprets an exit code and stdout under a dynamic-weight mode. */
export function execVerdict(
  mode: ExecProbeSpec['dynamicWeight'],
  exitCode: number,
  stdout: string,
): { ok: boolean; reason: string; weight?: number } {
  if (mode === 'exit-code' && exitCode >= 2 && exitCode <= 255) {
    return { ok: true, reason: `exit ${exitCode} (weight ${exitCode - 2})`, weight: exitCode - 2 };
  }
  if (exitCode !== 0) return { ok: false, reason: `exit ${exitCode}` };
  if (mode === 'stdout') {
    const first = stdout.split('\n')[0].trim();
    if (!/^\d{1,5}$/.test(first) || Number(first) > 65535) {
      return { ok: false, reason: `stdout "${first.slice(0, 40)}" is not a weight 0-65535` };
    }
    return { ok: true, reason: `exit 0 (weight ${first})`, weight: Number(first) };
  }
  return { ok: true, reason: 'exit 0' };
}

function killGroup(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {}
}

export function execProbe(spec: ExecProbeSpec): Probe {
  const ids = spec.user !== undefined ? lookupUser(spec.user) : {};
  const [file, ...args] = spec.command;
  return async (cancel) => {
    const child = execa(file, args, {
      reject: false,
      detached: true,
      stdin: 'ignore',
      stripFinalNewline: true,
      maxBuffer: 64 * 1024,
      env: { ...spec.targetEnv, ...spec.env },
      ...ids,
    });
    cancel.onAbort(() => killGroup(child.pid));
    try {
      const r = await child;
      // Whatever the script left in its group (background jobs) goes with it.
      killGroup(child.pid);
      if (cancel.aborted) return { ok: false, reason: 'aborted' };
      const code = (r as { code?: string }).code;
      if (code === 'ENOENT') return { ok: false, reason: `command not found: ${file}` };
      if (code === 'EACCES') return { ok: false, reason: `command not executable: ${file}` };
      if (r.exitCode === undefined) {
        return {
          ok: false,
          reason: r.signal ? `killed by ${r.signal}` : `failed: ${r.shortMessage ?? 'unknown'}`,
        };
      }
      return execVerdict(spec.dynamicWeight, r.exitCode, typeof r.stdout === 'string' ? r.stdout : '');
    } finally {
      cancel.clear();
    }
  };
}
