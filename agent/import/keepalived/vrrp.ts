// vrrp_instance → vrrp.instances (tracking in ./track.ts, sync groups in ./sync-group.ts).
// keepalived's defaults are written out where lbagent's differ, so the converted instance sends
// the same adverts (vrid, priority, interval, VIPs) and reacts to the same tracked objects.
import { familyOf, parsePrefix } from '../../lib/ip.js';
import { type Ctx, dur, safeName } from './context.js';
import { AUTHENTICATION, VRRP_INSTANCE } from './keywords.js';
import { notifyArgv, readTrack, type Track, type VrrpDefs } from './track.js';
import type { Node } from './tree.js';

export type { VrrpDefs, VrrpGlobals } from './track.js';

export interface Instance {
  name: string;
  interface?: string;
  vrid?: number;
  version?: 2 | 3;
  priority?: number;
  advertInterval?: string;
  preempt?: boolean;
  preemptDelay?: string;
  auth?: { type: 'pass'; password: string };
  vips: string[];
  vipInterface?: string;
  unicast?: { source?: string; peers: string[] };
  garp?: { count?: number; repeatDelay?: string; repeatCount?: number; refresh?: string };
  useVmac?: boolean;
  track?: Partial<Track>;
  notify?: Record<string, string[]>;
}

export const INSTANCE_REASONS: Record<string, string> = {
  virtual_ipaddress_excluded:
    'lbagent advertises every VIP of an instance; put these in virtual_ipaddress or in a second instance',
  virtual_routes: 'lbagent has no routes that follow VRRP state; use `routes:` (always present)',
  virtual_rules: 'lbagent does not manage ip rules',
  track_process: 'lbagent has no process tracking; use a track script (e.g. pidof) instead',
  track_bfd: 'lbagent has no BFD',
  mcast_src_ip: "lbagent sends from the interface's primary address",
  mcast_dst_ip: 'lbagent sends to the standard VRRP group (224.0.0.18 / ff02::12)',
  use_ipvlan: 'lbagent creates macvlan VMACs only (use_vmac)',
  vmac_xmit_base: 'lbagent sends adverts on the VMAC',
  use_vmac_addr: 'lbagent puts all VIPs on one interface per instance',
  no_accept: 'lbagent always accepts packets to its VIPs (accept mode)',
  strict_mode: 'lbagent has no strict mode (it never uses authentication or IPv4 v3 with accept off)',
  vrf: 'lbagent does not bind VRRP to a VRF',
  garp_lower_prio_delay: 'lbagent sends no extra GARPs on a lower-priority advert',
  garp_lower_prio_repeat: 'lbagent sends no extra GARPs on a lower-priority advert',
  garp_extra_if: 'lbagent sends GARPs on the VIP interface only',
  vmac_garp_intvl: 'lbagent sends GARPs on the VIP interface only',
  down_timer_adverts: 'lbagent uses the RFC master down interval (3 adverts + skew)',
  smtp_alert: 'lbagent sends no e-mail; alert on lbagent_vrrp_* metrics or the transition log lines',
  notify_priority_changes: 'lbagent has no notify FIFO; priority is in lbctl vrrp and metrics',
  notify_deleted: 'lbagent runs notify.stop when an instance is removed',
  notify_master_rx_lower_pri: 'lbagent has no such hook',
  lvs_sync_daemon_interface: 'lbagent does not run the IPVS sync daemon',
  unicast_fault_no_peer: 'lbagent requires at least one unicast peer (check-config)',
  check_unicast_src: 'lbagent accepts adverts from any source in unicast mode',
  unicast_ttl: 'lbagent sends with TTL 255 as the RFC asks',
  old_unicast_checksum: 'lbagent computes the RFC checksum (checksumAsV2 for the pre-1.3.6 v3 one)',
  lower_prio_no_advert: 'lbagent answers a lower-priority advert as RFC 5798 says',
  higher_prio_send_advert: 'lbagent does not send an extra advert before yielding',
  track_src_ip: 'lbagent does not track the source address',
  promote_secondaries: 'lbagent does not set promote_secondaries',
  kernel_rx_buf_size: 'lbagent sizes its socket buffers itself',
  linkbeat_use_polling: 'lbagent follows links over netlink',
  skip_check_adv_addr:
    'lbagent counts adverts whose VIP list differs and keeps going (as keepalived with this set)',
  debug: 'use lbctl log-level debug',
};

