// One raw socket per (interface, family), shared by every instance on that interface; packets
// are handed to the instance with the VRID they carry. Drops that happen before we know the
// instance (short packet, unknown VRID) are counted here.
import type { Family } from '../lib/ip.js';
import { peekVrid, type Received } from './codec.js';
import { type PreparedPacket, preparePacket, VrrpSocket } from './socket.js';

export interface PacketSink {
  readonly vrid: number;
  handle(r: Received): void;
}

interface Entry {
  socket: VrrpSocket;
  /** Sends in flight: a socket closes only after them (the goodbye advert must leave). */
  pending: Set<Promise<void>>;
  sinks: Map<number, PacketSink>;
  multicast: boolean;
}

export class SocketHub {
  private entries = new Map<string, Entry>();
  /** Interface-level drops: packet_len_err before the VRID is known, vrid_err for VRIDs nobody runs. */
  readonly drops = new Map<string, { packet_len_err: number; vrid_err: number }>();

  constructor(private onError: (err: Error) => void) {}

  attach(ifname: string, ifindex: number, family: Family, multicast: boolean, sink: PacketSink): void {
    const key = `${ifname}/${family}`;
    let e = this.entries.get(key);
    if (e && multicast && !e.multicast) {
      // An instance needs the group joined: reopen the shared socket with the join.
      e.socket.close();
      this.entries.delete(key);
      const sinks = e.sinks;
      e = undefined;
      const fresh = this.open(key, ifname, ifindex, family, true);
      for (const [vrid, s] of sinks) fresh.sinks.set(vrid, s);
      e = fresh;
    }
    if (!e) e = this.open(key, ifname, ifindex, family, multicast);
    const other = e.sinks.get(sink.vrid);
    if (other && other !== sink)
      throw new Error(`VRID ${sink.vrid} is used twice on ${ifname} (IPv${family})`);
    e.sinks.set(sink.vrid, sink);
  }

  send(ifname: string, family: Family, vrrp: Buffer, src: string | undefined, dst: string): Promise<void> {
    return this.sendPrepared(ifname, family, preparePacket(family, vrrp, src, dst));
  }

  /** Sends a packet built ahead by preparePacket (socket.ts). */
  sendPrepared(ifname: string, family: Family, packet: PreparedPacket): Promise<void> {
    const e = this.entries.get(`${ifname}/${family}`);
    if (!e) return Promise.reject(new Error(`no VRRP socket on ${ifname} (IPv${family})`));
    const p = e.socket.sendPrepared(packet);
    e.pending.add(p);
    const done = () => e.pending.delete(p);
    p.then(done, done);
    return p;
  }

  detach(ifname: string, family: Family, sink: PacketSink): void {
    const key = `${ifname}/${family}`;
    const e = this.entries.get(key);
    if (!e || e.sinks.get(sink.vrid) !== sink) return;
    e.sinks.delete(sink.vrid);
    if (e.sinks.size === 0) {
      this.entries.delete(key);
      void Promise.allSettled([...e.pending]).then(() => e.socket.close());
    }
  }

  private open(key: string, ifname: string, ifindex: number, family: Family, multicast: boolean): Entry {
    const counters = this.drops.get(key) ?? { packet_len_err: 0, vrid_err: 0 };
    this.drops.set(key, counters);
    const entry: Entry = { sinks: new Map(), pending: new Set(), multicast } as Entry;
    entry.socket = new VrrpSocket(
      { ifname, ifindex, family, multicast },
      (r) => {
        if ('drop' in r) {
          counters.packet_len_err++;
          return;
        }
        const id = peekVrid(r.vrrp);
        if (!id) {
          counters.packet_len_err++;
          return;
        }
        const sink = entry.sinks.get(id.vrid);
        if (!sink) {
          counters.vrid_err++;
          return;
        }
        sink.handle(r);
      },
      this.onError,
    );
    this.entries.set(key, entry);
    return entry;
  }

  close(): void {
    for (const e of this.entries.values()) e.socket.close();
    this.entries.clear();
  }
}
