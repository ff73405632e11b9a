// lbctl vrrp [--json]: per instance the state, effective priority and why, the master seen, and
// keepalived-named counters (non-zero errors shown loudly). The lead wires the verb; this only renders.

interface VrrpInstanceView {
  name: string;
  interface: string;
  vrid: number;
  version: number;
  state: string;
  sinceMs: number;
  primaryAddress: string;
  vips: string[];
  vipInterface?: string;
  vmac?: { name: string; mac: string; owned: boolean } | null;
  priority: { configured: number; effective: number; reasons: string[] };
  advertIntervalMs: number;
  masterAdvertIntervalMs?: number;
  masterDownIntervalMs?: number;
  masterSeen: { address: string; priority: number; intervalMs: number; ageMs: number } | null;
  authProblem: { reason: string; from: string; count: number; ageMs: number } | null;
  lastError: string | null;
  stats?: Record<string, number>;
}

interface VrrpView {
  instances: VrrpInstanceView[];
  syncGroups?: { name: string; instances: string[]; states: string[] }[];
  interfaceDrops?: Record<string, Record<string, number>>;
}

const ERROR_STATS = [
  'packet_len_err',
  'advert_interval_err',
  'ip_ttl_err',
  'invalid_type_rcvd',
  'addr_list_err',
  'invalid_authtype',
  'authtype_mismatch',
  'auth_failure',
  'checksum_err',
  'version_err',
];

function ago(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)}s`;
  return `${Math.round(ms / 60_000)}m`;
}

function isView(x: unknown): x is VrrpView {
  return typeof x === 'object' && x !== null && Array.isArray((x as VrrpView).instances);
}

export function renderVrrp(status: unknown): string {
  if (!isView(status)) return 'vrrp: no status (is the vrrp subsystem running?)';
  if (status.instances.length === 0) return 'vrrp: no instances configured';
  const out: string[] = [];
  for (const i of status.instances) {
    out.push(
      `${i.name}  ${i.state.toUpperCase()} for ${ago(i.sinceMs)}  VRRPv${i.version} vrid ${i.vrid} on ${i.interface} from ${i.primaryAddress}`,
    );
    const why = i.priority.reasons.length ? ` (${i.priority.reasons.join('; ')})` : '';
    out.push(`  priority ${i.priority.effective} of ${i.priority.configured}${why}`);
    const on = i.vipInterface && i.vipInterface !== i.interface ? ` on ${i.vipInterface}` : '';
    out.push(`  vips ${i.vips.join(' ')}${on}`);
    if (i.vmac) out.push(`  vmac ${i.vmac.name} ${i.vmac.mac}${i.vmac.owned ? '' : ' (adopted, not ours)'}`);
    const intervals = `advert ${i.advertIntervalMs}ms, master advert ${i.masterAdvertIntervalMs ?? '-'}ms, master down ${i.masterDownIntervalMs ?? '-'}ms`;
    out.push(`  ${intervals}`);
    if (i.masterSeen) {
      out.push(
        `  master seen ${i.masterSeen.address} priority ${i.masterSeen.priority} interval ${i.masterSeen.intervalMs}ms, ${ago(i.masterSeen.ageMs)} ago`,
      );
    } else out.push('  master seen: none');
    if (i.authProblem) {
      out.push(
        `  !! AUTH MISMATCH with ${i.authProblem.from}: ${i.authProblem.reason} x${i.authProblem.count}, last ${ago(i.authProblem.ageMs)} ago — both routers may be master`,
      );
    }
    if (i.lastError) out.push(`  last error: ${i.lastError}`);
    const s = i.stats ?? {};
    out.push(
      `  adverts rcvd ${s.advert_rcvd ?? 0} sent ${s.advert_sent ?? 0}; became master ${s.become_master ?? 0}, released ${s.release_master ?? 0}; priority 0 rcvd ${s.pri_zero_rcvd ?? 0} sent ${s.pri_zero_sent ?? 0}`,
    );
    const errs = ERROR_STATS.filter((k) => (s[k] ?? 0) > 0).map((k) => `${k} ${s[k]}`);
    out.push(`  drops: ${errs.length ? errs.join(', ') : 'none'}`);
  }
  for (const g of status.syncGroups ?? []) {
    out.push(`sync group ${g.name}: ${g.instances.map((n, k) => `${n}=${g.states[k]}`).join(' ')}`);
  }
  for (const [ifkey, d] of Object.entries(status.interfaceDrops ?? {})) {
    const nz = Object.entries(d).filter(([, v]) => v > 0);
    if (nz.length) out.push(`interface ${ifkey} drops: ${nz.map(([k, v]) => `${k} ${v}`).join(', ')}`);
  }
  return out.join('\n');
}
