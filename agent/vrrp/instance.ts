// One VRRP instance: the imperative shell around VrrpMachine. It validates received packets with
// the codec, counts drops under keepalived's names, sends adverts, publishes the `vrrp:<name>`
// fact (the kernel subsystem adds/removes the VIPs on it), announces the VIPs (GARP / NA) once
// they are on the interface, runs tracking and notify hooks.
import { readFile } from 'node:fs/promises';
import { execa } from 'execa';
import type { Logger } from 'pino';
import type { VrrpInstanceConfig } from '../config/schema.js';
import { type Facts, factKey } from '../daemon/facts.js';
import type { Clock, Timer } from '../lib/clock.js';
import { canonicalAddress, type Family, familyOf } from '../lib/ip.js';
import { AddressProbe } from './addr-probe.js';
import { AnnounceRun, type Announcer, LinkAnnouncer } from './announce.js';
import {
  type DropReason,
  decodeAdvert,
  encodeAdvert,
  type Received,
  VRRP_GROUP_V4,
  VRRP_GROUP_V6,
} from './codec.js';
import type { PacketSink, SocketHub } from './hub.js';
import { interfaceAddresses, type LinkWatcher } from './links.js';
import { type Action, VrrpMachine, type VrrpState } from './machine.js';
import { type PreparedPacket, preparePacket } from './socket.js';
import { computePriority, parseTrackFile, RiseFall, type TrackedObject } from './track.js';
import { macText, vmacName } from './vmac.js';
import type { Vmac, VmacRegistry } from './vmac-link.js';

export interface InstanceDeps {
  log: Logger;
  clock: Clock;
  facts: Facts;
  links: LinkWatcher;
  hub: SocketHub;
  /** The subsystem's macvlans (useVmac). */
  vmacs?: VmacRegistry;
  /** Replaceable for tests; defaults to the real GARP/NA sender. */
  announcer?: (ifname: string, ifindex: number, mac: Buffer) => Announcer;
  /** Called after every state change (the subsystem runs sync groups from it). */
  onState?: (inst: VrrpInstance, from: VrrpState, to: VrrpState) => void;
}

const FILE_POLL_MS = 1000;
const VIP_WAIT_MS = 2000;
/** netlink probe: in the same turn as the state change (the fast path); the others: later. */
type AnnounceVia = 'kernel ack' | 'netlink probe' | 'address event' | 'interface read';
/** Safety net only: the address event from rtnetlink normally ends the wait first. */
const VIP_POLL_MS = 20;

/** Bare address of a VIP ("192.0.2.1/24" → "192.0.2.1"), canonical. */
export function vipAddress(v: string): string {
  return canonicalAddress(v.split('/')[0]);
}

/** Config errors that zod cannot see (they need the instance as a whole); names the field. */

export interface AuthProblem {
  reason: DropReason;
  from: string;
  at: number;
  count: number;
}

export class VrrpInstance implements PacketSink {
  readonly family: Family;
  readonly vrid: number;
  machine!: VrrpMachine;
  private primary = '';
  private vips: string[];
  private announceRun: AnnounceRun | undefined;
  private announcer: Announcer | undefined;
  /** One pending timer per file/script tracker. */
  private timers = new Map<string, Timer>();
  private vipWait: Timer | undefined;
  private stopVipWatch: (() => void) | undefined;
  /** Opened at the first takeover; null when it cannot be (no koffi). */
  private addrProbe: AddressProbe | null | undefined;
  private announcePending = false;
  /** How the last takeover learnt that its VIPs were in place before the first GARP/NA. */
  private lastAnnounce:
    | { via: AnnounceVia | 'timeout'; waitedMs: number; factMs?: number; afterAdvertMs?: number }
    | undefined;
  /** Encoded adverts by priority, for one config object and primary address. */
  private readonly adverts = {
    cfg: undefined as VrrpInstanceConfig | undefined,
    primary: '',
    byPriority: new Map<number, PreparedPacket[]>(),
  };
  /** When the last advert left (clock ms): a takeover's timings are taken from it. */
  private advertSentAt = 0;
  /** The takeover in progress: advert time and how long publishing the master fact took. */
  private takeover: { advertAt: number; factMs: number } | undefined;
  private unsubs: (() => void)[] = [];
  private fileValues = new Map<string, number>();
  private scriptStates: RiseFall[] = [];
  private reasons: string[] = [];
  private addrListWarned = false;
  authProblem: AuthProblem | undefined;
  lastError: string | undefined;
  private stopped = false;
  private vmac: Vmac | undefined;

