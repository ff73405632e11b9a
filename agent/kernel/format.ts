// Human text for a plan (`lbagent plan` / `lbctl plan`): one line per operation in the order it
// would run, then the problems. Pure; golden-tested.
import type { LinkInfo, NexthopMsg, RouteMsg } from './codec.js';
import type { KernelOp, KernelPlan } from './types.js';

const SIGN: Record<KernelOp['op'], string> = {
  'add-address': '+',
  'del-address': '-',
  'add-nexthop': '+',
  'replace-nexthop': '~',
  'del-nexthop': '-',
  'add-route': '+',
  'replace-route': '~',
  'del-route': '-',
};

function dev(names: Map<number, string>, ifindex: number | undefined): string {
  return ifindex ? ` dev ${names.get(ifindex) ?? `if${ifindex}`}` : '';
}

function routeText(r: RouteMsg, names: Map<number, string>): string {
  // The family's default metric (0, IPv6 1024) is left out, as `ip route` does.
  const defaultMetric = r.family === 6 ? 1024 : 0;
  const head = `route ${r.dst}/${r.dstLen} table ${r.table}${r.metric !== undefined && r.metric !== defaultMetric ? ` metric ${r.metric}` : ''}`;
  if (r.nhid !== undefined) return `${head} nhid ${r.nhid}`;
  if (r.hops.length === 0) return head;
  if (r.hops.length === 1) return `${head} via ${r.hops[0].via}${dev(names, r.hops[0].ifindex)}`;
  return `${head} ${r.hops.map((h) => `nexthop via ${h.via}${dev(names, h.ifindex)} weight ${h.weight}`).join(' ')}`;
}

function nexthopText(n: NexthopMsg, names: Map<number, string>): string {
  if (n.group) {
    const members = n.group.map((m) => `${m.id}${m.weight !== 1 ? `,${m.weight}` : ''}`).join('/');
    const res = n.resilient
      ? ` type resilient buckets ${n.resilient.buckets} idle_timer ${n.resilient.idleTimerMs / 1000} unbalanced_timer ${n.resilient.unbalancedTimerMs / 1000}`
      : '';
    return `nexthop id ${n.id} group ${members}${res}`;
  }
  return `nexthop id ${n.id} via ${n.via}${dev(names, n.ifindex)}`;
}

export function formatOp(op: KernelOp, names: Map<number, string> = new Map()): string {
  let text: string;
  switch (op.op) {
    case 'add-address':
    case 'del-address':
      text = `address ${op.msg.address}/${op.msg.prefixLen}${dev(names, op.msg.ifindex)}`;
      break;
    case 'add-nexthop':
    case 'replace-nexthop':
      text = nexthopText(op.msg, names);
      break;
    case 'del-nexthop':
      text = `nexthop id ${op.id}`;
      break;
    default:
      text =
        op.op === 'del-route'
          ? routeText({ ...op.msg, hops: [], nhid: undefined }, names)
          : routeText(op.msg, names);
  }
  return `${SIGN[op.op]} ${text}${op.source ? `  (${op.source})` : ''}`;
}

export function formatPlan(plan: KernelPlan, links: LinkInfo[] = []): string {
  const names = new Map(links.map((l) => [l.index, l.name]));
  const lines = plan.ops.map((op) => formatOp(op, names));
  if (lines.length === 0) lines.push('(no changes)');
  for (const p of plan.problems) lines.push(`! ${p.object}: ${p.message}`);
  return `${lines.join('\n')}\n`;
}
