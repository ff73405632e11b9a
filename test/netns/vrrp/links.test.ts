// Real kernel: what the VRRP takeover path reads about addresses. In a namespace, an address added
// and removed by `ip` reaches the link watcher as parsed events (added/removed, ifindex, address),
// and the synchronous RTM_GETADDR probe lists exactly the interface's addresses at each step.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
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

describe('vrrp link watcher and address probe (netns)', { skip: !isRoot() && 'needs root' }, () => {
  let ns: Netns;
  let child: ChildProcess;
  const lines: Record<string, unknown>[] = [];

  before(async () => {
    [ns] = createNetns(`lbt-vlinks-${uniq()}`);
    ns.ip('link add a0 type veth peer name b0');
    ns.ip('link set a0 up');
    child = ns.spawn(siblingScript(import.meta.url, 'links-child'));
    createInterface({ input: child.stdout! }).on('line', (l) => lines.push(JSON.parse(l)));
    await waitFor(() => lines.some((l) => l.ready), { timeoutMs: 15_000, what: 'child ready' });
  });
  after(async () => {
    if (child) await stopChild(child);
    destroyNetns(ns);
  });

  const probe = async (): Promise<{ ifindex: number; probe: string[] }> => {
    const n = lines.length;
    child.stdin!.write('probe a0\n');
    const got = await waitFor(() => lines.slice(n).find((l) => 'probe' in l), { what: 'probe answer' });
    return got as { ifindex: number; probe: string[] };
  };
  const event = (added: boolean, address: string) =>
    waitFor(
      () =>
        lines.some((l) =>
          (l.events as { added: boolean; address: string }[] | undefined)?.some(
            (e) => e.added === added && e.address === address,
          ),
        ),
      { timeoutMs: 5000, what: `${added ? 'added' : 'removed'} event for ${address}` },
    );

  it('events say what was added and removed, and where; the probe agrees at each step', async () => {
    const { ifindex, probe: none } = await probe();
    assert.deepEqual(none, []);
    ns.ip('addr add 10.9.0.1/24 dev a0');
    ns.ip('addr add 10.9.0.2/32 dev a0');
    await event(true, '10.9.0.1');
    await event(true, '10.9.0.2');
    const ev = lines.flatMap((l) => (l.events as { ifindex: number; address: string }[]) ?? []);
    assert.ok(ev.filter((e) => e.address.startsWith('10.9.0.')).every((e) => e.ifindex === ifindex));
    assert.deepEqual((await probe()).probe, ['10.9.0.1', '10.9.0.2']);
    ns.ip('addr del 10.9.0.1/24 dev a0');
    await event(false, '10.9.0.1');
    assert.deepEqual((await probe()).probe, ['10.9.0.2']);
  });
});
