// Descriptor-leak checks for tests that open sockets in their own process.
import { readdirSync } from 'node:fs';

/** How many descriptors this process has open now. */
export function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

/**
 * Open fds once they are back to `bound`, or after 2 s (bounded: 100 polls, 20 ms apart). The
 * server side of a loopback probe lives in the test's process and closes its socket a few
 * event-loop turns later; on a busy machine that takes longer than any fixed sleep, while a real
 * leak still shows after the bounded wait.
 */
export async function fdsBackTo(bound: number): Promise<number> {
  let n = openFds();
  for (let i = 0; i < 100 && n > bound; i++) {
    await new Promise((r) => setTimeout(r, 20));
    n = openFds();
  }
  return n;
}
