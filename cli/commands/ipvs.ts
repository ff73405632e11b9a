// `lbctl ipvs` rendering: an `ipvsadm -Ln`-like table of the IPVS subsystem's status (the lead wires
// the verb; `--json` prints the status object as is). Services print in key order and destinations
// in kernel list order (head first, the order the Maglev table is built from), unlike ipvsadm which
// sorts them.

interface Dest {
  family: 4 | 6;
  address: string;
  port: number;
  forwarding: string;
  weight: number;
  activeConns: number;
  inactConns: number;
  tunnelType?: string;
  tunnelPort?: number;
}
interface Service {
  key: string;
  name?: string;
  owned: boolean;
  family: 4 | 6;
  protocol: string;
  address?: string;
  port?: number;
  fwmark?: number;
  scheduler: string;
  flagNames: string[];
  timeout: number;
  netmask: number;
  pe?: string;
  dests: Dest[];
}
interface Status {
  available: boolean;
  reason?: string;
  info?: { version: string; connTableSize: number };
  services: Service[];
  lastReconcile?: { at: string; writes: number; errors: string[] };
}

const FWD: Record<string, string> = { nat: 'Masq', dr: 'Route', tun: 'Tunnel', local: 'Local' };
const hostPort = (family: 4 | 6, a: string, p: number) => (family === 6 ? `[${a}]:${p}` : `${a}:${p}`);

function netmaskText(s: Service): string {
  if (s.family === 6) return String(s.netmask);
  const n = s.netmask >>> 0;
  return [24, 16, 8, 0].map((sh) => (n >>> sh) & 255).join('.');
}

export function renderIpvs(status: unknown): string {
  const st = status as Status | undefined;
  if (!st || typeof st !== 'object') return 'IPVS: no status\n';
  if (!st.available) return `IPVS unavailable: ${st.reason ?? 'unknown reason'}\n`;
  const lines: string[] = [];
  lines.push(`IP Virtual Server version ${st.info?.version ?? '?'} (size=${st.info?.connTableSize ?? '?'})`);
  lines.push('Prot LocalAddress:Port Scheduler Flags');
  lines.push('  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn');
  for (const s of [...st.services].sort((a, b) => a.key.localeCompare(b.key))) {
    const where = s.fwmark
      ? `FWM  ${s.fwmark}${s.family === 6 ? ' IPv6' : ''}`
      : `${s.protocol.toUpperCase().padEnd(4)} ${hostPort(s.family, s.address ?? '?', s.port ?? 0)}`;
    const flags = [...s.flagNames.filter((f) => f !== 'persistent')];
    let line = `${where} ${s.scheduler}`;
    if (flags.length) line += ` (${flags.join(',')})`;
    if (s.flagNames.includes('persistent')) {
      line += ` persistent ${s.timeout}`;
      if ((s.family === 4 && s.netmask >>> 0 !== 0xffffffff) || (s.family === 6 && s.netmask !== 128))
        line += ` mask ${netmaskText(s)}`;
      if (s.pe) line += ` pe ${s.pe}`;
    }
    line += s.name ? `  [${s.name}]` : s.owned ? '  [owned]' : '  [not managed]';
    lines.push(line);
    for (const d of s.dests) {
      const fwd = FWD[d.forwarding] ?? d.forwarding;
      const tun =
        d.forwarding === 'tun' && d.tunnelType && d.tunnelType !== 'ipip'
          ? ` ${d.tunnelType}${d.tunnelPort ? `:${d.tunnelPort}` : ''}`
          : '';
      lines.push(
        `  -> ${hostPort(d.family, d.address, d.port).padEnd(28)} ${fwd.padEnd(7)} ${String(d.weight).padEnd(6)} ${String(d.activeConns).padEnd(10)} ${d.inactConns}${tun}`,
      );
    }
  }
  if (st.lastReconcile) {
    const errs = st.lastReconcile.errors.length;
    lines.push(
      `last reconcile ${st.lastReconcile.at}: ${st.lastReconcile.writes} writes${errs ? `, ${errs} errors: ${st.lastReconcile.errors[0]}` : ''}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
