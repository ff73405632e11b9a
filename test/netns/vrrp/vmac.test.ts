// useVmac (keepalived use_vmac) against real keepalived (VRRPv3, 100 ms): lbagent preempts
// keepalived; its macvlan vrrp.51 exists (private, 00:00:5e:00:01:33, alias lbagent, addrgenmode
// none), the VIP is on it, the bridge sees lbagent's adverts and GARPs with the VMAC as source
// (and as ARP sender), a client's ARP for the VIP is answered by the VMAC only; reloads keep the
// macvlan (in place, and when the instance restarts); stop removes it and gives the parent its ARP
// sysctls back. A macvlan lbagent did not create is adopted and left in place; a non-macvlan of
// that name is refused. Against keepalived's own use_vmac the switch moves the VMAC to our port.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { captureOutput, isRoot, stopChild, waitFor } from '../../lib/netns.js';
import {
  agentConfig,
  capture,
  hasVip,
  keepalivedStats,
  type Lan,
  makeLan,
  startAgent,
  startKeepalived,
} from './harness.js';

const VIP = '10.77.0.100';
const VMAC = '00:00:5e:00:01:33';
const opts = { skip: isRoot() ? false : 'needs root (network namespaces)', timeout: 60_000 };

const lbConfig = (priority: number) =>
  agentConfig({
    version: 3,
    priority,
    intervalMs: 100,
    vips: [`${VIP}/24`],
    extra: { useVmac: true }, // VIPs go on vrrp.51 by default
  });

const vmacLink = (lan: Lan) => lan.lb.ip('-d link show dev vrrp.51', { allowFail: true });
const sysctl = (lan: Lan, key: string) => lan.lb.exec(['cat', `/proc/sys/net/ipv4/conf/${key}`]).trim();

