// Ownership of IPVS services. IPVS objects carry no owner mark (unlike routes' protocol 199), so
// the agent records the services it created or adopted in a state file under /run (tmpfs: it goes
// away on reboot together with the IPVS table). IPVS is per network namespace, so the file name
// carries the namespace's inode. A service is touched only if it is in the config (adopted when
// already present) or listed in this file (then it is deleted once the config drops it).
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export function defaultStateFile(): string {
  let ns = 'unknown';
  try {
    ns = String(statSync('/proc/self/ns/net').ino);
  } catch {
    // no /proc: one file for the host
  }
  return `/run/lbagent/ipvs-owned-netns${ns}.json`;
}

export class OwnedServices {
  private keys = new Set<string>();

  constructor(readonly path: string) {}

  /** Loads the file; a missing file is an empty set, a corrupt one an error naming the file. */
  load(): void {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        this.keys = new Set();
        return;
      }
      throw new Error(`IPVS ownership file ${this.path}: ${(err as Error).message}`);
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (err) {
      throw new Error(`IPVS ownership file ${this.path} is not JSON: ${(err as Error).message}`);
    }
    const services = (data as { services?: unknown }).services;
    if (!Array.isArray(services) || !services.every((s) => typeof s === 'string')) {
      throw new Error(`IPVS ownership file ${this.path}: expected {"services": [string, ...]}`);
    }
    this.keys = new Set(services as string[]);
  }

  has(key: string): boolean {
    return this.keys.has(key);
  }

  get set(): ReadonlySet<string> {
    return this.keys;
  }

  /** Replaces the set and writes it atomically (write + rename) when it changed. */
  save(keys: Iterable<string>): void {
    const next = new Set(keys);
    if (next.size === this.keys.size && [...next].every((k) => this.keys.has(k))) return;
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o755 });
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, `${JSON.stringify({ services: [...next].sort() }, null, 1)}\n`, { mode: 0o644 });
    renameSync(tmp, this.path);
    this.keys = next;
  }
}