  constructor(
    public cfg: VrrpInstanceConfig,
    private deps: InstanceDeps,
  ) {
    this.vips = cfg.vips.map(vipAddress);
    this.family = familyOf(this.vips[0]) as Family;
    this.vrid = cfg.vrid;
  }

  get name(): string {
    return this.cfg.name;
  }

  /** Where adverts are received and sent: the vmac with useVmac (as keepalived), else `interface`. */
  private get ioInterface(): string {
    return this.cfg.useVmac ? vmacName(this.vrid, this.family) : this.cfg.interface;
  }

  /** Where the VIPs live (and GARPs leave): vipInterface, else the vmac, else `interface`. */
  private get vipInterface(): string {
    return (
      this.cfg.vipInterface ?? (this.cfg.useVmac ? vmacName(this.vrid, this.family) : this.cfg.interface)
    );
  }

  async start(): Promise<void> {
    const link = this.deps.links.get(this.cfg.interface);
    if (!link)
      throw new Error(`vrrp.instances[${this.name}].interface: no interface "${this.cfg.interface}"`);
    this.primary = this.pickPrimary();
    let io = link;
    if (this.cfg.useVmac) {
      if (!this.deps.vmacs) throw new Error(`vrrp.instances[${this.name}].useVmac: no macvlan support here`);
      this.vmac = await this.deps.vmacs.ensure(link, this.vrid, this.family);
      await this.deps.links.sync();
      const v = this.deps.links.get(this.vmac.name);
      if (!v)
        throw new Error(`vrrp.instances[${this.name}].useVmac: ${this.vmac.name} not visible after creation`);
      io = v;
    }
    this.machine = new VrrpMachine(
      {
        version: this.cfg.version,
        priority: this.cfg.priority,
        intervalMs: this.cfg.advertInterval,
        preempt: this.cfg.preempt,
        preemptDelayMs: this.cfg.preemptDelay,
        primaryAddress: this.primary,
      },
      this.deps.clock,
      (a) => this.act(a),
    );
    this.deps.hub.attach(io.name, io.index, this.family, !this.cfg.unicast, this);
    // Sockets open and packets encoded now, not on the takeover's critical path.
    this.ensureAnnouncer()?.prepare?.(this.vips);
    this.startTracking();
    this.publish('init');
    this.machine.start();
    this.deps.log.info(
      { instance: this.name, vrid: this.vrid, version: this.cfg.version, primary: this.primary },
      'vrrp instance started',
    );
  }

  /** Source address of our adverts and our tie-breaker: unicast.source, else the first non-VIP address. */
  private pickPrimary(): string {
    if (this.cfg.unicast?.source) return canonicalAddress(this.cfg.unicast.source);
    const addrs = interfaceAddresses(this.cfg.interface).filter(
      (a) => a.family === this.family && !this.vips.includes(canonicalAddress(a.address)),
    );
    const pick = this.family === 6 ? addrs.find((a) => a.address.startsWith('fe80:')) : addrs[0];
    if (!pick) {
      throw new Error(
        `vrrp.instances[${this.name}].interface: ${this.cfg.interface} has no ${this.family === 6 ? 'link-local IPv6' : 'IPv4'} address to send adverts from`,
      );
    }
    return canonicalAddress(pick.address);
  }

  // ---------- receive ----------