test(
  'v3 useVmac: lbagent master on vrrp.51 over keepalived; VMAC on the wire and in ARP; removed on stop',
  opts,
  async () => {
    const lan = makeLan('vrm');
    try {
      // A client on the "switch" to ARP for the VIP.
      lan.sw.ip('addr add 10.77.0.9/24 dev br0');
      const k = await startKeepalived(lan, {
        version: 3,
        priority: 100,
        advertInt: 0.1,
        vips: [`${VIP}/24`],
        state: 'MASTER',
      });
      await waitFor(() => k.log().includes('Entering MASTER STATE'), {
        timeoutMs: 5000,
        what: 'keepalived master',
      });
      const cap = await capture(lan, lan.sw, 'vrrp or arp', 'br0', { linkHeaders: true });
      // The same ARP frames as hex, for the sender hardware address inside the ARP message.
      const hexDump = lan.sw.spawn(['tcpdump', '-ni', 'br0', '-l', '-xx', 'arp']);
      lan.children.push(hexDump);
      const hex = captureOutput(hexDump);
      await waitFor(() => hex.text().includes('listening on'), {
        timeoutMs: 5000,
        what: 'tcpdump -xx start',
      });
      const a = await startAgent(lan, lbConfig(150));
      await a.waitState('master', 5000);
      await waitFor(() => hasVipOn(lan, 'vrrp.51', VIP), { timeoutMs: 3000, what: 'VIP on vrrp.51' });
      await waitFor(() => k.log().includes('Entering BACKUP STATE'), {
        timeoutMs: 3000,
        what: 'keepalived backup',
      });
      await waitFor(() => !hasVip(lan.ka, VIP), { timeoutMs: 3000, what: 'keepalived drops the VIP' });

      const link = vmacLink(lan);
      assert.match(link, new RegExp(`link/ether ${VMAC} `), link);
      assert.match(link, /macvlan mode private/, link);
      assert.match(link, /alias lbagent/, link);
      assert.match(link, /addrgenmode none/, link);
      assert.match(link, /vrrp\.51@eth0/, link);
      assert.ok(!hasVip(lan.lb, VIP), 'the VIP is not on the parent');
      // keepalived's settings: only the vmac answers ARP for the VIP.
      assert.equal(sysctl(lan, 'vrrp.51/arp_ignore'), '1');
      assert.equal(sysctl(lan, 'vrrp.51/accept_local'), '1');
      assert.equal(sysctl(lan, 'eth0/arp_ignore'), '1');
      assert.equal(sysctl(lan, 'eth0/arp_filter'), '1');

      const st = (await a.status()) as unknown as { vmac: { name: string; mac: string; owned: boolean } };
      assert.deepEqual(st.vmac, { name: 'vrrp.51', mac: VMAC, owned: true });

      // A client's ARP for the VIP resolves to the VMAC, and nothing else answers.
      const arping = lan.sw.exec(['arping', '-c', '2', '-w', '3', '-I', 'br0', VIP], { allowFail: true });
      const replies = arping.split('\n').filter((l) => l.includes('reply from'));
      assert.ok(replies.length >= 2, arping);
      for (const r of replies)
        assert.ok(r.toLowerCase().includes(`[${VMAC}]`), `reply not from the VMAC: ${r}`);

      // Hitless reload (priority change): same macvlan, VIP stays.
      const index = /^(\d+):/.exec(link)?.[1];
      await a.reload(lbConfig(160));
      assert.equal(/^(\d+):/.exec(vmacLink(lan))?.[1], index, 'macvlan kept across the reload');
      assert.ok(hasVipOn(lan, 'vrrp.51', VIP));

      await new Promise((r) => setTimeout(r, 300)); // a few adverts after the GARPs
      await cap.stop();
      const lines = cap.lines();
      const adverts = lines.filter((l) => l.includes(`${lan.lbAddr} > 224.0.0.18`) && l.includes('VRRPv3'));
      assert.ok(adverts.length >= 2, lines.join('\n'));
      for (const l of adverts)
        assert.ok(l.includes(`${VMAC} > 01:00:5e:00:00:12`), `advert not from the VMAC: ${l}`);
      const garp = new RegExp(`Request who-has ${VIP} (\\(ff:ff:ff:ff:ff:ff\\) )?tell ${VIP}`);
      const garps = lines.filter((l) => garp.test(l));
      const ours = garps.filter((l) => l.includes(`${VMAC} > ff:ff:ff:ff:ff:ff`));
      assert.ok(ours.length >= 5, `GARPs from the VMAC: ${lines.join('\n')}`);
      await stopChild(hexDump, 'SIGINT', 2000);
      // ARP request, sender = (VMAC, VIP): bytes 20-31 of the frame (after the 14-byte Ethernet header).
      const frames = arpFrames(hex.text());
      const vipHex = Buffer.from(VIP.split('.').map(Number)).toString('hex');
      const garpBody = `0001${VMAC.replaceAll(':', '')}${vipHex}`;
      assert.ok(
        frames.filter((f) => f.slice(40, 64) === garpBody).length >= 5,
        `GARP frames with sender (VMAC, VIP): ${frames.join('\n')}`,
      );

      // A reload that restarts the instance (VIP list changed) re-adopts the macvlan: same ifindex.
      const more = lbConfig(160) as { vrrp: { instances: { vips: string[] }[] } };
      more.vrrp.instances[0].vips.push('10.77.0.101/24');
      await a.reload(more);
      assert.equal(/^(\d+):/.exec(vmacLink(lan))?.[1], index, 'macvlan kept across an instance restart');
      await waitFor(() => hasVipOn(lan, 'vrrp.51', '10.77.0.101'), {
        timeoutMs: 5000,
        what: 'new VIP on vrrp.51',
      });

      await a.stop();
      assert.equal(vmacLink(lan), '', 'macvlan removed on stop');
      assert.equal(sysctl(lan, 'eth0/arp_ignore'), '0', 'parent sysctls restored');
      assert.equal(sysctl(lan, 'eth0/arp_filter'), '0');
      assert.doesNotMatch(k.log(), /invalid|mismatch|bad |incorrect|wrong|ttl|checksum|discard|malformed/i);
    } finally {
      await lan.cleanup();
    }
  },
);

