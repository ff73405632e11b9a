// The VRRP state machine of RFC 3768 / RFC 5798 section 6.4, pure: driven by start/receive/
// priority/fault/stop events and an injected clock; every effect is an Action the shell carries
// out (send an advert, announce GARP/NA, change role). Interop choices follow keepalived:
// a master answers a lower-priority advert at once, and v2 keeps its own interval.
import type { Clock, Timer } from '../lib/clock.js';
import { addressBytes } from '../lib/ip.js';
import type { Advert, Version } from './codec.js';

export type VrrpState = 'init' | 'backup' | 'master' | 'fault' | 'stopped';

export interface MachineConfig {
  version: Version;
  /** Configured priority (1-255); 255 is the address owner. */
  priority: number;
  intervalMs: number;
  preempt: boolean;
  preemptDelayMs: number;
  /** Our primary address on the interface (source of adverts): the tie-break on equal priority. */
  primaryAddress: string;
}

export type Action =
  | { type: 'send'; priority: number }
  | { type: 'announce' }
  | { type: 'state'; from: VrrpState; to: VrrpState; reason: string };

export interface MasterSeen {
  address: string;
  priority: number;
  intervalMs: number;
  /** When the kernel received it (clock ms). */
  at: number;
  /** How long after the kernel received it the state machine had it (ms; 0: not measured). */
  lagMs: number;
}

/** keepalived's per-instance stat names (vrrp_stats). */
export interface VrrpStats {
  advert_rcvd: number;
  advert_sent: number;
  become_master: number;
  release_master: number;
  packet_len_err: number;
  advert_interval_err: number;
  ip_ttl_err: number;
  invalid_type_rcvd: number;
  addr_list_err: number;
  invalid_authtype: number;
  authtype_mismatch: number;
  auth_failure: number;
  pri_zero_rcvd: number;
  pri_zero_sent: number;
  checksum_err: number;
  version_err: number;
}

export function emptyStats(): VrrpStats {
  return {
    advert_rcvd: 0,
    advert_sent: 0,
    become_master: 0,
    release_master: 0,
    packet_len_err: 0,
    advert_interval_err: 0,
    ip_ttl_err: 0,
    invalid_type_rcvd: 0,
    addr_list_err: 0,
    invalid_authtype: 0,
    authtype_mismatch: 0,
    auth_failure: 0,
    pri_zero_rcvd: 0,
    pri_zero_sent: 0,
    checksum_err: 0,
    version_err: 0,
  };
}

/** Compares two addresses of one family as unsigned numbers: <0, 0, >0. */
export function compareAddresses(a: string, b: string): number {
  return Buffer.compare(addressBytes(a), addressBytes(b));
}

/** RFC 5798 Skew_Time in ms: v3 scales with the master's interval, v2 is (256-prio)/256 s. */
export function skewTimeMs(version: Version, priority: number, masterIntervalMs: number): number {
  return version === 3 ? ((256 - priority) * masterIntervalMs) / 256 : ((256 - priority) * 1000) / 256;
}

export function masterDownIntervalMs(version: Version, priority: number, masterIntervalMs: number): number {
  return 3 * masterIntervalMs + skewTimeMs(version, priority, masterIntervalMs);
}

export class VrrpMachine {
  state: VrrpState = 'init';
  readonly stats: VrrpStats = emptyStats();
  masterSeen: MasterSeen | undefined;
  /** Priority on the wire now (configured priority adjusted by tracking). */
  effectivePriority: number;
  /** v3: the master's interval once heard (RFC 5798 Master_Adver_Interval). */
  masterIntervalMs: number;
  private timer: Timer | undefined;
  private timerDue = 0;
  private preemptAllowedAt = 0;
  /** Fault from our own tracked objects, and fault imposed by a sync group member. */
  private ownFault = false;
  private groupFault = false;
  since = 0;
  /** State changes since start (metrics: vrrp_transitions). */
  transitions = 0;

  constructor(
    private cfg: MachineConfig,
    private clock: Clock,
    private out: (a: Action) => void,
  ) {
    this.effectivePriority = cfg.priority;
    this.masterIntervalMs = cfg.intervalMs;
  }

  get config(): Readonly<MachineConfig> {
    return this.cfg;
  }

  /** Reload: priority/preempt settings change without a new election. */
  reconfigure(p: Partial<Pick<MachineConfig, 'priority' | 'preempt' | 'preemptDelayMs'>>): void {
    this.cfg = { ...this.cfg, ...p };
  }

  skewMs(): number {
    return skewTimeMs(this.cfg.version, this.effectivePriority, this.masterIntervalMs);
  }

  masterDownMs(): number {
    return masterDownIntervalMs(this.cfg.version, this.effectivePriority, this.masterIntervalMs);
  }

  /** Milliseconds until the running timer (advert or master-down) fires; undefined when none. */
  timerRemainingMs(): number | undefined {
    return this.timer ? Math.max(0, this.timerDue - this.clock.now()) : undefined;
  }

  start(): void {
    if (this.state !== 'init' && this.state !== 'stopped') return;
    this.preemptAllowedAt = this.clock.now() + this.cfg.preemptDelayMs;
    if (this.ownFault || this.groupFault) this.transition('fault', 'tracked object down at start');
    else if (this.effectivePriority === 255) this.becomeMaster('address owner (priority 255)');
    else this.becomeBackup('startup');
  }

