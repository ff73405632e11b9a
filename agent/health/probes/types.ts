// A probe does one check attempt against a target. The scheduler owns the timeout: it aborts the
// signal, and every probe must then release what it holds (socket, child process group).
import type { ProbeResult } from '../machine.js';

export type ProbeOutcome = Omit<ProbeResult, 'latencyMs'> & { latencyMs?: number };
export type Probe = ((cancel: Cancel, timeoutMs: number) => Promise<ProbeOutcome>) & {
  /**
   * A plain TCP connect check: the target's struct sockaddr. The scheduler then runs it through
   * the epoll prober (./epoll.ts) when that is available, and calls the function otherwise.
   */
  connectTo?: Buffer;
};

/**
 * Cancellation of one probe run. Lighter than an AbortController (an EventTarget per run shows in
 * profiles at thousands of checks per second); each probe registers one abort handler.
 */
export class Cancel {
  aborted = false;
  private handler?: () => void;

  /** Sets the abort handler (runs at once if already aborted). */
  onAbort(fn: () => void): void {
    if (this.aborted) fn();
    else this.handler = fn;
  }

  clear(): void {
    this.handler = undefined;
  }

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    const fn = this.handler;
    this.handler = undefined;
    fn?.();
  }
}

/** Short reason text of an error: "connect ECONNREFUSED", "ENOTFOUND". */
export function errorReason(prefix: string, err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return `${prefix}${prefix ? ' ' : ''}${e?.code ?? e?.message ?? String(err)}`;
}

/** Host part of a URL / connect option for an address (brackets for IPv6 in URLs). */
export function hostForUrl(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}
