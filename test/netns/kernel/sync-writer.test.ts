// Real kernel: the synchronous rtnetlink writer of a VRRP takeover's VIP adds. In a namespace,
// a prepared RTM_NEWADDR written through it is in the kernel (with the agent's protocol mark)
// when write() returns, acked as 0; the same request again is answered EEXIST, per request.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  createNetns,
  destroyNetns,
  isRoot,
  type Netns,
  siblingScript,
  stopChild,
  uniq,
  waitFor,
} from '../../lib/netns.js';

describe('synchronous rtnetlink writer (netns)', { skip: !isRoot() && 'needs root' }, () => {
  let ns: Netns;

  before(() => {
    [ns] = createNetns(`lbt-ksync-${uniq()}`);
    ns.ip('link add d0 type veth peer name d1');
    ns.ip('link set d0 up');
  });
  after(() => destroyNetns(ns));

  it('an add is in the kernel when write() returns; the repeat is EEXIST', async () => {
    const ifindex = (JSON.parse(ns.ip('-j link show dev d0')) as { ifindex: number }[])[0].ifindex;
    const child = ns.spawn(
      siblingScript(import.meta.url, 'sync-writer-child', String(ifindex), '10.66.0.7', '24', '250'),
    );
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => {
      out += d;
    });
    child.stderr!.on('data', (d) => {
      err += d;
    });
    try {
      await waitFor(() => out.includes('\n'), { timeoutMs: 15_000, what: `child answer; stderr: ${err}` });
    } finally {
      await stopChild(child);
    }
    assert.deepEqual(JSON.parse(out), { first: [0], second: [17] });
    const addrs = (
      JSON.parse(ns.ip('-j addr show dev d0')) as {
        addr_info: { local: string; prefixlen: number }[];
      }[]
    )[0].addr_info;
    const a = addrs.find((x) => x.local === '10.66.0.7');
    assert.ok(a, JSON.stringify(addrs));
    assert.equal(a.prefixlen, 24);
  });
});