const VIP_OPTIONS_UNMAPPED: Record<string, string> = {
  label: 'lbagent adds VIPs without a label',
  scope: 'lbagent adds VIPs with scope global',
  brd: 'lbagent adds VIPs without a broadcast address',
  broadcast: 'lbagent adds VIPs without a broadcast address',
  peer: 'lbagent adds VIPs without a peer address',
  home: 'lbagent sets no IPv6 address flags',
  '-nodad': 'lbagent sets no IPv6 address flags',
  nodad: 'lbagent sets no IPv6 address flags',
  mngtmpaddr: 'lbagent sets no IPv6 address flags',
  noprefixroute: 'lbagent sets no address flags',
  autojoin: 'lbagent sets no address flags',
  no_track: 'lbagent restores a VIP removed by hand while master',
  preferred_lft: 'lbagent adds VIPs with the default lifetime',
  use_vmac: 'lbagent puts all VIPs of an instance on one interface',
  track_group: 'lbagent has no track groups',
};
const VIP_OPTION_ARGS = new Set([
  'dev',
  'label',
  'scope',
  'brd',
  'broadcast',
  'peer',
  'preferred_lft',
  'track_group',
]);

interface Vip {
  address: string;
  dev?: string;
  node: Node;
}

function readVips(ctx: Ctx, n: Node): Vip[] {
  const out: Vip[] = [];
  for (const e of n.block ?? []) {
    const p = parsePrefix(e.name, { allowHostBits: true });
    if (typeof p === 'string') {
      ctx.findings.error(e, e.name, `not an address: ${p}`);
      continue;
    }
    const v: Vip = { address: e.name, node: e };
    for (let i = 0; i < e.args.length; i++) {
      const o = e.args[i];
      const val = VIP_OPTION_ARGS.has(o) ? e.args[++i] : undefined;
      if (o === 'dev') v.dev = val;
      else if (o === 'scope' && val === 'global') continue;
      else if (VIP_OPTIONS_UNMAPPED[o])
        ctx.findings.unmapped(e, `${o}${val !== undefined ? ` ${val}` : ''}`, VIP_OPTIONS_UNMAPPED[o]);
      else ctx.findings.error(e, o, `unknown virtual_ipaddress option for ${e.name}`);
    }
    out.push(v);
  }
  return out;
}

