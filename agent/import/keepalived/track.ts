// Tracking blocks (track_interface / track_script / track_file, of an instance or a sync group)
// and the named vrrp_script / track_file definitions they refer to, as lbagent's `track:`.
import { type Ctx, dur } from './context.js';
import { TRACK_FILE, VRRP_SCRIPT } from './keywords.js';
import { splitScript } from './lines.js';
import type { Node } from './tree.js';

export interface VrrpGlobals {
  version?: 2 | 3;
  garpDelay?: number;
  garpRepeat?: number;
  garpRefresh?: number;
  garpRefreshRepeat?: number;
}

export interface VrrpDefs {
  scripts: Map<string, Node>;
  trackFiles: Map<string, Node>;
  globals: VrrpGlobals;
}

export type Weight = number | 'fault';
export interface TrackScript {
  command: string[];
  interval: string;
  timeout: string;
  rise: number;
  fall: number;
  weight: Weight;
}
export interface Track {
  interfaces: { name: string; weight: Weight }[];
  scripts: TrackScript[];
  files: { path: string; weight: number }[];
}
export function scriptArgv(ctx: Ctx, n: Node, i = 0): string[] | undefined {
  const s = ctx.arg(n, i);
  if (s === undefined) return undefined;
  const argv = splitScript(s);
  if (!argv.length) ctx.findings.error(n, n.name, 'empty script');
  return argv.length ? argv : undefined;
}

/** `notify_* SCRIPT [user [group]]`: lbagent runs hooks as itself. */
export function notifyArgv(ctx: Ctx, n: Node): string[] | undefined {
  const argv = scriptArgv(ctx, n);
  if (n.args.length > 1)
    ctx.findings.unmapped(
      n,
      `${n.name} user ${n.args.slice(1).join(' ')}`,
      'lbagent runs notify hooks as its own user',
    );
  return argv;
}

/** A vrrp_script by name as an lbagent track script (weight: the instance's, else the script's). */
function trackScript(ctx: Ctx, defs: VrrpDefs, ref: Node, weightOverride?: number): TrackScript | undefined {
  const def = defs.scripts.get(ref.name);
  if (!def) {
    ctx.findings.error(ref, ref.name, 'no vrrp_script of that name');
    return undefined;
  }
  let command: string[] | undefined;
  let interval = 1000;
  let timeout: number | undefined;
  let weight = 0;
  let rise = 1;
  let fall = 1;
  ctx.walk(
    def.block,
    `vrrp_script ${def.args[0]}`,
    VRRP_SCRIPT,
    {
      script: (n) => {
        command = scriptArgv(ctx, n);
      },
      interval: (n) => {
        interval = ctx.timer(n) ?? interval;
      },
      timeout: (n) => {
        timeout = ctx.timer(n);
      },
      weight: (n) => {
        weight = ctx.int(n, 0, -253, 253) ?? weight;
        if (n.args[1] === 'reverse')
          ctx.findings.unmapped(n, 'weight reverse', 'lbagent has no reversed weights');
      },
      rise: (n) => {
        rise = ctx.int(n, 0, 1, 100) ?? rise;
      },
      fall: (n) => {
        fall = ctx.int(n, 0, 1, 100) ?? fall;
      },
    },
    {
      user: 'lbagent runs track scripts as its own user',
      init_fail:
        'lbagent starts a track script as failed until its first result only when its weight is "fault"',
    },
  );
  if (!command) {
    ctx.findings.error(def, def.name, `vrrp_script ${def.args[0]} has no script`);
    return undefined;
  }
  const w = weightOverride ?? weight;
  return {
    command,
    interval: dur(interval),
    timeout: dur(timeout || interval),
    rise,
    fall,
    weight: w === 0 ? 'fault' : w,
  };
}

/** `NAME [weight W [reverse]]` entries of track_* value blocks. */
function trackEntry(ctx: Ctx, n: Node, range: number): { name: string; weight?: number } | undefined {
  let weight: number | undefined;
  if (n.args[0] === 'weight') {
    const w = Number(n.args[1]);
    if (!Number.isInteger(w) || Math.abs(w) > range) {
      ctx.findings.error(n, n.name, `weight "${n.args[1]}" is not an integer in -${range}..${range}`);
      return undefined;
    }
    weight = w;
    if (n.args[2] === 'reverse')
      ctx.findings.unmapped(n, `${n.name} reverse`, 'lbagent has no reversed weights');
    else if (n.args.length > 2 && n.args[2] !== 'noreverse' && n.args[2] !== 'no_reverse') ctx.extra(n, 2);
  } else if (n.args.length) ctx.extra(n, 0);
  return { name: n.name, weight };
}

function trackFile(
  ctx: Ctx,
  defs: VrrpDefs,
  ref: Node,
  override?: number,
): { path: string; weight: number } | undefined {
  const def = defs.trackFiles.get(ref.name);
  if (!def) {
    ctx.findings.error(ref, ref.name, 'no track_file of that name');
    return undefined;
  }
  let path: string | undefined;
  let weight = 1;
  ctx.walk(def.block, `track_file ${def.args[0]}`, TRACK_FILE, {
    file: (n) => {
      path = ctx.arg(n);
    },
    weight: (n) => {
      weight = ctx.int(n, 0, -2147483647, 2147483647) ?? weight;
      if (n.args[1] === 'reverse')
        ctx.findings.unmapped(n, 'weight reverse', 'lbagent has no reversed weights');
    },
    init_file: (n) => {
      ctx.findings.unmapped(n, 'init_file', 'lbagent does not create track files; a missing file reads as 0');
    },
  });
  if (!path?.startsWith('/')) {
    ctx.findings.error(def, def.name, `track_file ${def.args[0]} needs an absolute "file"`);
    return undefined;
  }
  return { path, weight: override ?? weight };
}

/** Reads track_interface / track_script / track_file blocks (of an instance or a sync group). */
export function readTrack(ctx: Ctx, defs: VrrpDefs, n: Node, track: Track): boolean {
  if (n.name === 'track_interface') {
    for (const e of n.block ?? []) {
      const t = trackEntry(ctx, e, 253);
      if (t) track.interfaces.push({ name: t.name, weight: t.weight ? t.weight : 'fault' });
    }
    return true;
  }
  if (n.name === 'track_script') {
    for (const e of n.block ?? []) {
      const t = trackEntry(ctx, e, 253);
      const s = t && trackScript(ctx, defs, e, t.weight);
      if (s) track.scripts.push(s);
    }
    return true;
  }
  if (n.name === 'track_file') {
    for (const e of n.block ?? []) {
      const t = trackEntry(ctx, e, 254);
      const f = t && trackFile(ctx, defs, e, t.weight);
      if (f) track.files.push(f);
    }
    return true;
  }
  return false;
}