  handle(r: Received): void {
    if (this.stopped) return;
    if (r.src === this.primary) return; // our own (multicast loop is off; belt and braces)
    const res = decodeAdvert(r, {
      family: this.family,
      version: this.cfg.version,
      intervalMs: this.cfg.advertInterval,
      password: this.cfg.auth?.password,
      checksumAsV2: this.cfg.checksumAsV2,
    });
    if ('drop' in res) {
      this.countDrop(res.drop, r.src);
      return;
    }
    const a = res.advert;
    if (!this.addrListWarned && !sameSet(a.addresses, this.vips)) {
      this.machine.stats.addr_list_err++;
      this.addrListWarned = true;
      this.deps.log.warn(
        { instance: this.name, from: r.src, theirs: a.addresses, ours: this.vips },
        'vrrp advert carries another VIP list than ours (accepted, as keepalived does)',
      );
    } else if (!sameSet(a.addresses, this.vips)) this.machine.stats.addr_list_err++;
    this.machine.receive(a, r.src, r.ageMs);
  }

  private countDrop(reason: DropReason, from: string): void {
    const s = this.machine.stats as unknown as Record<string, number>;
    if (reason in s) s[reason]++;
    else s[reason] = 1;
    if (reason === 'auth_failure' || reason === 'authtype_mismatch' || reason === 'invalid_authtype') {
      // Loud: both sides will act as master; the operator must see why at once.
      const first = !this.authProblem || this.authProblem.from !== from || this.authProblem.reason !== reason;
      this.authProblem = {
        reason,
        from,
        at: this.deps.clock.now(),
        count: first ? 1 : this.authProblem!.count + 1,
      };
      if (first || this.authProblem.count % 100 === 0) {
        this.deps.log.error(
          { instance: this.name, vrid: this.vrid, from, reason, count: this.authProblem.count },
          `vrrp authentication mismatch with ${from}: dropping its adverts (${reason}); both routers may become master`,
        );
      }
    } else if (reason === 'advert_interval_err' || reason === 'version_err') {
      this.deps.log.warn({ instance: this.name, from, reason }, 'vrrp advert dropped');
    } else this.deps.log.debug({ instance: this.name, from, reason }, 'vrrp advert dropped');
  }

  // ---------- actions ----------

  private act(a: Action): void {
    if (a.type === 'send') {
      this.send(a.priority);
      this.advertSentAt = this.deps.clock.now();
    } else if (a.type === 'announce') {
      // Right after the state change publishes (onState), else at the latest in a microtask.
      this.announcePending = true;
      queueMicrotask(() => this.announceIfPending());
    } else this.onState(a.from, a.to, a.reason);
  }

  /** Queues the advert to every destination synchronously (a stop's goodbye must not wait). */
  private send(priority: number): void {
    const packets = this.advertPackets(priority);
    for (const p of packets)
      this.deps.hub.sendPrepared(this.ioInterface, this.family, p).catch(this.sendFailed);
  }

  private readonly sendFailed = (err: unknown) => {
    this.lastError = (err as Error).message;
    this.deps.log.error({ instance: this.name, err: this.lastError }, 'vrrp send failed');
  };

  /**
   * The advert at `priority` to every destination, ready for the wire. Built once per priority
   * while the config and the primary address stand (the content depends on nothing else), so a
   * takeover's advert is one sendto: the backup builds it ahead (prepareTakeoverAdvert).
   */
  private advertPackets(priority: number): PreparedPacket[] {
    const c = this.adverts;
    if (c.cfg !== this.cfg || c.primary !== this.primary) {
      c.cfg = this.cfg;
      c.primary = this.primary;
      c.byPriority.clear();
    }
    const hit = c.byPriority.get(priority);
    if (hit) return hit;
    const dsts = this.cfg.unicast
      ? this.cfg.unicast.peers.map(canonicalAddress)
      : [this.family === 4 ? VRRP_GROUP_V4 : VRRP_GROUP_V6];
    const packets: PreparedPacket[] = [];
    for (const dst of dsts) {
      try {
        const vrrp = encodeAdvert(
          {
            version: this.cfg.version,
            vrid: this.vrid,
            priority,
            intervalMs: this.cfg.advertInterval,
            addresses: this.vips,
          },
          {
            family: this.family,
            src: this.family === 4 ? this.primary : undefined,
            dst,
            checksumAsV2: this.cfg.checksumAsV2,
            password: this.cfg.auth?.password,
          },
        );
        packets.push(preparePacket(this.family, vrrp, this.primary, dst));
      } catch (err) {
        this.sendFailed(err);
      }
    }
    // Only complete sets are kept (a failed encode is reported again next time); few priorities
    // are ever used, but tracking can walk through many: bounded.
    if (packets.length === dsts.length) {
      if (c.byPriority.size >= 16) c.byPriority.clear();
      c.byPriority.set(priority, packets);
    }
    return packets;
  }

