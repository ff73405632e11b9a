// Virtual MAC (keepalived `use_vmac`): a macvlan `vrrp.<VRID>` on the instance's interface, mode
// private, MAC 00:00:5e:00:01:<VRID> (RFC 5798 7.3), up. The instance receives and sends its
// adverts on it and its VIPs live on it, so the switch learns the VMAC and a takeover needs no
// ARP cache change on the hosts of the LAN. Measured on keepalived 2.2.7 here: it joins
// 224.0.0.18 on the macvlan, sends from it with the parent's address as IP source, and sets
// arp_ignore=1 + accept_local=1 + rp_filter=0 on the macvlan and arp_ignore=1 + arp_filter=1 on
// the parent (else the parent answers ARP for the VIP with its own MAC too).
// Ownership: a macvlan we create carries IFLA_IFALIAS "lbagent"; only those are ever deleted. An
// existing macvlan with the right kind, parent and MAC is adopted (ours if it has the alias).
import { readFileSync, writeFileSync } from 'node:fs';
import { createRtNetlink } from 'netlink';
import {
  AF_INET6,
  adoptProblem,
  type ExistingLink,
  inet6AddrGenModeNone,
  macText,
  macvlanLinkInfo,
  parseLinkInfo,
  VMAC_ALIAS,
  vmacAddress,
  vmacName,
} from './vmac.js';

const NLM_F_EXCL = 0x200;
const NLM_F_CREATE = 0x400;

export interface Vmac {
  name: string;
  index: number;
  mac: Buffer;
  parent: string;
  /** Created by lbagent (alias "lbagent"): deleted when no instance wants it any more. */
  owned: boolean;
}

/** keepalived's per-interface settings (IPv4 conf sysctls). */
const VMAC_SYSCTLS = { arp_ignore: '1', accept_local: '1', rp_filter: '0' };
const PARENT_SYSCTLS = { arp_ignore: '1', arp_filter: '1' };

const confPath = (ifname: string, key: string) => `/proc/sys/net/ipv4/conf/${ifname}/${key}`;

type Rt = ReturnType<typeof createRtNetlink>;

/**
 * The vmacs of the VRRP subsystem, by name. `ensure` creates or adopts one; `prune` deletes the
 * owned ones no instance wants (after a reload, or everything on stop), and gives the parent
 * its ARP sysctls back once its last vmac of ours is gone.
 */
export class VmacRegistry {
  private vmacs = new Map<string, Vmac>();
  /** Parent → the sysctl values found before we changed them. */
  private parentSaved = new Map<string, Record<string, string>>();

  constructor(private log: (msg: string, obj?: object) => void = () => {}) {}

  get(name: string): Vmac | undefined {
    return this.vmacs.get(name);
  }

