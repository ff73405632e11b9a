// Tracking against a real keepalived peer (VRRPv3, 100 ms): drain fact moves mastership away and
// back; a tracked interface losing carrier (rtnetlink link event) forces Fault with priority 0.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { isRoot, waitFor } from '../../lib/netns.js';
import { agentConfig, capture, makeLan, startAgent, startKeepalived, times } from './harness.js';

const VIP = '10.77.0.100';

test('drain and interface tracking move mastership to keepalived and back', {
  skip: isRoot() ? false : 'needs root',
  timeout: 60_000,
}, async () => {
  const lan = makeLan('vrtrk');
  try {
    lan.lb.ip('link add trk0 type veth peer name trk1');
    lan.lb.ip('link set trk0 up');
    lan.lb.ip('link set trk1 up');
    const a = await startAgent(
      lan,
      agentConfig({
        version: 3,
        priority: 150,
        intervalMs: 100,
        vips: [`${VIP}/24`],
        extra: {
          track: { interfaces: [{ name: 'trk0', weight: 'fault' }] },
          notify: { any: ['sh', '-c', `echo "$@" >> ${join(lan.dir, 'notify.log')}`, 'notify'] },
        },
      }),
    );
    await a.waitState('master', 3000);
    const k = await startKeepalived(lan, { version: 3, priority: 100, advertInt: 0.1, vips: [`${VIP}/24`] });
    const kaMasters = () => k.log().split('Entering MASTER STATE').length - 1;
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(kaMasters(), 0, 'keepalived stays backup behind priority 150');

    // Drain: priority 150 - 254 -> 1; keepalived (100, preempt) takes over; we follow as backup.
    a.fact('drain', false);
    await waitFor(() => kaMasters() === 1, { timeoutMs: 3000, what: 'keepalived master after drain' });
    await a.waitState('backup', 3000);
    let st = await a.status();
    assert.equal(st.priority.effective, 1);
    assert.deepEqual(st.priority.reasons, ['drain down: -254']);

    // Undrain: back to 150, we preempt.
    a.fact('drain', true);
    await a.waitState('master', 3000);
    await waitFor(() => k.log().split('Entering BACKUP STATE').length - 1 >= 2, {
      timeoutMs: 3000,
      what: 'keepalived backup',
    });

    // Tracked interface loses carrier: Fault, priority 0 sent, keepalived takes over after skew.
    lan.lb.ip('link set trk1 down');
    await a.waitState('fault', 3000);
    await waitFor(() => kaMasters() === 2, { timeoutMs: 3000, what: 'keepalived master after our fault' });
    st = await a.status();
    assert.ok(st.stats.pri_zero_sent >= 1);
    assert.ok(st.priority.reasons.includes('interface trk0 down: fault'));
    lan.lb.ip('link set trk1 up');
    await a.waitState('master', 3000);
    await a.stop();
    const notes = await waitFor(
      () => {
        const t = readFileSync(join(lan.dir, 'notify.log'), 'utf8');
        return t.includes('VI_1 STOPPED') ? t : '';
      },
      { timeoutMs: 3000, what: 'notify hook calls' },
    );
    assert.match(
      notes,
      /^VI_1 BACKUP 150\nVI_1 MASTER 150\nVI_1 BACKUP 1\nVI_1 MASTER 150\nVI_1 FAULT 150\n/,
    );
  } finally {
    await lan.cleanup();
  }
});

test('reload is hitless: a priority change keeps mastership, no priority 0 advert, new priority on the wire', {
  skip: isRoot() ? false : 'needs root',
  timeout: 30_000,
}, async () => {
  const lan = makeLan('vrrel');
  try {
    const cfg = (priority: number) =>
      agentConfig({ version: 3, priority, intervalMs: 100, vips: [`${VIP}/24`] });
    const a = await startAgent(lan, cfg(150));
    await a.waitState('master', 3000);
    const cap = await capture(lan, lan.lb, 'vrrp');
    const before = a.events.length;
    await a.reload(cfg(200));
    await new Promise((r) => setTimeout(r, 500));
    await cap.stop();
    const lines = cap.lines();
    assert.equal(times(lines, / prio 0,/).length, 0, 'no goodbye advert on reload');
    assert.ok(times(lines, / prio 200,/).length >= 3, 'new priority advertised');
    assert.deepEqual(
      a.events.slice(before).filter((e) => e.ev === 'fact'),
      [],
      'no role change on reload',
    );
    assert.ok(lan.lb.ip('-o addr show dev eth0').includes(`${VIP}/24`), 'VIP stays');
    await a.stop();
  } finally {
    await lan.cleanup();
  }
});
