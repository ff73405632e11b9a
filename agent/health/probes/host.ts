// Local host checks (the whole LB host): free disk %, available memory %, load per CPU, a file.
// Disk and memory come from systeminformation; load from os.loadavg (what systeminformation
// reports as avgLoad too, without its CPU sampling).
import { access } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import si from 'systeminformation';
import type { Probe } from './types.js';

export interface FsEntry {
  mount: string;
  size: number;
  available: number;
}

/** The filesystem holding `path`: the longest mount point that is a prefix of it. */
export function fsFor(path: string, entries: FsEntry[]): FsEntry | undefined {
  let best: FsEntry | undefined;
  for (const e of entries) {
    const m = e.mount.endsWith('/') ? e.mount : `${e.mount}/`;
    if ((path === e.mount || `${path}/`.startsWith(m)) && (!best || e.mount.length > best.mount.length))
      best = e;
  }
  return best;
}

export function diskProbe(path: string, minFreePercent: number): Probe {
  return async () => {
    const fs = fsFor(path, (await si.fsSize()) as FsEntry[]);
    if (!fs || fs.size <= 0) return { ok: false, reason: `no filesystem found for ${path}` };
    const free = (100 * fs.available) / fs.size;
    return {
      ok: free >= minFreePercent,
      reason: `${free.toFixed(1)}% free on ${fs.mount} (min ${minFreePercent}%)`,
    };
  };
}

export function memoryProbe(minAvailablePercent: number): Probe {
  return async () => {
    const m = await si.mem();
    const avail = (100 * m.available) / m.total;
    return {
      ok: avail >= minAvailablePercent,
      reason: `${avail.toFixed(1)}% memory available (min ${minAvailablePercent}%)`,
    };
  };
}

export function loadProbe(maxPerCpu: number, sample = () => loadavg()[0] / availableParallelism()): Probe {
  return async () => {
    const perCpu = sample();
    return { ok: perCpu <= maxPerCpu, reason: `load ${perCpu.toFixed(2)} per CPU (max ${maxPerCpu})` };
  };
}

export function fileProbe(path: string): Probe {
  return async () => {
    try {
      await access(path);
      return { ok: true, reason: `${path} exists` };
    } catch (err) {
      return { ok: false, reason: `${path}: ${(err as NodeJS.ErrnoException).code ?? 'missing'}` };
    }
  };
}
