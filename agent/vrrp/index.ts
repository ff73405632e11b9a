// VrrpSubsystem: runs cfg.vrrp.instances, publishes `vrrp:<instance>` facts (the kernel
// subsystem moves the VIPs on them), keeps sync groups together. Usable standalone: give it a
// SubsystemContext of your own (see test/netns/vrrp/driver.ts).
import type { Config, VrrpInstanceConfig } from '../config/schema.js';
import type { Subsystem, SubsystemContext } from '../daemon/subsystem.js';
import type { Announcer } from './announce.js';
import { SocketHub } from './hub.js';
import { VrrpInstance } from './instance.js';
import { LinkWatcher } from './links.js';
import type { VrrpState } from './machine.js';
import { vmacName } from './vmac.js';
import { VmacRegistry } from './vmac-link.js';

export interface VrrpOptions {
  /** Test hook: replace the GARP/NA sender. */
  announcer?: (ifname: string, ifindex: number, mac: Buffer) => Announcer;
}

/** Every config error of the vrrp section, each naming its field. */
export class VrrpSubsystem implements Subsystem {
  readonly name = 'vrrp';
  private links: LinkWatcher;
  private hub: SocketHub;
  private instances = new Map<string, VrrpInstance>();
  private groups: { name: string; instances: string[] }[] = [];
  private syncing = false;
  private linksStarted = false;
  private vmacs: VmacRegistry;

  constructor(
    private ctx: SubsystemContext,
    private opts: VrrpOptions = {},
  ) {
    this.hub = new SocketHub((err) => this.ctx.log.error({ err: err.message }, 'vrrp socket error'));
    this.links = new LinkWatcher((err) => this.ctx.log.error({ err: err.message }, 'vrrp link watch error'));
    this.vmacs = new VmacRegistry((msg) => this.ctx.log.info(`vrrp: ${msg}`));
  }

  async start(cfg: Config): Promise<void> {
    if (cfg.vrrp.instances.length === 0) return;
    await this.ensureLinks();
    this.groups = cfg.vrrp.syncGroups;
    for (const ic of cfg.vrrp.instances) await this.startInstance(ic);
  }

  async reload(cfg: Config): Promise<void> {
    if (cfg.vrrp.instances.length) await this.ensureLinks();
    this.groups = cfg.vrrp.syncGroups;
    const wanted = new Map(cfg.vrrp.instances.map((i) => [i.name, i]));
    for (const [name, inst] of this.instances) {
      if (!wanted.has(name)) {
        inst.stop();
        this.instances.delete(name);
      }
    }
    for (const ic of cfg.vrrp.instances) {
      const cur = this.instances.get(ic.name);
      if (!cur) await this.startInstance(ic);
      else if (JSON.stringify(cur.cfg) === JSON.stringify(ic)) continue;
      else if (cur.canUpdateInPlace(ic)) cur.update(ic);
      else {
        // Identity changed (interface, VRID, VIPs, ...): a new instance; the old one says goodbye (priority 0).
        cur.stop();
        this.instances.delete(ic.name);
        await this.startInstance(ic);
      }
    }
    // Only now: an instance restarted above re-adopted its vmac, so a kept vmac is never deleted.
    await this.vmacs.prune(wantedVmacs(cfg.vrrp.instances));
  }

  async stop(_opts: { removeState: boolean }): Promise<void> {
    for (const inst of this.instances.values()) inst.stop();
    this.instances.clear();
    // Let the priority-0 adverts leave before the sockets close.
    await new Promise((r) => setTimeout(r, 20));
    this.hub.close();
    await this.vmacs.prune(new Set());
    this.links.close();
    this.linksStarted = false;
  }

  status(): unknown {
    return {
      instances: [...this.instances.values()].map((i) => i.status()),
      syncGroups: this.groups.map((g) => ({
        name: g.name,
        instances: g.instances,
        states: g.instances.map((n) => this.instances.get(n)?.machine?.state ?? 'missing'),
      })),
      interfaceDrops: Object.fromEntries(this.hub.drops),
    };
  }

  /** The instance objects (for tests and the daemon's metrics). */
  get(name: string): VrrpInstance | undefined {
    return this.instances.get(name);
  }

  private async ensureLinks(): Promise<void> {
    if (this.linksStarted) return;
    await this.links.start();
    this.linksStarted = true;
  }

  private async startInstance(ic: VrrpInstanceConfig): Promise<void> {
    const inst = new VrrpInstance(ic, {
      log: this.ctx.log,
      clock: this.ctx.clock,
      facts: this.ctx.facts,
      links: this.links,
      hub: this.hub,
      vmacs: this.vmacs,
      announcer: this.opts.announcer,
      onState: (i, from, to) => this.onState(i, from, to),
    });
    this.instances.set(ic.name, inst);
    try {
      await inst.start();
    } catch (err) {
      this.instances.delete(ic.name);
      inst.stop();
      throw err;
    }
  }

  /** Sync groups: all members master, or none; one member in Fault puts all in Fault (keepalived vrrp_sync_group). */
  private onState(inst: VrrpInstance, from: VrrpState, to: VrrpState): void {
    if (this.syncing) return;
    const group = this.groups.find((g) => g.instances.includes(inst.name));
    if (!group) return;
    const others = group.instances
      .filter((n) => n !== inst.name)
      .map((n) => this.instances.get(n))
      .filter((o): o is VrrpInstance => Boolean(o?.machine));
    this.syncing = true;
    try {
      if (to === 'fault') {
        for (const o of others)
          o.machine.setGroupFault(true, `sync group ${group.name}: ${inst.name} is in fault`);
      } else if (from === 'fault') {
        const stillFaulted = [inst, ...others].some((o) => o.machine.ownFaulted);
        if (!stillFaulted) {
          for (const o of others)
            o.machine.setGroupFault(false, `sync group ${group.name}: ${inst.name} left fault`);
        }
      } else if (to === 'master') {
        for (const o of others) o.machine.forceMaster(`sync group ${group.name}: ${inst.name} is master`);
      } else if (from === 'master') {
        for (const o of others) o.machine.forceBackup(`sync group ${group.name}: ${inst.name} left master`);
      }
    } finally {
      this.syncing = false;
    }
  }
}

/** The vmac names a config keeps (IPv4 vmac vrrp.<VRID>, IPv6 vrrp6.<VRID>). */
function wantedVmacs(instances: VrrpInstanceConfig[]): Set<string> {
  return new Set(
    instances
      .filter((i) => i.useVmac)
      .map((i) => vmacName(i.vrid, i.vips.some((v) => v.includes(':')) ? 6 : 4)),
  );
}
