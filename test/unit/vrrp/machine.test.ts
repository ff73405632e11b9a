import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../../../agent/lib/clock.js';
import type { Advert } from '../../../agent/vrrp/codec.js';
import {
  type Action,
  type MachineConfig,
  masterDownIntervalMs,
  skewTimeMs,
  VrrpMachine,
} from '../../../agent/vrrp/machine.js';

function setup(over: Partial<MachineConfig> = {}) {
  const clock = new FakeClock();
  const actions: Action[] = [];
  const cfg: MachineConfig = {
    version: 3,
    priority: 100,
    intervalMs: 1000,
    preempt: true,
    preemptDelayMs: 0,
    primaryAddress: '10.0.0.5',
    ...over,
  };
  const m = new VrrpMachine(cfg, clock, (a) => actions.push(a));
  const sends = () =>
    actions.filter((a) => a.type === 'send').map((a) => (a as { priority: number }).priority);
  return { clock, m, actions, sends };
}

const adv = (priority: number, intervalMs = 1000, version: 2 | 3 = 3): Advert => ({
  version,
  vrid: 1,
  priority,
  intervalMs,
  addresses: ['10.0.0.100'],
});

test('RFC 5798 timers: skew and Master_Down_Interval per version', () => {
  assert.equal(skewTimeMs(3, 100, 1000), 609.375);
  assert.equal(masterDownIntervalMs(3, 100, 1000), 3609.375);
  assert.equal(skewTimeMs(3, 100, 50), 30.46875);
  assert.equal(skewTimeMs(2, 100, 50), 609.375, 'v2 skew is in seconds whatever the interval');
  assert.equal(masterDownIntervalMs(2, 254, 1000), 3000 + 2000 / 256);
});

test('backup becomes master after exactly Master_Down_Interval without adverts', () => {
  const { clock, m, actions } = setup();
  m.start();
  assert.equal(m.state, 'backup');
  clock.advance(3609);
  assert.equal(m.state, 'backup');
  clock.advance(1);
  assert.equal(m.state, 'master');
  const kinds = actions.map((a) => a.type);
  assert.deepEqual(kinds, ['state', 'send', 'announce', 'state']);
  assert.equal(m.stats.become_master, 1);
});

test('master sends every interval', () => {
  const { clock, m, sends } = setup({ priority: 255 });
  m.start();
  assert.equal(m.state, 'master', 'priority 255 owner is master at once');
  clock.advance(3000);
  assert.deepEqual(sends(), [255, 255, 255, 255]);
});

test('adverts keep a backup down; priority 0 makes it take over after the skew time', () => {
  const { clock, m } = setup();
  m.start();
  for (let i = 0; i < 10; i++) {
    clock.advance(1000);
    m.receive(adv(150), '10.0.0.9');
  }
  assert.equal(m.state, 'backup');
  assert.equal(m.masterSeen?.address, '10.0.0.9');
  m.receive(adv(0), '10.0.0.9');
  assert.equal(m.stats.pri_zero_rcvd, 1);
  clock.advance(609);
  assert.equal(m.state, 'backup');
  clock.advance(1);
  assert.equal(m.state, 'master');
});

test('v3 backup adopts the master advert interval; v2 keeps its own', () => {
  const v3 = setup();
  v3.m.start();
  v3.m.receive(adv(150, 50), '10.0.0.9');
  assert.equal(v3.m.masterIntervalMs, 50);
  v3.clock.advance(masterDownIntervalMs(3, 100, 50) + 1);
  assert.equal(v3.m.state, 'master');
  const v2 = setup({ version: 2 });
  v2.m.start();
  v2.m.receive(adv(150, 1000, 2), '10.0.0.9');
  assert.equal(v2.m.masterIntervalMs, 1000);
});

test('preempt: a backup ignores a lower-priority master and takes over after MDI', () => {
  const { clock, m } = setup({ priority: 150 });
  m.start();
  for (let i = 0; i < 3; i++) {
    clock.advance(1000);
    m.receive(adv(100), '10.0.0.9');
  }
  clock.advance(masterDownIntervalMs(3, 150, 1000) - 3000);
  assert.equal(m.state, 'master');
});

test('nopreempt: a higher-priority backup stays backup while a master is heard', () => {
  const { clock, m } = setup({ priority: 150, preempt: false });
  m.start();
  for (let i = 0; i < 10; i++) {
    clock.advance(1000);
    m.receive(adv(100), '10.0.0.9');
  }
  assert.equal(m.state, 'backup');
});

test('preempt_delay: lower adverts are honoured until the delay has passed', () => {
  const { clock, m } = setup({ priority: 150, preemptDelayMs: 10_000 });
  m.start();
  for (let i = 0; i < 9; i++) {
    clock.advance(1000);
    m.receive(adv(100), '10.0.0.9');
  }
  assert.equal(m.state, 'backup');
  for (let i = 0; i < 6 && m.state === 'backup'; i++) {
    clock.advance(1000);
    m.receive(adv(100), '10.0.0.9');
  }
  assert.equal(m.state, 'master');
  assert.ok(clock.now() >= 10_000 + 3000);
});

