// The real agent and lbctl for namespace tests: run the compiled daemon inside a namespace, call
// lbctl against its socket, scrape its metrics. Always compiled code from dist/ (tsc first).
import { type ChildProcess, execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { captureOutput, type Netns, waitFor } from './netns.js';

const run = promisify(execFile);

/** dist/ (compiled run) or the repo (tsx run): the daemon always runs compiled from dist/. */
export function distRoot(): string {
  let d = import.meta.dirname;
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(d, 'agent', 'main.js'))) return d;
    if (existsSync(join(d, 'dist', 'agent', 'main.js'))) return join(d, 'dist');
    d = dirname(d);
  }
  throw new Error('cannot find dist/agent/main.js: run `npx tsc -p .` first');
}
export const agentBin = join(distRoot(), 'agent', 'main.js');
export const lbctlBin = join(distRoot(), 'cli', 'lbctl.js');

export interface CmdResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs argv (no shell) inside a namespace, optionally as another uid/gid (setpriv); never throws. */
export async function nsRun(
  ns: Netns,
  argv: string[],
  opts: {
    as?: { uid: number; gid: number; groups?: number[] };
    timeoutMs?: number;
    env?: NodeJS.ProcessEnv;
  } = {},
): Promise<CmdResult> {
  const who = opts.as
    ? [
        'setpriv',
        `--reuid=${opts.as.uid}`,
        `--regid=${opts.as.gid}`,
        opts.as.groups?.length ? `--groups=${opts.as.groups.join(',')}` : '--clear-groups',
        '--',
      ]
    : [];
  try {
    const r = await run('ip', ['netns', 'exec', ns.name, ...who, ...argv], {
      timeout: opts.timeoutMs ?? 30_000,
      env: { ...process.env, ...opts.env },
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number | string; stdout?: string; stderr?: string; message: string };
    return {
      code: typeof e.code === 'number' ? e.code : -1,
      stdout: e.stdout ?? '',
      stderr: e.stderr ?? e.message,
    };
  }
}

/** lbctl -s SOCK ARGS inside the namespace. */
export function lbctl(
  ns: Netns,
  sock: string,
  args: string[],
  opts: { as?: { uid: number; gid: number; groups?: number[] } } = {},
): Promise<CmdResult> {
  return nsRun(ns, [process.execPath, lbctlBin, '-s', sock, ...args], opts);
}

export interface RunningAgent {
  child: ChildProcess;
  output: () => string;
}

/** Starts `lbagent run -c cfgPath` in the namespace and waits for its control socket to answer. */
export async function startAgent(
  ns: Netns,
  cfgPath: string,
  sock: string,
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<RunningAgent> {
  const child = ns.spawn([process.execPath, agentBin, 'run', '--config', cfgPath], { env: opts.env });
  const out = captureOutput(child);
  await waitFor(async () => (await lbctl(ns, sock, ['status', '--json'])).code === 0, {
    timeoutMs: opts.timeoutMs ?? 30_000,
    intervalMs: 200,
    what: `the agent's control socket ${sock} (agent output: ${out.text().slice(-3000)})`,
  });
  return { child, output: out.text };
}

/** Parses the agent's JSON log lines (non-JSON lines are returned as { raw }). */
export function logLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      try {
        return JSON.parse(l.replace(/^<\d>/, '')) as Record<string, unknown>;
      } catch {
        return { raw: l };
      }
    });
}
