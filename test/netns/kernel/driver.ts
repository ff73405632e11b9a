// Drives agent/kernel/standalone inside a namespace: one JSON line per request, one reply line.
// Works from the .ts sources (tsx) and from dist/ (compiled).
import type { ChildProcess } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { captureOutput, type Netns, stopChild } from '../../lib/netns.js';

const here = fileURLToPath(import.meta.url);
const fromSource = here.endsWith('.ts');
// test/netns/kernel/driver.{ts,js} → repository root (or dist/ root when compiled).
const root = resolve(dirname(here), '../../..');

/** LBT_STANDALONE_NODE_ARGS: extra node flags for the child (e.g. `--cpu-prof --cpu-prof-dir=DIR`
 * to profile it; NODE_OPTIONS refuses those). */
export function standaloneArgv(): { argv: string[]; cwd: string } {
  const extra = (process.env.LBT_STANDALONE_NODE_ARGS ?? '').split(' ').filter(Boolean);
  if (fromSource)
    return {
      argv: [process.execPath, ...extra, '--import', 'tsx', resolve(root, 'agent/kernel/standalone.ts')],
      cwd: root,
    };
  return {
    argv: [process.execPath, ...extra, resolve(root, 'agent/kernel/standalone.js')],
    cwd: resolve(root, '..'),
  };
}

export class KernelAgent {
  private seq = 0;
  private readonly waiting = new Map<
    number,
    (reply: { ok: boolean; result?: unknown; error?: string }) => void
  >();
  private readonly out: { text: () => string };

  private constructor(readonly child: ChildProcess) {
    this.out = captureOutput(child);
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (line) => {
      try {
        const reply = JSON.parse(line) as { id?: number; ok: boolean; result?: unknown; error?: string };
        if (reply.id !== undefined) this.waiting.get(reply.id)?.(reply);
      } catch {}
    });
  }

  static spawn(ns: Netns, env: NodeJS.ProcessEnv = {}): KernelAgent {
    const { argv, cwd } = standaloneArgv();
    return new KernelAgent(ns.spawn(argv, { cwd, env }));
  }

  // biome-ignore lint/suspicious/noExplicitAny: replies are JSON checked by the tests
  call(cmd: Record<string, unknown>, timeoutMs = 20_000): Promise<any> {
    const id = ++this.seq;
    return new Promise((resolvePromise, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(
          new Error(
            `kernel agent: no reply to ${String(cmd.cmd)} within ${timeoutMs} ms; output:\n${this.out.text()}`,
          ),
        );
      }, timeoutMs);
      this.waiting.set(id, (reply) => {
        clearTimeout(timer);
        this.waiting.delete(id);
        if (reply.ok) resolvePromise(reply.result);
        else reject(new Error(`kernel agent: ${String(cmd.cmd)} failed: ${reply.error}`));
      });
      this.child.stdin!.write(`${JSON.stringify({ id, ...cmd })}\n`);
    });
  }

  logs(): string {
    return this.out.text();
  }

  /** Stops like the daemon would (state kept unless removeState), then ends the process. */
  async close(removeState = false): Promise<void> {
    try {
      if (this.child.exitCode === null) await this.call({ cmd: 'stop', removeState }, 10_000);
    } catch {}
    // End of input makes the standalone exit by itself (which also writes a --cpu-prof profile);
    // a signal only if it has not within 2 s.
    const exited = new Promise<boolean>((resolve) => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) return resolve(true);
      const timer = setTimeout(() => resolve(false), 2000);
      this.child.once('exit', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    this.child.stdin?.end();
    if (!(await exited)) await stopChild(this.child, 'SIGTERM', 3000);
  }
}