  /** While backup: the advert a takeover will send, built now instead of on the takeover. */
  private prepareTakeoverAdvert(): void {
    if (this.machine?.state === 'backup') this.advertPackets(this.machine.effectivePriority);
  }

  private onState(from: VrrpState, to: VrrpState, reason: string): void {
    if (from === 'master' && to !== 'master') {
      this.announceRun?.cancel();
      this.announceRun = undefined;
    }
    this.publish(to);
    if (to === 'backup') this.prepareTakeoverAdvert();
    // The kernel layer has just sent the VIP adds (from the fact): announce before anything
    // slower (log line, notify hooks) so the first GARP leaves in this same turn.
    if (to === 'master') {
      this.takeover = { advertAt: this.advertSentAt, factMs: this.deps.clock.now() - this.advertSentAt };
      this.announceIfPending();
    }
    const level = to === 'fault' ? 'warn' : 'info';
    this.deps.log[level](
      {
        event: 'vrrp_transition',
        instance: this.name,
        vrid: this.vrid,
        from,
        to,
        reason,
        priority: this.machine.effectivePriority,
      },
      `vrrp ${this.name}: ${from} -> ${to} (${reason})`,
    );
    this.notify(to);
    this.deps.onState?.(this, from, to);
  }

  private publish(state: VrrpState): void {
    this.deps.facts.set(factKey.vrrp(this.name), {
      up: state === 'master',
      reason: state,
      since: this.deps.clock.now(),
    });
  }

  /** The GARP/NA sender of the VIP interface, created once (undefined while that interface is missing). */
  private ensureAnnouncer(): Announcer | undefined {
    if (this.announcer) return this.announcer;
    const ifname = this.vipInterface;
    const link = this.deps.links.get(ifname);
    if (!link) return undefined;
    const factory =
      this.deps.announcer ??
      ((n, i, m) =>
        new LinkAnnouncer(n, i, m, (msg) => this.announceError(msg), {
          ipv4: this.family === 4,
          ipv6: this.family === 6,
          onFallback: (msg) => this.deps.log.warn({ instance: this.name }, msg),
        }));
    this.announcer = factory(ifname, link.index, link.mac);
    return this.announcer;
  }

  private announceIfPending(): void {
    if (!this.announcePending) return;
    this.announcePending = false;
    if (this.machine.state === 'master') this.announce();
  }