test(
  'v3 useVmac: a macvlan lbagent did not create is adopted and left in place; a wrong one is refused',
  opts,
  async () => {
    const lan = makeLan('vrm');
    try {
      lan.lb.ip(`link add link eth0 name vrrp.51 address ${VMAC} type macvlan mode private`);
      const a = await startAgent(lan, lbConfig(150));
      await a.waitState('master', 5000);
      await waitFor(() => hasVipOn(lan, 'vrrp.51', VIP), { timeoutMs: 3000, what: 'VIP on vrrp.51' });
      const st = (await a.status()) as unknown as { vmac: { owned: boolean } };
      assert.equal(st.vmac.owned, false);
      await a.stop();
      assert.match(vmacLink(lan), /vrrp\.51@eth0/, 'foreign macvlan left in place');

      lan.lb.ip('link del vrrp.51');
      lan.lb.ip('link add vrrp.51 type bridge');
      await assert.rejects(
        startAgent(lan, lbConfig(150)),
        /vrrp\.51 exists but it is a bridge, not a macvlan/,
      );
      assert.match(lan.lb.ip('-d link show dev vrrp.51'), /bridge/, 'not touched');
    } finally {
      await lan.cleanup();
    }
  },
);

test(
  "v3 useVmac against keepalived use_vmac: the VMAC moves to lbagent's port, keepalived counts our adverts",
  opts,
  async () => {
    const lan = makeLan('vrm');
    try {
      lan.sw.ip('addr add 10.77.0.9/24 dev br0');
      const k = await startKeepalived(lan, {
        version: 3,
        priority: 100,
        advertInt: 0.1,
        vips: [],
        rawConf: `global_defs {
  router_id ka
  vrrp_version 3
}
vrrp_instance VI_1 {
  state MASTER
  interface eth0
  use_vmac
  virtual_router_id 51
  priority 100
  advert_int 0.1
  virtual_ipaddress {
    ${VIP}/24
  }
}
`,
      });
      await waitFor(() => k.log().includes('Entering MASTER STATE'), {
        timeoutMs: 5000,
        what: 'keepalived master',
      });
      const fdb = () => lan.sw.exec(['bridge', 'fdb', 'show', 'br', 'br0']);
      await waitFor(() => fdb().includes(`${VMAC} dev pk `), {
        timeoutMs: 3000,
        what: 'VMAC learnt on keepalived port',
      });
      const a = await startAgent(lan, lbConfig(150));
      await a.waitState('master', 5000);
      await waitFor(() => k.log().includes('Entering BACKUP STATE'), {
        timeoutMs: 3000,
        what: 'keepalived backup',
      });
      await waitFor(() => hasVipOn(lan, 'vrrp.51', VIP), { timeoutMs: 3000, what: 'VIP on vrrp.51' });
      await waitFor(() => fdb().includes(`${VMAC} dev pl `), {
        timeoutMs: 3000,
        what: `VMAC learnt on lbagent's port: ${fdb()}`,
      });
      const arping = lan.sw.exec(['arping', '-c', '2', '-w', '3', '-I', 'br0', VIP], { allowFail: true });
      const replies = arping.split('\n').filter((l) => l.includes('reply from'));
      assert.ok(replies.length >= 2, arping);
      for (const r of replies)
        assert.ok(r.toLowerCase().includes(`[${VMAC}]`), `reply not from the VMAC: ${r}`);
      const stats = await keepalivedStats(k);
      assert.ok((stats['Advertisements/Received'] ?? 0) > 0, JSON.stringify(stats));
      await a.stop();
      await waitFor(() => k.log().split('Entering MASTER STATE').length > 2, {
        timeoutMs: 3000,
        what: 'keepalived master again',
      });
      assert.equal(vmacLink(lan), '', 'macvlan removed on stop');
      assert.doesNotMatch(k.log(), /invalid|mismatch|bad |incorrect|wrong|ttl|checksum|discard|malformed/i);
    } finally {
      await lan.cleanup();
    }
  },
);

function hasVipOn(lan: Lan, ifname: string, addr: string): boolean {
  return lan.lb.ip(`-o addr show dev ${ifname}`, { allowFail: true }).includes(` ${addr}/`);
}

/** Frames of `tcpdump -xx` output as one hex string each. */
function arpFrames(text: string): string[] {
  const frames: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s+0x([0-9a-f]{4}):\s+((?:[0-9a-f]{2,4}\s?)+)/.exec(line);
    if (!m) continue;
    const bytes = m[2].replace(/\s+/g, '');
    if (m[1] === '0000') frames.push(bytes);
    else if (frames.length) frames[frames.length - 1] += bytes;
  }
  return frames;
}
