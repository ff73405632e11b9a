// `lbagent import keepalived`: keepalived.conf (with includes and definitions) → an lbagent
// config object, plus findings for everything that did not carry over. Pure: files come through
// the injected reader, so tests and the CLI share it.
import { parsePrefix } from '../../lib/ip.js';
import { Findings } from '../report.js';
import { Ctx, safeName } from './context.js';
import { convertVirtualServer, type ServiceOut } from './ipvs.js';
import { GLOBAL_DEFS, ROOT } from './keywords.js';
import { type ConfReader, type ReadOptions, readConf } from './lines.js';
import { convertSyncGroup } from './sync-group.js';
import { buildTree, type Node } from './tree.js';
import { convertInstance, type Instance, type VrrpDefs, type VrrpGlobals } from './vrrp.js';

export type { ConfReader, ReadOptions } from './lines.js';

export interface KeepalivedImport {
  config: Record<string, unknown>;
  findings: Findings;
  /** Where each converted object came from, for comments in the YAML ("vrrp.instances.0" → "file:line"). */
  origins: Map<string, string>;
}

const ROOT_REASONS: Record<string, string> = {
  static_routes: 'lbagent routes are `routes:` with nexthops; add them by hand (multipath, resilient groups)',
  static_rules: 'lbagent does not manage ip rules',
  track_group: 'lbagent has no track groups',
  garp_group: 'lbagent spaces its GARPs itself',
  linkbeat_interfaces: 'lbagent follows links over netlink',
  interface_up_down_delays: 'lbagent reacts to link changes at once',
  vrrp_track_process: 'lbagent has no process tracking; use a track script (e.g. pidof) instead',
  SSL: 'lbagent checks HTTPS without client certificates and without verifying (insecure) as keepalived does by default',
  bfd_instance: 'lbagent has no BFD',
  net_namespace: 'run lbagent itself in the namespace (ip netns exec / systemd NetworkNamespacePath)',
  net_namespace_ipvs: 'lbagent programs IPVS in its own namespace',
  namespace_with_ipsets: 'lbagent does not use ipsets',
  use_pid_dir: 'systemd runs lbagent; its runtime directory is /run/lbagent',
  instance: 'one lbagent per host (a second is refused)',
  child_wait_time: 'lbagent is one process',
  linkbeat_use_polling: 'lbagent follows links over netlink',
};

const GLOBAL_REASONS: Record<string, string> = {
  notification_email: 'lbagent sends no e-mail; alert on lbagent_* metrics or its log',
  notification_email_from: 'lbagent sends no e-mail',
  smtp_server: 'lbagent sends no e-mail',
  smtp_helo_name: 'lbagent sends no e-mail',
  smtp_connect_timeout: 'lbagent sends no e-mail',
  smtp_alert: 'lbagent sends no e-mail',
  smtp_alert_vrrp: 'lbagent sends no e-mail',
  smtp_alert_checker: 'lbagent sends no e-mail',
  no_email_faults: 'lbagent sends no e-mail',
  script_user: 'lbagent runs notify and track scripts as itself (root); exec checks take `user:` per check',
  vrrp_strict: 'lbagent has no strict mode',
  vrrp_skip_check_adv_addr: 'lbagent counts adverts whose VIP list differs and keeps going',
  vrrp_iptables: 'lbagent does not touch iptables/nftables',
  nftables: 'lbagent does not touch iptables/nftables',
  lvs_flush: 'lbagent never flushes IPVS: it changes only the services it owns',
  lvs_flush_on_stop:
    'lbagent keeps its IPVS services on stop (hitless restart); kernel.removeOnStop removes them',
  lvs_sync_daemon: 'lbagent does not run the IPVS sync daemon',
  lvs_timeouts: 'lbagent does not set IPVS timeouts',
  enable_snmp_vrrp: 'lbagent has no SNMP; use its Prometheus metrics',
  enable_snmp_checker: 'lbagent has no SNMP; use its Prometheus metrics',
  enable_traps: 'lbagent has no SNMP',
  vrrp_garp_interval: 'lbagent spaces its GARPs itself',
  vrrp_gna_interval: 'lbagent spaces its neighbour adverts itself',
  vrrp_garp_lower_prio_delay: 'lbagent sends no extra GARPs on a lower-priority advert',
  vrrp_garp_lower_prio_repeat: 'lbagent sends no extra GARPs on a lower-priority advert',
  vrrp_mcast_group4: 'lbagent sends to 224.0.0.18',
  vrrp_mcast_group6: 'lbagent sends to ff02::12',
  dynamic_interfaces: 'lbagent waits for missing interfaces by itself (kernel: unresolved)',
};