  /** GARP/NA once the kernel subsystem has put the VIPs on the interface (bounded wait). */
  private announce(): void {
    const ifname = this.vipInterface;
    const announcer = this.ensureAnnouncer();
    if (!announcer) {
      this.lastError = `cannot announce VIPs: no interface ${ifname}`;
      return;
    }
    const g = this.cfg.garp;
    const run = new AnnounceRun(this.deps.clock, announcer, () => this.vips, {
      count: g.count,
      repeatDelayMs: g.repeatDelay,
      repeatCount: g.repeatCount,
      refreshMs: g.refresh,
    });
    this.announceRun?.cancel();
    this.announceRun = run;
    const started = this.deps.clock.now();
    // Which VIPs are on the interface: a synchronous netlink dump of it now (fast path below),
    // then what address events say, then getifaddrs after this turn's I/O and a slow poll as
    // the fallbacks (the kernel layer may be busy with an earlier reconcile).
    let present = new Set<string>();
    const ifindex = this.deps.links.get(ifname)?.index;
    let firstLook: NodeJS.Immediate | undefined;
    const done = () => {
      if (firstLook) clearImmediate(firstLook);
      firstLook = undefined;
      this.vipWait?.cancel();
      this.vipWait = undefined;
      this.stopVipWatch?.();
      this.stopVipWatch = undefined;
    };
    const look = () => {
      firstLook = undefined;
      present = new Set(interfaceAddresses(ifname).map((a) => canonicalAddress(a.address)));
      tryStart('interface read');
    };
    // Fast path: the kernel layer normally sent the VIP adds synchronously from our state fact
    // (before this microtask), so one synchronous dump of the interface usually finds them all.
    // Fastest: the kernel layer acked every VIP add inside our fact publication (vrrp-vips:<name>
    // up since this takeover's advert); else one synchronous dump of the interface.
    const acked = this.deps.facts.get(factKey.vrrpVips(this.name));
    const confirmed =
      acked?.up === true && this.takeover !== undefined && (acked.since ?? -1) >= this.takeover.advertAt;
    const probed =
      this.deps.announcer || confirmed || ifindex === undefined ? undefined : this.probeAddresses(ifindex);
    if (confirmed) present = new Set(this.vips);
    else if (probed) present = probed;
    const tryStart = (via: AnnounceVia) => {
      if (this.announceRun !== run || this.machine.state !== 'master') return done();
      const waitedMs = this.deps.clock.now() - started;
      if (this.vips.every((v) => present.has(v)) || this.deps.announcer) {
        done();
        run.start();
        // Takeover timings for status (how long after its own advert the first burst left).
        const t = this.takeover;
        this.takeover = undefined;
        this.lastAnnounce = {
          via,
          waitedMs,
          factMs: t?.factMs,
          afterAdvertMs: t ? this.deps.clock.now() - t.advertAt : undefined,
        };
        this.deps.log.debug({ instance: this.name, waitedMs, via }, 'vrrp announcing VIPs');
        return;
      }
      if (waitedMs >= VIP_WAIT_MS) {
        done();
        this.lastAnnounce = { via: 'timeout', waitedMs };
        this.announceError(`VIPs not on ${ifname} after ${VIP_WAIT_MS}ms; announcing anyway`);
        return run.start();
      }
      if (via === 'interface read') {
        this.vipWait?.cancel();
        this.vipWait = this.deps.clock.setTimeout(look, VIP_POLL_MS);
      }
    };
    this.stopVipWatch?.();
    this.stopVipWatch = this.deps.links.onAddressChange((events) => {
      for (const e of events) {
        if (e.ifindex !== ifindex) continue;
        if (e.added) present.add(e.address);
        else present.delete(e.address);
      }
      tryStart('address event');
    });
    if (confirmed) tryStart('kernel ack');
    else if (this.deps.announcer || probed) tryStart('netlink probe');
    if (this.announceRun === run && !run.started && this.machine.state === 'master')
      firstLook = setImmediate(look);
  }

  /** The VIP interface's addresses by a synchronous netlink dump (undefined: cannot tell). */
  private probeAddresses(ifindex: number): Set<string> | undefined {
    if (this.addrProbe === undefined) {
      const p = AddressProbe.open();
      this.addrProbe = p instanceof Error ? null : p;
      if (p instanceof Error)
        this.deps.log.debug({ instance: this.name, err: p.message }, 'vrrp: no address probe');
    }
    const r = this.addrProbe?.list(ifindex, this.family);
    if (r instanceof Error) {
      this.deps.log.debug({ instance: this.name, err: r.message }, 'vrrp: address probe failed');
      return undefined;
    }
    return r;
  }

  private announceError(msg: string): void {
    this.lastError = msg;
    this.deps.log.warn({ instance: this.name }, msg);
  }

