// Test helpers for real-kernel tests: network namespaces the test creates (always named lbt-*),
// processes inside them, bounded waits, and cleanup that also runs when a test fails.
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * argv that runs `script` (a file beside the caller, named without extension) the way the caller
 * itself runs: through tsx from the TypeScript sources, plain node when compiled to dist/.
 */
export function siblingScript(callerUrl: string, script: string, ...args: string[]): string[] {
  const here = dirname(fileURLToPath(callerUrl));
  return callerUrl.endsWith('.ts')
    ? [process.execPath, '--import', 'tsx', join(here, `${script}.ts`), ...args]
    : [process.execPath, join(here, `${script}.js`), ...args];
}

const created = new Set<string>();
const children = new Set<ChildProcess>();

function cleanupAll(): void {
  for (const c of children) {
    try {
      if (c.pid) process.kill(-c.pid, 'SIGKILL');
    } catch {
      try {
        c.kill('SIGKILL');
      } catch {}
    }
  }
  children.clear();
  for (const ns of created) {
    killNsProcesses(ns);
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {}
  }
  created.clear();
}
process.on('exit', cleanupAll);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    cleanupAll();
    process.exit(130);
  });
}

function killNsProcesses(ns: string): void {
  try {
    const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split(/\s+/).filter(Boolean);
    for (const p of pids) {
      try {
        process.kill(Number(p), 'SIGKILL');
      } catch {}
    }
  } catch {}
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** A short unique suffix so parallel runs never collide. */
export function uniq(): string {
  return randomBytes(3).toString('hex');
}

/** Runs a command on the host (for `ip netns add`, `ip link add ... netns`, ...). */
export interface ShOptions {
  input?: string;
  allowFail?: boolean;
  /** Return stderr after stdout (for commands that report progress on stderr). */
  stderr?: boolean;
}

export function sh(argv: string[], opts: ShOptions = {}): string {
  if (opts.stderr) {
    const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', input: opts.input, timeout: 120_000 });
    if (r.status !== 0 && !opts.allowFail)
      throw new Error(`${argv.join(' ')} failed: ${r.stderr.trim() || r.error?.message}`);
    return `${r.stdout ?? ''}${r.stderr ?? ''}`;
  }
  try {
    return execFileSync(argv[0], argv.slice(1), {
      encoding: 'utf8',
      input: opts.input,
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: 30_000,
    });
  } catch (err) {
    if (opts.allowFail) return '';
    const e = err as { stderr?: string; message: string };
    throw new Error(`${argv.join(' ')} failed: ${e.stderr?.trim() || e.message}`);
  }
}

/** Runs a command inside a namespace and returns stdout. */
export function nsExec(
  ns: string,
  argv: string[],
  opts: { input?: string; allowFail?: boolean } = {},
): string {
  return sh(['ip', 'netns', 'exec', ns, ...argv], opts);
}

export class Netns {
  constructor(readonly name: string) {}

  exec(argv: string[], opts: ShOptions = {}): string {
    return nsExec(this.name, argv, opts);
  }

  /** `ip` inside the namespace, e.g. ns.ip('addr add 10.0.0.1/24 dev veth0'). */
  ip(args: string, opts: { allowFail?: boolean } = {}): string {
    return this.exec(['ip', ...args.split(/\s+/).filter(Boolean)], opts);
  }

  /** Starts a long-running process inside the namespace in its own process group. */
  spawn(argv: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.name, ...argv], {
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...opts.env },
      cwd: opts.cwd,
    });
    children.add(child);
    child.once('exit', () => children.delete(child));
    return child;
  }
}

/** Creates namespaces (lo up in each). Call destroyNetns in a finally/after hook. */
export function createNetns(...names: string[]): Netns[] {
  return names.map((base) => {
    // Tests use lbt-*, the demo lab lbdemo-*: nothing else is ever created or deleted.
    const name = base.startsWith('lbt-') || base.startsWith('lbdemo-') ? base : `lbt-${base}`;
    if (name.length > 40) throw new Error(`namespace name too long: ${name}`);
    sh(['ip', 'netns', 'add', name]);
    created.add(name);
    nsExec(name, ['ip', 'link', 'set', 'lo', 'up']);
    return new Netns(name);
  });
}

export function destroyNetns(...nss: Netns[]): void {
  for (const ns of nss) {
    killNsProcesses(ns.name);
    sh(['ip', 'netns', 'del', ns.name], { allowFail: true });
    created.delete(ns.name);
  }
}

/** Connects two namespaces with a veth pair; names are per-namespace interface names. */
export function veth(a: Netns, aIf: string, b: Netns, bIf: string): void {
  const tmpA = `v${uniq()}a`;
  const tmpB = `v${uniq()}b`;
  sh(['ip', 'link', 'add', tmpA, 'type', 'veth', 'peer', 'name', tmpB]);
  sh(['ip', 'link', 'set', tmpA, 'netns', a.name]);
  sh(['ip', 'link', 'set', tmpB, 'netns', b.name]);
  a.ip(`link set ${tmpA} name ${aIf}`);
  b.ip(`link set ${tmpB} name ${bIf}`);
  a.ip(`link set ${aIf} up`);
  b.ip(`link set ${bIf} up`);
}

/** Stops a spawned child: SIGTERM to its group, then SIGKILL after graceMs. Resolves with its exit code. */
export async function stopChild(
  child: ChildProcess,
  signal: NodeJS.Signals = 'SIGTERM',
  graceMs = 5000,
): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const done = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    process.kill(-child.pid!, signal);
  } catch {}
  const t = setTimeout(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {}
  }, graceMs);
  const code = await done;
  clearTimeout(t);
  return code;
}

/** Polls fn until it returns a truthy value; bounded by time. */
export async function waitFor<T>(
  fn: () => T | Promise<T>,
  opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<NonNullable<T>> {
  const timeout = opts.timeoutMs ?? 10_000;
  const interval = opts.intervalMs ?? 50;
  const deadline = Date.now() + timeout;
  let last: unknown;
  for (let i = 0; i < 100_000; i++) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, interval));
  }
  throw new Error(
    `timed out after ${timeout}ms waiting for ${opts.what ?? 'condition'}${last ? `: ${(last as Error).message}` : ''}`,
  );
}

/** Collects a child's stdout+stderr for diagnostics. */
export function captureOutput(child: ChildProcess): { text: () => string } {
  let buf = '';
  child.stdout?.on('data', (d) => {
    buf += d;
  });
  child.stderr?.on('data', (d) => {
    buf += d;
  });
  return { text: () => buf };
}