  /** A validated advert for our VRID from `src`, received by the kernel `ageMs` ago (the timers
   * it restarts run from its arrival, as the RFCs define them, not from when we got to it). */
  receive(a: Advert, src: string, ageMs = 0): void {
    if (this.state === 'init' || this.state === 'stopped' || this.state === 'fault') return;
    this.stats.advert_rcvd++;
    if (a.priority === 0) this.stats.pri_zero_rcvd++;
    else
      this.masterSeen = {
        address: src,
        priority: a.priority,
        intervalMs: a.intervalMs,
        at: this.clock.now() - ageMs,
        lagMs: ageMs,
      };
    const local = this.effectivePriority;
    if (this.state === 'backup') {
      if (a.priority === 0) {
        // The master is leaving: take over after Skew_Time only.
        this.arm(this.skewMs() - ageMs, () => this.becomeMaster('master sent priority 0'), true);
        return;
      }
      const delayPreempt = this.cfg.preemptDelayMs > 0 && this.clock.now() < this.preemptAllowedAt;
      if (!this.cfg.preempt || a.priority >= local || delayPreempt) {
        if (this.cfg.version === 3) this.masterIntervalMs = a.intervalMs;
        this.armMasterDown(ageMs);
      }
      // else: lower priority and we may preempt: discard, the master-down timer takes us over.
      return;
    }
    // master
    if (a.priority === 0) {
      this.sendAdvert();
      this.armAdvert();
      return;
    }
    if (a.priority > local || (a.priority === local && compareAddresses(src, this.cfg.primaryAddress) > 0)) {
      if (this.cfg.version === 3) this.masterIntervalMs = a.intervalMs;
      this.becomeBackup(`higher priority ${a.priority} from ${src}`);
      return;
    }
    // A lower-priority (or tie-losing) master is out there: assert ourselves at once.
    this.sendAdvert();
    this.armAdvert();
  }

  /** Tracking changed the priority on the wire. */
  setPriority(p: number): void {
    if (p === this.effectivePriority) return;
    this.effectivePriority = p;
    if (this.state === 'master') {
      // Tell the backups now so a higher one can preempt without waiting an interval.
      this.sendAdvert();
      this.armAdvert();
    }
  }

  /** A tracked object with weight "fault" went down (true) or all came back (false). */
  setFault(fault: boolean, reason = fault ? 'tracked object down' : 'tracked objects up'): void {
    if (fault === this.ownFault) return;
    const before = this.faulted;
    this.ownFault = fault;
    this.applyFault(before, reason);
  }

  /** Sync group: a member is in Fault, so all are (keepalived vrrp_sync_group). */
  setGroupFault(fault: boolean, reason: string): void {
    if (fault === this.groupFault) return;
    const before = this.faulted;
    this.groupFault = fault;
    this.applyFault(before, reason);
  }

  get faulted(): boolean {
    return this.ownFault || this.groupFault;
  }

  /** In Fault because of our own tracked objects (not only because of the sync group). */
  get ownFaulted(): boolean {
    return this.ownFault;
  }

  private applyFault(before: boolean, reason: string): void {
    const fault = this.faulted;
    if (fault === before) return;
    if (this.state === 'init' || this.state === 'stopped') return;
    if (fault) {
      if (this.state === 'master') this.sendPriorityZero();
      this.cancel();
      this.transition('fault', reason);
    } else if (this.state === 'fault') {
      this.preemptAllowedAt = this.clock.now() + this.cfg.preemptDelayMs;
      if (this.effectivePriority === 255) this.becomeMaster('address owner (priority 255)');
      else this.becomeBackup(reason);
    }
  }

  /** Sync group: another member became master. */
  forceMaster(reason: string): void {
    if (this.state === 'backup') this.becomeMaster(reason);
  }

  /** Sync group: another member left master. */
  forceBackup(reason: string): void {
    if (this.state === 'master') {
      this.sendPriorityZero();
      this.becomeBackup(reason);
    }
  }

  stop(): void {
    if (this.state === 'master') this.sendPriorityZero();
    this.cancel();
    if (this.state !== 'stopped') this.transition('stopped', 'stopped');
  }

  // ---------- internals ----------

  private becomeMaster(reason: string): void {
    this.sendAdvert();
    this.out({ type: 'announce' });
    this.armAdvert();
    this.stats.become_master++;
    this.transition('master', reason);
  }

  private becomeBackup(reason: string): void {
    if (this.state === 'master') this.stats.release_master++;
    this.masterIntervalMs = this.cfg.version === 3 ? this.masterIntervalMs : this.cfg.intervalMs;
    this.armMasterDown();
    this.transition('backup', reason);
  }

  private transition(to: VrrpState, reason: string): void {
    const from = this.state;
    if (from === 'master' && to !== 'master' && to !== 'backup') this.stats.release_master++;
    this.state = to;
    this.transitions++;
    this.since = this.clock.now();
    this.out({ type: 'state', from, to, reason });
  }

  private sendAdvert(): void {
    this.stats.advert_sent++;
    this.out({ type: 'send', priority: this.effectivePriority });
  }

  private sendPriorityZero(): void {
    this.stats.advert_sent++;
    this.stats.pri_zero_sent++;
    this.out({ type: 'send', priority: 0 });
  }

  private armAdvert(): void {
    this.arm(this.cfg.intervalMs, () => {
      this.sendAdvert();
      this.armAdvert();
    });
  }

  private armMasterDown(sinceMs = 0): void {
    this.arm(this.masterDownMs() - sinceMs, () => this.becomeMaster('master down interval expired'), true);
  }

  /** precise: a takeover deadline, the figure failover is measured by (see PRECISE_LEAD_MS). */
  private arm(ms: number, fn: () => void, precise = false): void {
    ms = Math.max(0, ms);
    this.cancel();
    this.timerDue = this.clock.now() + ms;
    this.timer = this.clock.setTimeout(
      () => {
        this.timer = undefined;
        fn();
      },
      ms,
      { precise },
    );
  }

  private cancel(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }
}
