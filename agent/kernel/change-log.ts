// One log line per kernel object the agent changed, naming it (keepalived logs "setting VIPs" the
// same way): `journalctl -u lbagent -o cat | jq 'select(.event == "kernel_change")'` answers "who
// added this address, and when". A cold apply of thousands of objects logs the first
// MAX_LINES_PER_RUN and one line with how many more, so the journal stays readable and the
// reconcile is not slowed down by the log sink.
import type { Logger } from 'pino';
import type { KernelOp } from './types.js';

export const MAX_LINES_PER_RUN = 50;

const VERB: Record<KernelOp['op'], [string, string]> = {
  'add-address': ['added', 'address'],
  'del-address': ['removed', 'address'],
  'add-nexthop': ['added', 'nexthop'],
  'replace-nexthop': ['replaced', 'nexthop'],
  'del-nexthop': ['removed', 'nexthop'],
  'add-route': ['added', 'route'],
  'replace-route': ['replaced', 'route'],
  'del-route': ['removed', 'route'],
};

/** An object key in `ip` words: "lo|192.0.2.10/32" -> "192.0.2.10/32 dev lo",
 * "254|198.51.100.0/24|0" -> "198.51.100.0/24 table 254 metric 0". */
export function describeKey(kind: string, key: string): string {
  const f = key.split('|');
  if (kind === 'address' && f.length === 2) return `${f[1]} dev ${f[0]}`;
  if (kind === 'route' && f.length === 3) return `${f[1]} table ${f[0]} metric ${f[2]}`;
  return key;
}

/** "added address 192.0.2.10/32 dev lo" for an op. */
export function describeKernelOp(op: KernelOp): string {
  const [verb, kind] = VERB[op.op];
  return `${verb} ${kind} ${describeKey(kind, op.key)}`;
}

/** Logs the ops the kernel accepted (not those in `failed`: they get their own warn line). */
export function logKernelChanges(log: Logger, reason: string, ops: KernelOp[], failed: Set<string>): void {
  let logged = 0;
  let more = 0;
  for (const op of ops) {
    if (failed.has(op.key)) continue;
    if (logged >= MAX_LINES_PER_RUN) {
      more++;
      continue;
    }
    logged++;
    const [, kind] = VERB[op.op];
    log.info(
      {
        event: 'kernel_change',
        op: op.op,
        kind,
        object: describeKey(kind, op.key),
        reason,
        source: op.source,
      },
      `kernel: ${describeKernelOp(op)}`,
    );
  }
  if (more)
    log.info(
      { event: 'kernel_change', more, reason },
      `kernel: ${more} more change(s) not logged one by one`,
    );
}