export function convertInstance(ctx: Ctx, node: Node, defs: VrrpDefs): Instance | undefined {
  const name = node.args[0];
  if (!name) {
    ctx.findings.error(node, 'vrrp_instance', 'needs a name');
    return undefined;
  }
  const inst: Instance = { name: safeName(name), vips: [] };
  if (inst.name !== name)
    ctx.findings.note(
      node,
      'vrrp_instance',
      `renamed "${name}" to "${inst.name}" (lbagent names are A-Z a-z 0-9 _ . -)`,
    );
  const track: Track = { interfaces: [], scripts: [], files: [] };
  const garp = { ...defs.globals };
  let vips: Vip[] = [];
  let advertMs = 1000;
  let version = defs.globals.version;
  let vmacName: string | undefined;
  let trackPrimary = true;
  const notify: Record<string, string[]> = {};
  ctx.walk(
    node.block,
    `vrrp_instance ${name}`,
    VRRP_INSTANCE,
    {
      state: (n) => {
        if (n.args[0] !== 'MASTER' && n.args[0] !== 'BACKUP')
          ctx.findings.error(n, 'state', 'must be MASTER or BACKUP');
        else if (n.args[0] === 'MASTER')
          ctx.findings.note(
            n,
            'state MASTER',
            'lbagent starts as backup and takes over after the master down interval unless priority is 255, as keepalived 2.2 does',
          );
      },
      interface: (n) => {
        inst.interface = ctx.arg(n);
      },
      virtual_router_id: (n) => {
        inst.vrid = ctx.int(n, 0, 1, 255);
      },
      priority: (n) => {
        inst.priority = ctx.int(n, 0, 1, 255);
      },
      advert_int: (n) => {
        advertMs = ctx.timer(n) ?? advertMs;
      },
      version: (n) => {
        const v = ctx.int(n, 0, 2, 3);
        if (v === 2 || v === 3) version = v;
      },
      native_ipv6: () => {
        version = 3;
      },
      nopreempt: () => {
        inst.preempt = false;
      },
      preempt: () => {},
      accept: () => {},
      dont_track_primary: () => {
        trackPrimary = false;
      },
      preempt_delay: (n) => {
        const ms = ctx.timer(n);
        if (ms !== undefined) inst.preemptDelay = dur(ms);
      },
      authentication: (n) => {
        let type: string | undefined;
        let pass: string | undefined;
        ctx.walk(n.block, 'authentication', AUTHENTICATION, {
          auth_type: (a) => {
            type = ctx.arg(a);
          },
          auth_pass: (a) => {
            pass = ctx.arg(a);
          },
        });
        if (type === 'AH')
          ctx.findings.unmapped(
            n,
            'auth_type AH',
            'lbagent supports PASS only (AH is deprecated by RFC 5798)',
          );
        else if (type !== 'PASS') ctx.findings.error(n, 'auth_type', `"${type ?? ''}" is not PASS or AH`);
        else if (!pass) ctx.findings.error(n, 'auth_pass', 'missing');
        else {
          if (pass.length > 8)
            ctx.findings.note(
              n,
              'auth_pass',
              'longer than 8 characters: only the first 8 are used (as keepalived does)',
            );
          inst.auth = { type: 'pass', password: pass.slice(0, 8) };
        }
      },
      virtual_ipaddress: (n) => {
        vips = vips.concat(readVips(ctx, n));
      },
      unicast_src_ip: (n) => {
        const a = ctx.arg(n);
        if (a) inst.unicast = { ...inst.unicast, source: a, peers: inst.unicast?.peers ?? [] };
      },
      unicast_peer: (n) => {
        const peers = (n.block ?? []).map((p) => {
          if (p.args.length)
            ctx.findings.unmapped(p, `${p.name} ${p.args.join(' ')}`, 'lbagent has no per-peer TTL checks');
          return p.name;
        });
        inst.unicast = { ...inst.unicast, peers: [...(inst.unicast?.peers ?? []), ...peers] };
      },
      use_vmac: (n) => {
        inst.useVmac = true;
        vmacName = n.args[0];
        if (n.args.length > 1)
          ctx.findings.unmapped(
            n,
            `use_vmac ${n.args.slice(1).join(' ')}`,
            'lbagent uses the RFC virtual MAC 00:00:5e:00:01:VRID',
          );
      },
      garp_master_delay: (n) => {
        garp.garpDelay = ctx.timer(n) ?? garp.garpDelay;
      },
      garp_master_repeat: (n) => {
        garp.garpRepeat = ctx.int(n, 0, 0, 100) ?? garp.garpRepeat;
      },
      garp_master_refresh: (n) => {
        garp.garpRefresh = ctx.timer(n) ?? garp.garpRefresh;
      },
      garp_master_refresh_repeat: (n) => {
        garp.garpRefreshRepeat = ctx.int(n, 0, 1, 100) ?? garp.garpRefreshRepeat;
      },
      track_interface: (n) => readTrack(ctx, defs, n, track),
      track_script: (n) => readTrack(ctx, defs, n, track),
      track_file: (n) => readTrack(ctx, defs, n, track),
      notify_master: (n) => {
        const a = notifyArgv(ctx, n);
        if (a) notify.master = a;
      },
      notify_backup: (n) => {
        const a = notifyArgv(ctx, n);
        if (a) notify.backup = a;
      },
      notify_fault: (n) => {
        const a = notifyArgv(ctx, n);
        if (a) notify.fault = a;
      },
      notify_stop: (n) => {
        const a = notifyArgv(ctx, n);
        if (a) notify.stop = a;
      },
      notify: (n) => {
        const a = notifyArgv(ctx, n);
        // keepalived appends INSTANCE NAME STATE PRIORITY; lbagent appends NAME STATE PRIORITY.
        if (a) notify.any = [...a, 'INSTANCE'];
      },
    },
    INSTANCE_REASONS,
  );

  if (!inst.interface)
    ctx.findings.unmapped(
      node,
      'interface',
      'lbagent needs the interface of every instance (keepalived can omit it with unicast)',
    );
  if (inst.vrid === undefined)
    ctx.findings.error(node, 'virtual_router_id', `vrrp_instance ${name} has none`);
  if (!vips.length) ctx.findings.error(node, 'virtual_ipaddress', `vrrp_instance ${name} has no VIPs`);

  // One interface carries the VIPs: the one most of them name (the instance's on a tie).
  const counts = new Map<string | undefined, number>();
  for (const v of vips) counts.set(v.dev ?? inst.interface, (counts.get(v.dev ?? inst.interface) ?? 0) + 1);
  let vipIf = inst.interface;
  for (const [dev, c] of counts) if (c > (counts.get(vipIf) ?? 0)) vipIf = dev;
  for (const v of vips) {
    if (inst.vips.includes(v.address)) {
      ctx.findings.note(v.node, v.address, 'listed twice; added once');
      continue;
    }
    if ((v.dev ?? inst.interface) !== vipIf) {
      ctx.findings.unmapped(
        v.node,
        `${v.address} dev ${v.dev}`,
        `lbagent puts all VIPs of an instance on one interface (${vipIf}); left out`,
      );
      continue;
    }
    inst.vips.push(v.address);
  }
  if (vipIf && vipIf !== inst.interface) inst.vipInterface = vipIf;
  const v6 = inst.vips.some((a) => familyOf(a.split('/')[0]) === 6);
  if (v6 && version !== 3) {
    if (version === 2) ctx.findings.note(node, 'version 2', 'IPv6 VIPs: VRRPv3 is used (as keepalived does)');
    version = 3;
  }
  if (version === 3) inst.version = 3;
  if (version !== 3 && advertMs % 1000 !== 0) {
    const rounded = Math.max(1000, Math.round(advertMs / 1000) * 1000);
    ctx.findings.note(
      node,
      'advert_int',
      `VRRPv2 carries whole seconds: ${advertMs} ms is sent as ${rounded / 1000} s`,
    );
    advertMs = rounded;
  }
  if (version === 3 && advertMs % 10 !== 0) advertMs = Math.round(advertMs / 10) * 10;
  if (advertMs !== 1000) inst.advertInterval = dur(advertMs);
  if (inst.auth && version === 3) {
    ctx.findings.unmapped(node, 'authentication', 'VRRPv3 has no authentication (keepalived ignores it too)');
    inst.auth = undefined;
  }
  if (inst.useVmac && vmacName && vmacName !== `vrrp${v6 ? '6' : ''}.${inst.vrid}`)
    ctx.findings.unmapped(
      node,
      `use_vmac ${vmacName}`,
      `lbagent names the VMAC vrrp${v6 ? '6' : ''}.${inst.vrid}`,
    );

  // GARP: keepalived's defaults are lbagent's (5 at once, 5 more after 5 s); only differences are written.
  const g: NonNullable<Instance['garp']> = {};
  if (garp.garpRepeat !== undefined && garp.garpRepeat !== 5) {
    g.count = garp.garpRepeat;
    g.repeatCount = garp.garpRepeat;
  }
  if (garp.garpDelay !== undefined && garp.garpDelay !== 5000) {
    if (garp.garpDelay === 0) g.repeatCount = 0;
    else g.repeatDelay = dur(garp.garpDelay);
  }
  if (garp.garpRefresh) {
    g.refresh = dur(garp.garpRefresh);
    if ((garp.garpRefreshRepeat ?? 1) !== 1)
      ctx.findings.unmapped(
        node,
        'garp_master_refresh_repeat',
        'lbagent sends one GARP per VIP at each refresh',
      );
  }
  if (Object.keys(g).length) inst.garp = g;

  // keepalived puts an instance in FAULT when its own interface goes down (unless
  // dont_track_primary); lbagent tracks only what it is told to, so the conversion says it.
  if (trackPrimary && inst.interface && !track.interfaces.some((i) => i.name === inst.interface))
    track.interfaces.unshift({ name: inst.interface, weight: 'fault' });
  const t: Partial<Track> = {};
  if (track.interfaces.length) t.interfaces = track.interfaces;
  if (track.scripts.length) t.scripts = track.scripts;
  if (track.files.length) t.files = track.files;
  if (Object.keys(t).length) inst.track = t;
  if (Object.keys(notify).length) inst.notify = notify;
  return ordered(inst);
}

const ORDER = [
  'name',
  'interface',
  'vrid',
  'version',
  'priority',
  'advertInterval',
  'preempt',
  'preemptDelay',
  'auth',
  'unicast',
  'useVmac',
  'vipInterface',
  'vips',
  'garp',
  'track',
  'notify',
];

/** The keys in the order an operator reads an instance (identity, timers, addresses, hooks). */
function ordered(inst: Instance): Instance {
  const out: Record<string, unknown> = {};
  for (const k of ORDER)
    if ((inst as unknown as Record<string, unknown>)[k] !== undefined)
      out[k] = (inst as unknown as Record<string, unknown>)[k];
  return out as unknown as Instance;
}