  private notify(state: VrrpState): void {
    const n = this.cfg.notify;
    if (!n) return;
    const run = (argv: string[]) => {
      execa(argv[0], argv.slice(1), { reject: false, timeout: 30_000, stdin: 'ignore' }).then(
        (r) => {
          if (r.exitCode !== 0) {
            this.deps.log.warn(
              { instance: this.name, argv, code: r.exitCode, stderr: r.stderr },
              'vrrp notify failed',
            );
          }
        },
        (err: Error) =>
          this.deps.log.warn({ instance: this.name, argv, err: err.message }, 'vrrp notify failed'),
      );
    };
    const specific = state === 'stopped' ? n.stop : state === 'init' ? undefined : n[state];
    if (specific) run(specific);
    if (n.any) run([...n.any, this.name, state.toUpperCase(), String(this.machine.effectivePriority)]);
  }

  // ---------- tracking ----------

  private startTracking(): void {
    const t = this.cfg.track;
    const onFact = (key: string) => {
      if (key === 'drain' || key === 'host' || key.startsWith('service:') || key.startsWith('check:'))
        this.retrack();
    };
    this.deps.facts.on('change', onFact);
    this.unsubs.push(() => this.deps.facts.off('change', onFact));
    if (t.interfaces.length) this.unsubs.push(this.deps.links.onChange(() => this.retrack()));
    for (const f of t.files) {
      const poll = async () => {
        let v = 0;
        try {
          v = parseTrackFile(await readFile(f.path, 'utf8'));
        } catch {}
        if (this.stopped) return;
        if (this.fileValues.get(f.path) !== v) {
          this.fileValues.set(f.path, v);
          this.retrack();
        }
        this.timers.set(
          `file:${f.path}`,
          this.deps.clock.setTimeout(() => void poll(), FILE_POLL_MS),
        );
      };
      this.fileValues.set(f.path, 0);
      void poll();
    }
    t.scripts.forEach((s, i) => {
      const rf = new RiseFall(s.rise, s.fall);
      this.scriptStates[i] = rf;
      const tick = async () => {
        const r = await execa(s.command[0], s.command.slice(1), {
          reject: false,
          timeout: s.timeout,
          stdin: 'ignore',
        }).catch(() => ({ exitCode: 1 }));
        if (this.stopped) return;
        if (rf.push(r.exitCode === 0)) this.retrack();
        this.timers.set(
          `script:${i}`,
          this.deps.clock.setTimeout(() => void tick(), s.interval),
        );
      };
      void tick();
    });
    this.retrack();
  }

  private tracked(): TrackedObject[] {
    const t = this.cfg.track;
    const f = this.deps.facts;
    const objs: TrackedObject[] = [];
    for (const i of t.interfaces) {
      objs.push({
        what: `interface ${i.name}`,
        weight: i.weight,
        up: this.deps.links.get(i.name)?.up ?? false,
      });
    }
    for (const s of t.services) {
      const fact = f.get(factKey.service(s.name)) ?? f.get(factKey.check(s.name));
      objs.push({ what: `service ${s.name}`, weight: s.weight, up: fact?.up ?? false });
    }
    if (t.host !== undefined)
      objs.push({ what: 'host checks', weight: t.host, up: f.get(factKey.host)?.up ?? true });
    objs.push({ what: 'drain', weight: t.drain, up: f.get(factKey.drain)?.up ?? true });
    for (const file of t.files) {
      objs.push({
        what: `file ${file.path}`,
        weight: file.weight,
        value: this.fileValues.get(file.path) ?? 0,
      });
    }
    t.scripts.forEach((s, i) => {
      objs.push({
        what: `script ${s.command.join(' ')}`,
        weight: s.weight,
        up: this.scriptStates[i]?.up ?? false,
      });
    });
    return objs;
  }

  private retrack(): void {
    if (!this.machine || this.stopped) return;
    const r = computePriority(this.cfg.priority, this.tracked());
    this.reasons = r.reasons;
    this.machine.setPriority(r.priority);
    this.machine.setFault(
      r.fault,
      r.fault ? r.reasons.filter((x) => x.endsWith('fault')).join(', ') : 'tracked objects up',
    );
    this.prepareTakeoverAdvert();
  }