function globalDefs(ctx: Ctx, n: Node, out: { nodeName?: string; vrrp: VrrpGlobals }): void {
  ctx.walk(
    n.block,
    'global_defs',
    GLOBAL_DEFS,
    {
      router_id: (x) => {
        const v = ctx.arg(x);
        if (v) out.nodeName = v;
      },
      vrrp_version: (x) => {
        const v = ctx.int(x, 0, 2, 3);
        if (v === 2 || v === 3) out.vrrp.version = v;
      },
      vrrp_garp_master_delay: (x) => {
        out.vrrp.garpDelay = ctx.timer(x);
      },
      vrrp_garp_master_repeat: (x) => {
        out.vrrp.garpRepeat = ctx.int(x, 0, 0, 100);
      },
      vrrp_garp_master_refresh: (x) => {
        out.vrrp.garpRefresh = ctx.timer(x);
      },
      vrrp_garp_master_refresh_repeat: (x) => {
        out.vrrp.garpRefreshRepeat = ctx.int(x, 0, 1, 100);
      },
      enable_script_security: (x) => {
        ctx.findings.note(
          x,
          x.name,
          'nothing to convert: lbagent runs commands as argument arrays, never through a shell',
        );
      },
      script_user: (x) => {
        if (x.args[0] === 'root' && x.args.length === 1)
          ctx.findings.note(x, 'script_user root', 'lbagent runs scripts as root too');
        else ctx.findings.unmapped(x, `script_user ${x.args.join(' ')}`, GLOBAL_REASONS.script_user);
      },
    },
    GLOBAL_REASONS,
    'a keepalived process setting with no lbagent equivalent',
  );
}

/** static_ipaddress: addresses always present → top-level `vips`. */
function staticAddresses(ctx: Ctx, n: Node): { address: string; interface: string }[] {
  const out: { address: string; interface: string }[] = [];
  for (const e of n.block ?? []) {
    const p = parsePrefix(e.name, { allowHostBits: true });
    if (typeof p === 'string') {
      ctx.findings.error(e, e.name, `not an address: ${p}`);
      continue;
    }
    const dev = e.args[e.args.indexOf('dev') + 1];
    if (!e.args.includes('dev') || !dev) {
      ctx.findings.unmapped(
        e,
        e.name,
        'static address without dev: keepalived puts it on its default interface; name the interface',
      );
      continue;
    }
    const rest = e.args.filter((_, i) => i !== e.args.indexOf('dev') && i !== e.args.indexOf('dev') + 1);
    if (rest.length)
      ctx.findings.unmapped(
        e,
        `${e.name} ${rest.join(' ')}`,
        'lbagent adds static addresses without label, scope or flags',
      );
    out.push({ address: e.name, interface: dev });
  }
  return out;
}

export function importKeepalived(
  entry: string,
  reader: ConfReader,
  opts: ReadOptions = {},
): KeepalivedImport {
  const findings = new Findings();
  const ctx = new Ctx(findings);
  const tree = buildTree(readConf(entry, reader, findings, opts), findings);
  const origins = new Map<string, string>();
  const at = (n: Node) => `${n.file}:${n.line}`;

  // Definitions first: vrrp_script / track_file / virtual_server_group can come after their users.
  const defs: VrrpDefs = { scripts: new Map(), trackFiles: new Map(), globals: {} };
  const groups = new Map<string, Node>();
  const g: { nodeName?: string; vrrp: VrrpGlobals } = { vrrp: defs.globals };
  const byKind = (name: string) => tree.filter((n) => n.name === name);
  for (const n of byKind('global_defs')) globalDefs(ctx, n, g);
  for (const n of byKind('vrrp_script')) defs.scripts.set(n.args[0] ?? '', n);
  for (const n of [...byKind('track_file'), ...byKind('vrrp_track_file')])
    defs.trackFiles.set(n.args[0] ?? '', n);
  for (const n of byKind('virtual_server_group')) groups.set(n.args[0] ?? '', n);

  const instances = new Map<string, Instance>();
  const syncGroups: { name: string; instances: string[] }[] = [];
  const services: ServiceOut[] = [];
  const vips: { address: string; interface: string }[] = [];
  const used = new Set<string>();
  const syncNodes: Node[] = [];
  for (const n of tree) {
    switch (n.name) {
      case 'global_defs':
      case 'vrrp_script':
      case 'track_file':
      case 'vrrp_track_file':
      case 'virtual_server_group':
        break;
      case 'vrrp_instance': {
        const inst = convertInstance(ctx, n, defs);
        if (!inst) break;
        if (instances.has(inst.name)) {
          findings.error(n, `vrrp_instance ${inst.name}`, 'defined twice; the second is left out');
          break;
        }
        origins.set(`vrrp.instances.${instances.size}`, at(n));
        instances.set(inst.name, inst);
        break;
      }
      case 'vrrp_sync_group':
        syncNodes.push(n);
        break;
      case 'virtual_server':
        for (const s of convertVirtualServer(ctx, n, groups, used)) {
          origins.set(`ipvs.services.${services.length}`, at(n));
          services.push(s);
        }
        break;
      case 'static_ipaddress':
        vips.push(...staticAddresses(ctx, n));
        break;
      default:
        if (ROOT.has(n.name))
          findings.unmapped(n, n.name, ROOT_REASONS[n.name] ?? 'lbagent has no equivalent');
        else ctx.unknown(n, 'the top level', ROOT);
    }
  }
  for (const n of syncNodes) {
    const sg = convertSyncGroup(ctx, n, defs, instances);
    if (sg) syncGroups.push(sg);
  }

  const config: Record<string, unknown> = {};
  if (g.nodeName) {
    config.node = { name: g.nodeName };
    if (safeName(g.nodeName) !== g.nodeName)
      findings.note({ file: entry, line: 0 }, 'router_id', 'kept as node.name');
  }
  if (vips.length) config.vips = vips;
  if (services.length) config.ipvs = { services };
  if (instances.size) {
    const vrrp: Record<string, unknown> = { instances: [...instances.values()] };
    if (syncGroups.length) vrrp.syncGroups = syncGroups;
    config.vrrp = vrrp;
  }
  return { config, findings, origins };
}
