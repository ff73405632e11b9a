// inotify (fs.watch) for files in directories that may themselves be removed and re-created.
// A watch on a directory goes silent for good when that directory is removed (inotify's
// IN_IGNORED): a new directory at the same path is another inode nobody watches. So for each
// target file we watch its directory AND the directory's parent chain up to the nearest existing
// ancestor, each watch remembering the inode it was set on; every event (and every poll)
// re-plans: a watch whose path is gone or now names another inode is closed and set again.
// `watching()` reports only live watches, each with what it waits for.
import { type FSWatcher, watch } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';

export interface WatchSpec {
  /** Directory to watch. */
  dir: string;
  /** Names in it whose events matter. */
  names: string[];
}

/**
 * Pure plan: for each target file, its directory (if it exists) for the file's name, and the
 * nearest existing ancestor of the directory for the next path element (to see the directory
 * appear, or disappear). `exists(dir)` answers for directories only.
 */
export function planWatches(targets: string[], exists: (dir: string) => boolean): WatchSpec[] {
  const byDir = new Map<string, Set<string>>();
  const add = (dir: string, name: string) => {
    const s = byDir.get(dir) ?? new Set<string>();
    s.add(name);
    byDir.set(dir, s);
  };
  for (const file of targets) {
    let child = file;
    let dir = dirname(file);
    // The file's own directory when it exists; then one more level (its parent) so that the
    // directory's removal is seen too. When it does not exist, climb to the nearest ancestor.
    let levels = 0;
    while (true) {
      if (exists(dir)) {
        add(dir, basename(child));
        levels++;
        if (levels === 2 || dir === dirname(dir)) break;
      }
      if (dir === dirname(dir)) break;
      child = dir;
      dir = dirname(dir);
    }
  }
  return [...byDir].map(([dir, names]) => ({ dir, names: [...names].sort() }));
}

interface Live {
  spec: WatchSpec;
  ino: number;
  w: FSWatcher;
}

export class ChainWatcher {
  private live = new Map<string, Live>();
  private targets: string[] = [];
  private replanning?: Promise<void>;
  private again = false;
  private closed = false;

  constructor(
    private onEvent: (source: string) => void,
    private onError: (dir: string, message: string) => void,
  ) {}

  setTargets(targets: string[]): Promise<void> {
    this.targets = [...new Set(targets)];
    this.closed = false;
    return this.replan();
  }

  /** What is watched now (live watches only), each with the names it waits for. */
  watching(): WatchSpec[] {
    return [...this.live.values()].map((l) => l.spec);
  }

  /** Re-plans (serialised: a re-plan asked for while one runs runs once more after it). */
  replan(): Promise<void> {
    if (this.replanning) {
      this.again = true;
      return this.replanning;
    }
    this.replanning = (async () => {
      try {
        do {
          this.again = false;
          await this.replanOnce();
        } while (this.again && !this.closed);
      } finally {
        this.replanning = undefined;
      }
    })();
    return this.replanning;
  }

  close(): void {
    this.closed = true;
    for (const l of this.live.values()) l.w.close();
    this.live.clear();
  }

  private async replanOnce(): Promise<void> {
    // Inodes of every directory on the chains (async stat: a path others control never blocks).
    const inodes = new Map<string, number>();
    for (const file of this.targets)
      for (let dir = dirname(file); ; dir = dirname(dir)) {
        if (!inodes.has(dir)) {
          const st = await stat(dir).catch(() => undefined);
          if (st?.isDirectory()) inodes.set(dir, st.ino);
        }
        if (dir === dirname(dir)) break;
      }
    if (this.closed) return;
    const plan = planWatches(this.targets, (d) => inodes.has(d));
    const wanted = new Map(plan.map((s) => [s.dir, s]));
    for (const [dir, l] of this.live) {
      const w = wanted.get(dir);
      if (!w || inodes.get(dir) !== l.ino || w.names.join('/') !== l.spec.names.join('/')) {
        l.w.close();
        this.live.delete(dir);
      }
    }
    let added = false;
    for (const spec of plan) {
      if (this.live.has(spec.dir)) continue;
      const ino = inodes.get(spec.dir);
      if (ino === undefined) continue;
      const names = new Set(spec.names);
      try {
        const w = watch(spec.dir, { persistent: false }, (_event, filename) => {
          // filename can be null on some platforms: treat as relevant.
          if (filename === null || names.has(filename.toString())) {
            this.onEvent(`inotify ${spec.dir}`);
            void this.replan();
          }
        });
        w.on('error', (err) => {
          this.onError(spec.dir, err.message);
          w.close();
          if (this.live.get(spec.dir)?.w === w) this.live.delete(spec.dir);
          void this.replan();
        });
        this.live.set(spec.dir, { spec, ino, w });
        added = true;
      } catch (err) {
        // Removed between stat and watch: the next event or poll plans again.
        this.onError(spec.dir, (err as Error).message);
      }
    }
    // A file created in a new directory before its watch was set would go unseen until the
    // poll: look once more whenever a watch was (re)armed.
    if (added) this.onEvent('watch armed');
  }
}
