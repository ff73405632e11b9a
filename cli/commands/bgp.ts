// lbctl bgp [--json]: each prefix with its state, attributes, whether it is on the wire (ExaBGP's
// adj-rib-out checked against an established neighbor carrying its family) and its last ack,
// and the ExaBGP bridges with their BGP neighbors (session state, families).
import type { Command } from 'commander';
import type { CliContext } from '../context.js';

interface BgpStatus {
  stopGraceMs: number;
  bridges: {
    id: number;
    pid: number;
    exabgpPid: number;
    acks: { done: number; error: number };
    neighbors: Record<string, { state: string; since?: string; detail?: string; families?: string[] }>;
  }[];
  announcements: {
    prefix: string;
    state: string;
    reasons: string[];
    announced: boolean;
    attributes: Record<string, unknown>;
    acked: boolean;
    onWire?: boolean;
    rejected?: boolean;
    wire?: string;
    lastAck: { ok: boolean; at: number; latencyMs: number } | null;
  }[];
}

export function formatBgpStatus(s: BgpStatus): string[] {
  const lines: string[] = [];
  if (s.bridges.length === 0)
    lines.push('ExaBGP: no bridge connected (is ExaBGP running with the lbagent process?)');
  for (const b of s.bridges) {
    const n = Object.entries(b.neighbors).map(
      ([ip, v]) => `${ip} ${v.state}${v.families?.length ? ` (${v.families.join(', ')})` : ''}`,
    );
    lines.push(
      `ExaBGP pid ${b.exabgpPid} (bridge ${b.pid}): acks ${b.acks.done} done, ${b.acks.error} error; neighbors: ${n.join(', ') || 'none reported'}`,
    );
  }
  for (const a of s.announcements) {
    const attrs = Object.entries(a.attributes)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : String(v)}`)
      .join(' ');
    const ack = a.lastAck
      ? `${a.lastAck.ok ? 'done' : 'ERROR'} ${new Date(a.lastAck.at).toISOString()} (${a.lastAck.latencyMs} ms)`
      : 'none';
    // on the wire / acked (in ExaBGP, no session up) / REJECTED / NOT ACKED (pending, error)
    const verdict = a.rejected ? 'REJECTED' : a.onWire ? 'on-wire' : a.acked ? 'acked' : 'NOT ACKED';
    lines.push(
      `${a.prefix.padEnd(20)} ${a.state.padEnd(9)} ${a.announced ? 'announced' : 'withdrawn'} ${verdict}  ${attrs}`,
    );
    if (a.wire) lines.push(`${''.padEnd(20)} ${a.rejected ? 'rejected: ' : ''}${a.wire}`);
    lines.push(`${''.padEnd(20)} last ack: ${ack}${a.reasons.length ? `; ${a.reasons.join('; ')}` : ''}`);
  }
  return lines;
}

export function registerBgpCommands(program: Command, ctx: () => CliContext): void {
  program
    .command('bgp')
    .description('BGP announcements: state, attributes, ExaBGP acks and sessions')
    .action(async () => {
      const c = ctx();
      const s = (await c.call('bgp.status')) as BgpStatus;
      if (c.json) c.out(JSON.stringify(s, null, 2));
      else for (const l of formatBgpStatus(s)) c.out(l);
    });
}
