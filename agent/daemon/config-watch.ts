// Reload on config file changes: inotify on the file's directory (editors and Ansible replace
// the file by rename, which a watch on the file itself would miss), debounced, plus a slow poll
// of the contents in case an event is lost. Only a real content change triggers a reload.
import { createHash } from 'node:crypto';
import { type FSWatcher, readFileSync, watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from 'pino';
import type { Clock, Timer } from '../lib/clock.js';

export interface ConfigWatchOptions {
  path: string;
  debounceMs: number;
  pollMs: number;
  /** Hash of the config the daemon runs (or last rejected), to skip no-op reloads. */
  currentHash: () => string;
  reload: (why: string) => void;
}

export class ConfigWatch {
  private watcher?: FSWatcher;
  private debounce?: Timer;
  private poll?: Timer;
  private stopped = false;

  constructor(
    private opts: ConfigWatchOptions,
    private clock: Clock,
    private log: Logger,
  ) {}

  start(): void {
    try {
      const name = basename(this.opts.path);
      this.watcher = watch(dirname(this.opts.path), { persistent: false }, (_e, f) => {
        if (!f || f === name) this.kick('inotify');
      });
      this.watcher.on('error', (err) => {
        this.log.warn({ err: err.message }, 'config watch failed; relying on polling');
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'cannot watch the config directory; relying on polling');
    }
    this.schedulePoll();
  }

  stop(): void {
    this.stopped = true;
    this.watcher?.close();
    this.debounce?.cancel();
    this.poll?.cancel();
  }

  private kick(why: string): void {
    this.debounce?.cancel();
    this.debounce = this.clock.setTimeout(() => this.check(why), this.opts.debounceMs);
  }

  private schedulePoll(): void {
    if (this.stopped) return;
    this.poll = this.clock.setTimeout(() => {
      this.check('poll');
      this.schedulePoll();
    }, this.opts.pollMs);
  }

  private check(why: string): void {
    if (this.stopped) return;
    let hash: string;
    try {
      hash = createHash('sha256').update(readFileSync(this.opts.path)).digest('hex');
    } catch {
      return; // mid-replace or removed: the next event or poll looks again
    }
    if (hash !== this.opts.currentHash()) this.opts.reload(`config file changed (${why})`);
  }
}
