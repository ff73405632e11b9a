// Test helper: sends VRRPv3 IPv6 adverts to ff02::12 with a chosen hop limit from inside a
// namespace (a real sender on the wire; keepalived always uses 255). The kernel fills the source
// (link-local) and the checksum (IPV6_CHECKSUM), as for lbagent's own adverts.
// Usage: node sender.js IFNAME HOP_LIMIT VRID PRIORITY INTERVAL_MS COUNT GAP_MS VIP...
import { createRequire } from 'node:module';
import { encodeAdvert, VRRP_GROUP_V6, VRRP_PROTO } from '../../../agent/vrrp/codec.js';

interface RawSocket {
  send(buf: Buffer, offset: number, length: number, address: string, cb: (err: Error | null) => void): void;
  setOption(level: number, option: number, value: number | Buffer, length?: number): void;
  close(): void;
}
const raw = createRequire(import.meta.url)('raw-socket') as {
  createSocket(opts: { protocol: number; addressFamily: number }): RawSocket;
  AddressFamily: { IPv6: number };
};

const [ifname, hops, vrid, priority, intervalMs, count, gapMs, ...vips] = process.argv.slice(2);
const sock = raw.createSocket({ protocol: VRRP_PROTO, addressFamily: raw.AddressFamily.IPv6 });
const dev = Buffer.from(`${ifname}\0`);
sock.setOption(1, 25, dev, dev.length); // SO_BINDTODEVICE
sock.setOption(41, 7, 6); // IPV6_CHECKSUM at offset 6
sock.setOption(41, 18, Number(hops)); // IPV6_MULTICAST_HOPS
const pkt = encodeAdvert(
  {
    version: 3,
    vrid: Number(vrid),
    priority: Number(priority),
    intervalMs: Number(intervalMs),
    addresses: vips,
  },
  { family: 6 },
);
for (let i = 0; i < Number(count); i++) {
  await new Promise<void>((resolve, reject) =>
    sock.send(pkt, 0, pkt.length, VRRP_GROUP_V6, (err) => (err ? reject(err) : resolve())),
  );
  await new Promise((r) => setTimeout(r, Number(gapMs)));
}
sock.close();
process.stdout.write(`sent ${count}\n`);