  async ensure(parent: { name: string; index: number }, vrid: number, family: 4 | 6 = 4): Promise<Vmac> {
    const name = vmacName(vrid, family);
    const mac = vmacAddress(vrid, family);
    const rt = createRtNetlink();
    try {
      let cur = await findLink(rt, name);
      let owned: boolean;
      if (cur && cur.alias === VMAC_ALIAS && adoptProblem(cur, parent.index, mac)) {
        // Ours but for another parent (the instance moved interface): recreate it.
        await rt.delLink({ index: cur.index }, {}, { timeout: 2000 });
        cur = undefined;
      }
      if (cur) {
        const problem = adoptProblem(cur, parent.index, mac);
        if (problem) throw new Error(`useVmac: interface ${name} exists but ${problem}; not touching it`);
        owned = cur.alias === VMAC_ALIAS;
      } else {
        const link = Buffer.alloc(4);
        link.writeUInt32LE(parent.index, 0);
        await rt.newLink(
          {},
          { ifname: name, address: mac, link, linkinfo: macvlanLinkInfo() },
          { flags: NLM_F_CREATE | NLM_F_EXCL, timeout: 2000 },
        );
        cur = await findLink(rt, name);
        if (!cur) throw new Error(`useVmac: ${name} created but not found`);
        // The alias cannot ride on the create (the kernel applies it only in setlink).
        await rt.setLink({ index: cur.index }, { ifalias: VMAC_ALIAS }, { timeout: 2000 });
        owned = true;
        // Before it is up: no IPv6 link-local on an IPv4 vmac (as keepalived). Best effort (IPv6 may be off).
        if (family === 4) {
          await rt
            .setLink(
              { index: cur.index },
              { afSpec: new Map([[AF_INET6, inet6AddrGenModeNone()]]) },
              { timeout: 2000 },
            )
            .catch((err: Error) => this.log(`${name}: addrgenmode none not set: ${err.message}`));
        }
        this.log(`created macvlan ${name} (${macText(mac)}) on ${parent.name}`);
      }
      await rt.setLink(
        { index: cur.index, flags: { up: true }, change: { up: true } },
        {},
        { timeout: 2000 },
      );
      for (const [k, v] of Object.entries(VMAC_SYSCTLS)) writeFileSync(confPath(name, k), v);
      this.tuneParent(parent.name);
      const vmac: Vmac = { name, index: cur.index, mac, parent: parent.name, owned };
      this.vmacs.set(name, vmac);
      return vmac;
    } finally {
      rt.socket.close();
    }
  }

  private tuneParent(parent: string): void {
    if (this.parentSaved.has(parent)) return;
    const saved: Record<string, string> = {};
    for (const [k, v] of Object.entries(PARENT_SYSCTLS)) {
      const before = readFileSync(confPath(parent, k), 'utf8').trim();
      if (before !== v) {
        saved[k] = before;
        writeFileSync(confPath(parent, k), v);
      }
    }
    this.parentSaved.set(parent, saved);
    if (Object.keys(saved).length) this.log(`set ${Object.keys(saved).join(', ')} on ${parent} for its vmac`);
  }

  /** Deletes the owned vmacs not in `wanted`; forgets adopted ones; restores parents left without one. */
  async prune(wanted: Set<string>): Promise<void> {
    const gone = [...this.vmacs.values()].filter((v) => !wanted.has(v.name));
    if (gone.length === 0) return;
    const rt = createRtNetlink();
    try {
      for (const v of gone) {
        this.vmacs.delete(v.name);
        if (!v.owned) continue;
        try {
          // Re-check by name: only what still is ours (alias) is deleted.
          const cur = await findLink(rt, v.name);
          if (cur && cur.index === v.index && cur.alias === VMAC_ALIAS) {
            await rt.delLink({ index: v.index }, {}, { timeout: 2000 });
            this.log(`removed macvlan ${v.name}`);
          }
        } catch (err) {
          this.log(`removing macvlan ${v.name} failed: ${(err as Error).message}`);
        }
      }
    } finally {
      rt.socket.close();
    }
    for (const [parent, saved] of this.parentSaved) {
      if ([...this.vmacs.values()].some((v) => v.parent === parent)) continue;
      this.parentSaved.delete(parent);
      for (const [k, v] of Object.entries(saved)) {
        try {
          writeFileSync(confPath(parent, k), v);
        } catch {} // the parent may be gone
      }
    }
  }
}

async function findLink(rt: Rt, name: string): Promise<ExistingLink | undefined> {
  const links = await rt.getLinks();
  const m = links.find((l) => l.attrs.ifname === name);
  if (!m || m.data.index === undefined) return undefined;
  return {
    index: m.data.index,
    mac: m.attrs.address ?? Buffer.alloc(6),
    kind: parseLinkInfo(m.attrs.linkinfo).kind,
    parent: m.attrs.link && m.attrs.link.length >= 4 ? m.attrs.link.readUInt32LE(0) : undefined,
    alias: m.attrs.ifalias,
  };
}
