// Interface facts for VRRP: index, MAC, up/running, from rtnetlink (npm netlink). Link events
// (RTNLGRP_LINK) trigger a fresh dump, so a deleted or renamed interface is seen too. Address
// events (RTNLGRP_IPV4_IFADDR/IPV6_IFADDR) are passed on as they come, with what they say: an
// instance that just became master announces its VIPs the moment the kernel layer has added them,
// without re-reading every interface's addresses.
import { networkInterfaces } from 'node:os';
import { createRtNetlink } from 'netlink';
import { decodeAddress, RTM } from '../kernel/codec.js';

/** One address added to or removed from an interface, as an rtnetlink event told it. */
export interface AddressEvent {
  added: boolean;
  ifindex: number;
  /** Canonical text (IFA_LOCAL, else IFA_ADDRESS). */
  address: string;
}

/** The address events of one datagram (malformed or unrelated messages are skipped). */
export function addressEvents(msgs: readonly { type: number; data: Buffer }[]): AddressEvent[] {
  const out: AddressEvent[] = [];
  for (const m of msgs) {
    if (m.type !== RTM.NEWADDR && m.type !== RTM.DELADDR) continue;
    try {
      const a = decodeAddress(m.data);
      if (a) out.push({ added: m.type === RTM.NEWADDR, ifindex: a.ifindex, address: a.address });
    } catch {
      // not ours to judge: the kernel layer's own watch counts malformed messages
    }
  }
  return out;
}

export interface LinkInfo {
  name: string;
  index: number;
  mac: Buffer;
  /** IFF_UP and IFF_RUNNING (carrier), what keepalived calls an interface being up. */
  up: boolean;
}

type Rt = ReturnType<typeof createRtNetlink>;

export class LinkWatcher {
  private rt: Rt | undefined;
  private links = new Map<string, LinkInfo>();
  private listeners = new Set<(links: Map<string, LinkInfo>) => void>();
  private addressListeners = new Set<(events: AddressEvent[]) => void>();
  private refreshing: Promise<void> | undefined;
  private again = false;

  constructor(private onError: (err: Error) => void = () => {}) {}

  async start(): Promise<void> {
    this.rt = createRtNetlink();
    (this.rt.socket as unknown as NodeJS.EventEmitter).on('error', (err: Error) =>
      this.onError(new Error(`rtnetlink link watch: ${err.message}`)),
    );
    this.rt.addMembership('LINK');
    this.rt.addMembership('IPV4_IFADDR');
    this.rt.addMembership('IPV6_IFADDR');
    // The raw datagram (the parsed 'message' event drops NEW vs DEL): addresses are parsed here,
    // only when someone listens; link events trigger a dump.
    this.rt.socket.prependListener('message', (msgs: { type: number; data: Buffer }[]) => {
      if (this.addressListeners.size) {
        const events = addressEvents(msgs);
        if (events.length) for (const fn of this.addressListeners) fn(events);
      }
      if (msgs.some((m) => m.type === RTM.NEWLINK || m.type === RTM.DELLINK)) {
        this.refresh().catch((err: Error) => this.onError(new Error(`rtnetlink link dump: ${err.message}`)));
      }
    });
    await this.refresh();
  }

  get(name: string): LinkInfo | undefined {
    return this.links.get(name);
  }

  onChange(fn: (links: Map<string, LinkInfo>) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Called with the address events of every datagram (any interface). */
  onAddressChange(fn: (events: AddressEvent[]) => void): () => void {
    this.addressListeners.add(fn);
    return () => this.addressListeners.delete(fn);
  }

  /** A fresh dump now (after creating a link, before looking it up). */
  sync(): Promise<void> {
    return this.refresh();
  }

  private refresh(): Promise<void> {
    if (this.refreshing) {
      this.again = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      try {
        do {
          this.again = false;
          const msgs = await this.rt!.getLinks();
          const next = new Map<string, LinkInfo>();
          for (const m of msgs) {
            const name = m.attrs.ifname;
            if (!name || m.data.index === undefined) continue;
            const f = m.data.flags ?? {};
            next.set(name, {
              name,
              index: m.data.index,
              mac: m.attrs.address ?? Buffer.alloc(6),
              up: Boolean(f.up && f.running),
            });
          }
          this.links = next;
          for (const fn of this.listeners) fn(next);
        } while (this.again);
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  close(): void {
    this.rt?.socket.close();
    this.rt = undefined;
  }
}

/** Addresses on an interface right now (canonical text, no scope suffix). */
export function interfaceAddresses(ifname: string): { address: string; family: 4 | 6; internal: boolean }[] {
  const list = networkInterfaces()[ifname] ?? [];
  return list.map((a) => ({
    address: a.address.split('%')[0],
    family: a.family === 'IPv4' ? 4 : 6,
    internal: a.internal,
  }));
}
