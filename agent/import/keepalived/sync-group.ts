// vrrp_sync_group → vrrp.syncGroups, with the group's tracking put on its members.
import { type Ctx, safeName } from './context.js';
import { SYNC_GROUP } from './keywords.js';
import { readTrack, type Track, type VrrpDefs } from './track.js';
import type { Node } from './tree.js';
import { INSTANCE_REASONS, type Instance } from './vrrp.js';

/** vrrp_sync_group: members, and its tracking copied onto each member (keepalived applies it to all). */
export function convertSyncGroup(
  ctx: Ctx,
  node: Node,
  defs: VrrpDefs,
  instances: Map<string, Instance>,
): { name: string; instances: string[] } | undefined {
  const name = node.args[0] ?? 'group';
  let members: string[] = [];
  const track: Track = { interfaces: [], scripts: [], files: [] };
  let groupWeights = false;
  const notifyWhy = 'lbagent runs notify hooks per instance; give each member instance its own notify';
  ctx.walk(
    node.block,
    `vrrp_sync_group ${name}`,
    SYNC_GROUP,
    {
      group: (n) => {
        members = (n.block ?? []).flatMap((m) => [m.name, ...m.args]);
      },
      track_interface: (n) => readTrack(ctx, defs, n, track),
      track_script: (n) => readTrack(ctx, defs, n, track),
      track_file: (n) => readTrack(ctx, defs, n, track),
      global_tracking: () => {},
      sync_group_tracking_weight: () => {
        groupWeights = true;
      },
    },
    {
      notify_master: notifyWhy,
      notify_backup: notifyWhy,
      notify_fault: notifyWhy,
      notify_stop: notifyWhy,
      notify: notifyWhy,
      track_process: INSTANCE_REASONS.track_process,
      track_bfd: INSTANCE_REASONS.track_bfd,
      smtp_alert: INSTANCE_REASONS.smtp_alert,
      notify_priority_changes: INSTANCE_REASONS.notify_priority_changes,
    },
  );
  const known = members.filter((m) => {
    if (instances.has(safeName(m))) return true;
    ctx.findings.error(node, m, `sync group ${name} names no known vrrp_instance`);
    return false;
  });
  for (const m of known) {
    const inst = instances.get(safeName(m));
    if (!inst) continue;
    inst.track ??= {};
    const t = inst.track;
    // keepalived sets the tracking weights of grouped instances to 0 (FAULT on failure) so all
    // members move together, unless sync_group_tracking_weight is set.
    if (!groupWeights) {
      const weighted =
        t.interfaces?.some((x) => x.weight !== 'fault') ||
        t.scripts?.some((x) => x.weight !== 'fault') ||
        t.files?.some((x) => x.weight !== 0);
      if (weighted)
        ctx.findings.note(
          node,
          `instance ${m}`,
          'in a sync group: tracking weights become 0 (fault), as keepalived does',
        );
      if (t.interfaces) t.interfaces = t.interfaces.map((x) => ({ ...x, weight: 'fault' as const }));
      if (t.scripts) t.scripts = t.scripts.map((x) => ({ ...x, weight: 'fault' as const }));
      if (t.files) t.files = t.files.map((x) => ({ ...x, weight: 0 }));
    }
    if (track.interfaces.length) t.interfaces = [...(t.interfaces ?? []), ...track.interfaces];
    if (track.scripts.length) t.scripts = [...(t.scripts ?? []), ...track.scripts];
    if (track.files.length) t.files = [...(t.files ?? []), ...track.files];
    if (!Object.keys(t).length) inst.track = undefined;
  }
  if (known.length < 2) {
    ctx.findings.unmapped(
      node,
      `vrrp_sync_group ${name}`,
      'a group of fewer than 2 instances has no effect in lbagent',
    );
    return undefined;
  }
  return { name: safeName(name), instances: known.map(safeName) };
}