test('master: higher priority -> backup; lower priority -> answers at once', () => {
  const { m, sends, clock } = setup({ priority: 255 });
  m.start();
  clock.advance(100);
  const before = sends().length;
  m.receive(adv(50), '10.0.0.9');
  assert.equal(sends().length, before + 1, 'immediate advert to the lower master');
  assert.equal(m.state, 'master');
  const m2 = setup();
  m2.m.start();
  m2.clock.advance(4000);
  assert.equal(m2.m.state, 'master');
  m2.m.receive(adv(200, 500), '10.0.0.9');
  assert.equal(m2.m.state, 'backup');
  assert.equal(m2.m.masterIntervalMs, 500);
  assert.equal(m2.m.stats.release_master, 1);
});

test('equal priority in master: the higher primary address wins', () => {
  const a = setup({ primaryAddress: '10.0.0.5' });
  a.m.start();
  a.clock.advance(4000);
  a.m.receive(adv(100), '10.0.0.9');
  assert.equal(a.m.state, 'backup', 'sender address higher: we yield');
  const b = setup({ primaryAddress: '10.0.0.50' });
  b.m.start();
  b.clock.advance(4000);
  const n = b.sends().length;
  b.m.receive(adv(100), '10.0.0.9');
  assert.equal(b.m.state, 'master', 'sender address lower: we stay');
  assert.equal(b.sends().length, n + 1);
});

test('master receiving priority 0 re-asserts at once', () => {
  const { m, clock, sends } = setup();
  m.start();
  clock.advance(4000);
  const n = sends().length;
  m.receive(adv(0), '10.0.0.9');
  assert.equal(sends().length, n + 1);
});

test('stop as master sends priority 0; fault leaves master with priority 0 and comes back as backup', () => {
  const { m, clock, sends } = setup();
  m.start();
  clock.advance(4000);
  m.setFault(true);
  assert.equal(m.state, 'fault');
  assert.equal(sends().at(-1), 0);
  assert.equal(m.stats.pri_zero_sent, 1);
  clock.advance(10_000);
  assert.equal(m.state, 'fault', 'no timers in fault');
  m.setFault(false);
  assert.equal(m.state, 'backup');
  clock.advance(4000);
  m.stop();
  assert.equal(m.state, 'stopped');
  assert.equal(sends().at(-1), 0);
  assert.equal(m.stats.pri_zero_sent, 2);
  const pending = clock.pending();
  clock.advance(10_000);
  assert.equal(clock.pending(), pending);
});

test('priority change while master is advertised at once', () => {
  const { m, clock, sends } = setup();
  m.start();
  clock.advance(4000);
  m.setPriority(20);
  assert.equal(sends().at(-1), 20);
  assert.equal(m.effectivePriority, 20);
});

test('fault before start starts in fault', () => {
  const { m } = setup();
  m.setFault(true);
  m.start();
  assert.equal(m.state, 'fault');
});

test('sync group helpers: forceMaster from backup, forceBackup from master', () => {
  const { m, clock, sends } = setup();
  m.start();
  m.forceMaster('sync');
  assert.equal(m.state, 'master');
  clock.advance(100);
  m.forceBackup('sync');
  assert.equal(m.state, 'backup');
  assert.equal(sends().at(-1), 0);
});

test('group fault and own fault combine: fault until both clear', () => {
  const { m, clock } = setup();
  m.start();
  clock.advance(4000);
  m.setGroupFault(true, 'sync');
  assert.equal(m.state, 'fault');
  assert.equal(m.ownFaulted, false);
  m.setFault(true);
  m.setGroupFault(false, 'sync');
  assert.equal(m.state, 'fault', 'own fault still holds');
  m.setFault(false);
  assert.equal(m.state, 'backup');
});

test('timers restarted by an advert run from its arrival in the kernel (ageMs), not from when it was read', () => {
  const { clock, m } = setup({ version: 2, intervalMs: 1000 });
  m.start();
  const mdi = masterDownIntervalMs(2, 100, 1000);
  m.receive(adv(200, 1000, 2), '10.0.0.9', 0.4);
  clock.advance(mdi - 0.4 - 0.01);
  assert.equal(m.state, 'backup', 'not before Master_Down_Interval after the arrival');
  clock.advance(0.02);
  assert.equal(m.state, 'master', 'at Master_Down_Interval after the arrival, 0.4 ms before "now + MDI"');
  assert.equal(m.masterSeen?.at, -0.4, 'last master seen at its arrival');
});

test('a priority-0 advert read late still takes over at Skew_Time after its arrival; an age past the deadline fires at once', () => {
  const { clock, m } = setup({ version: 2, intervalMs: 1000 });
  m.start();
  const skew = skewTimeMs(2, 100, 1000);
  m.receive(adv(0, 1000, 2), '10.0.0.9', 0.3);
  clock.advance(skew - 0.3 - 0.01);
  assert.equal(m.state, 'backup');
  clock.advance(0.02);
  assert.equal(m.state, 'master');
  const b = setup({ version: 2, intervalMs: 1000 });
  b.m.start();
  b.m.receive(adv(0, 1000, 2), '10.0.0.9', skew + 5);
  b.clock.advance(0);
  assert.equal(b.m.state, 'master');
});
