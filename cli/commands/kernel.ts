// `lbctl status` (kernel part): a table of VIPs, routes and nexthop objects with desired vs
// actual state, then errors, problems and counters. Takes the JSON of KernelSubsystem.status().
import type { KernelStatus } from '../../agent/kernel/subsystem.js';

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) =>
    r
      .map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c])))
      .join('  ')
      .trimEnd(),
  );
}

function isStatus(x: unknown): x is KernelStatus {
  return (
    typeof x === 'object' &&
    x !== null &&
    Array.isArray((x as KernelStatus).objects) &&
    typeof (x as KernelStatus).counters === 'object'
  );
}

export function renderKernelStatus(status: unknown): string {
  if (!isStatus(status)) return 'kernel: no status (subsystem not running?)\n';
  const s = status;
  const out: string[] = [];
  const own =
    s.addressProto === 'unsupported'
      ? 'in-memory record (kernel has no IFA_PROTO)'
      : `IFA_PROTO ${s.protocol}`;
  out.push(`kernel: route/nexthop protocol ${s.protocol}, address ownership ${own}`);
  const r = s.lastReconcile;
  if (r) {
    const split =
      r.observeMs !== undefined ? ` (observe ${r.observeMs} / plan ${r.planMs} / apply ${r.applyMs})` : '';
    out.push(
      `last reconcile ${r.at}: ${r.scope}, ${r.durationMs} ms${split}, ${r.planned} planned, ${r.applied} applied, ${r.failed} failed — ${r.reason}`,
    );
  }
  if (s.retryInMs) out.push(`retrying failed operations in ${s.retryInMs} ms`);
  if (s.watch && !s.watch.running)
    out.push('netlink listener: NOT running (periodic resync only until it is back)');
  out.push('');
  if (s.objects.length) {
    const rows = [['KIND', 'OBJECT', 'DESIRED', 'ACTUAL', 'OWNED', 'SOURCE', 'DETAIL']];
    for (const o of s.objects) {
      rows.push([
        o.kind,
        o.key,
        o.desired ? 'yes' : 'no',
        o.actual,
        o.owned ? 'yes' : 'no',
        o.source ?? '-',
        o.detail ?? '',
      ]);
    }
    out.push(...table(rows));
  } else out.push('(no kernel objects wanted or owned)');
  if (s.errors.length) {
    out.push('', 'errors:');
    for (const e of s.errors) out.push(`  ${e.object}: ${e.message}`);
  }
  if (s.problems.length) {
    out.push('', 'problems:');
    for (const p of s.problems) out.push(`  ${p.object}: ${p.message}`);
  }
  if (s.arpTune.length) out.push('', `DSR arp_ignore=1/arp_announce=2 on: ${s.arpTune.join(', ')}`);
  const c = s.counters;
  out.push(
    '',
    `counters: reconciles ${c.reconciles}, writes ${c.writes}, failed ops ${c.failedOps}, dumps ${c.dumps} (retried ${c.dumpRetries}), restored by watch ${c.restoredByWatch}, malformed ${c.malformed}, overruns ${c.overruns}`,
  );
  return `${out.join('\n')}\n`;
}