  // ---------- lifecycle ----------

  /** In-place update of what can change without a new election (priority, preempt, tracking, hooks). */
  canUpdateInPlace(next: VrrpInstanceConfig): boolean {
    const key = (c: VrrpInstanceConfig) =>
      JSON.stringify([
        c.interface,
        c.vrid,
        c.version,
        c.advertInterval,
        c.auth,
        c.vips,
        c.vipInterface,
        c.unicast,
        c.useVmac,
        c.checksumAsV2,
      ]);
    return key(next) === key(this.cfg);
  }

  update(next: VrrpInstanceConfig): void {
    const trackChanged = JSON.stringify(next.track) !== JSON.stringify(this.cfg.track);
    this.cfg = next;
    this.machine.reconfigure({
      priority: next.priority,
      preempt: next.preempt,
      preemptDelayMs: next.preemptDelay,
    });
    if (trackChanged) {
      this.stopTracking();
      this.startTracking();
    } else this.retrack();
  }

  private stopTracking(): void {
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
    for (const u of this.unsubs) u();
    this.unsubs = [];
  }

  stop(): void {
    if (this.stopped) return;
    this.machine?.stop();
    this.stopped = true;
    this.announceRun?.cancel();
    this.vipWait?.cancel();
    this.stopVipWatch?.();
    this.stopTracking();
    this.announcer?.close();
    this.addrProbe?.close();
    this.addrProbe = undefined;
    this.deps.hub.detach(this.ioInterface, this.family, this);
    this.deps.facts.set(factKey.vrrp(this.name), {
      up: false,
      reason: 'stopped',
      since: this.deps.clock.now(),
    });
  }

  status(): unknown {
    const m = this.machine;
    const now = this.deps.clock.now();
    return {
      name: this.name,
      interface: this.cfg.interface,
      vipInterface: this.vipInterface,
      vmac: this.vmac ? { name: this.vmac.name, mac: macText(this.vmac.mac), owned: this.vmac.owned } : null,
      vrid: this.vrid,
      version: this.cfg.version,
      family: this.family,
      state: m?.state ?? 'init',
      sinceMs: m ? Math.round(now - m.since) : 0,
      transitions: m?.transitions ?? 0,
      primaryAddress: this.primary,
      vips: this.vips,
      priority: {
        configured: this.cfg.priority,
        effective: m?.effectivePriority ?? this.cfg.priority,
        reasons: this.reasons,
      },
      advertIntervalMs: this.cfg.advertInterval,
      masterAdvertIntervalMs: m?.masterIntervalMs,
      masterDownIntervalMs: m ? Math.round(m.masterDownMs()) : undefined,
      masterSeen: m?.masterSeen
        ? {
            address: m.masterSeen.address,
            priority: m.masterSeen.priority,
            intervalMs: m.masterSeen.intervalMs,
            ageMs: Math.round(now - m.masterSeen.at),
            // From the kernel's receipt of that advert to the state machine (0: not measured).
            lagMs: r3(m.masterSeen.lagMs),
          }
        : null,
      authProblem: this.authProblem
        ? { ...this.authProblem, ageMs: Math.round(now - this.authProblem.at), at: undefined }
        : null,
      lastError: this.lastError ?? null,
      garpVia: this.family === 4 ? (this.announcer?.garpVia ?? null) : null,
      lastAnnounce: this.lastAnnounce
        ? {
            via: this.lastAnnounce.via,
            waitedMs: r3(this.lastAnnounce.waitedMs),
            factMs: r3(this.lastAnnounce.factMs),
            afterAdvertMs: r3(this.lastAnnounce.afterAdvertMs),
          }
        : null,
      stats: m?.stats,
    };
  }
}

/** Milliseconds to the microsecond (status). */
function r3<T extends number | undefined>(x: T): T {
  return (x === undefined ? x : Math.round(x * 1000) / 1000) as T;
}

function sameSet(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(b);
  return a.every((x) => s.has(x));
}
