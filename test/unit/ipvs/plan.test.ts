// Reconcile planning and the Maglev ordering, checked against a model of the kernel's destination
// list (ip_vs_ctl.c: a new destination is inserted at the head; edits keep the position).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { maglevOrder } from '../../../agent/ipvs/desired.js';
import { applyOps, type IpvsOp, type ObservedIpvs, planDests, planIpvs } from '../../../agent/ipvs/plan.js';
import {
  type DestSpec,
  destKey,
  type ObservedDest,
  type ServiceSpec,
  serviceKey,
} from '../../../agent/ipvs/types.js';

const svc: ServiceSpec = {
  family: 4,
  protocol: 'tcp',
  address: '10.0.0.1',
  port: 80,
  scheduler: 'mh',
  flags: 0x10,
  timeout: 0,
  netmask: 0xffffffff,
};
const key = serviceKey(svc);
const dest = (n: number, weight = 1): DestSpec => ({
  family: 4,
  address: `10.1.${n >> 8}.${n & 255}`,
  port: 80,
  forwarding: 'nat',
  weight,
  upperThreshold: 0,
  lowerThreshold: 0,
});
const obs = (d: DestSpec): ObservedDest => ({ ...d, activeConns: 0, inactConns: 0, persistConns: 0 });

/** Applies destination ops to a model kernel list (head first), as ip_vs_ctl.c does. */
function applyModel(list: ObservedDest[], ops: IpvsOp[]): ObservedDest[] {
  let l = [...list];
  for (const op of ops) {
    if (op.kind === 'newDest') {
      assert.ok(
        !l.some((d) => destKey(d) === destKey(op.dest)),
        `NEW_DEST of an existing ${destKey(op.dest)}`,
      );
      l = [obs(op.dest), ...l];
    } else if (op.kind === 'delDest') {
      assert.ok(
        l.some((d) => destKey(d) === destKey(op.dest)),
        `DEL_DEST of a missing ${destKey(op.dest)}`,
      );
      l = l.filter((d) => destKey(d) !== destKey(op.dest));
    } else if (op.kind === 'setDest') {
      l = l.map((d) => (destKey(d) === destKey(op.dest) ? obs(op.dest) : d));
    }
  }
  return l;
}

const observed = (dests: ObservedDest[], spec = svc): ObservedIpvs => ({
  services: new Map([[key, { spec, dests }]]),
});

describe('planIpvs', () => {
  it('creates a new service and adds destinations tail first, so the list ends in canonical order', () => {
    const want = maglevOrder([dest(3), dest(1), dest(2)]);
    const ops = planIpvs(
      { services: [{ name: 'web', key, spec: svc, dests: want }] },
      { services: new Map() },
      new Set(),
    );
    assert.deepEqual(
      ops.map((o) => [o.kind, 'service' in o && 'scheduler' in o.service ? o.service.scheduler : '']),
      [
        ['newService', 'none'],
        ['newDest', 'mh'],
        ['newDest', 'mh'],
        ['newDest', 'mh'],
        ['setService', 'mh'],
      ],
    );
    assert.deepEqual(applyModel([], ops).map(destKey), ['10.1.0.3:80', '10.1.0.2:80', '10.1.0.1:80']);
  });

  it('a new mh service gets its scheduler only after its destinations (one Maglev table build)', () => {
    const want = maglevOrder([dest(3), dest(1), dest(2)]);
    const desired = { services: [{ name: 'web', key, spec: svc, dests: want }] };
    const ops = planIpvs(desired, { services: new Map() }, new Set());
    const first = ops[0];
    assert.equal(first.kind, 'newService');
    // Same service, same flags, persistence and engine: only the scheduler is left out.
    assert.deepEqual('scheduler' in first.service && { ...first.service, scheduler: 'mh' }, svc);
    assert.deepEqual(ops.at(-1), {
      kind: 'setService',
      key,
      service: svc,
      reason: 'scheduler none → mh: one table build',
    });
    // The modelled result is exactly the desired service, and a second plan is empty.
    const after = applyOps({ services: new Map() }, ops, () => true);
    assert.equal(after.services.get(key)?.spec.scheduler, 'mh');
    assert.deepEqual(planIpvs(desired, after, new Set([key])), []);
    // When the final SET_SERVICE fails the model keeps "none", so the next resync sets it again.
    const failedSet = applyOps({ services: new Map() }, ops, (i) => i < ops.length - 1);
    assert.deepEqual(
      planIpvs(desired, failedSet, new Set([key])).map((o) => [o.kind, 'reason' in o ? o.reason : '']),
      [['setService', 'scheduler none → mh']],
    );
  });

  it('keeps the direct path where the scheduler has no per-destination table, or for one destination', () => {
    for (const [spec, dests] of [
      [{ ...svc, scheduler: 'wrr' }, [dest(1), dest(2)]],
      [svc, [dest(1)]],
      [svc, []],
    ] as const) {
      const ops = planIpvs(
        { services: [{ name: 'web', key, spec, dests: maglevOrder([...dests]) }] },
        { services: new Map() },
        new Set(),
      );
      assert.equal(ops[0].kind === 'newService' && ops[0].service.scheduler, spec.scheduler);
      assert.ok(!ops.some((o) => o.kind === 'setService'));
    }
  });

  it('a no-op reconcile plans nothing', () => {
    const want = maglevOrder([dest(1), dest(2), dest(3)]);
    const ops = planIpvs(
      { services: [{ name: 'web', key, spec: svc, dests: want }] },
      observed(want.map(obs)),
      new Set([key]),
    );
    assert.deepEqual(ops, []);
  });

  it('one weight change is one SET_DEST, in place', () => {
    const want = maglevOrder([dest(1), dest(2, 0), dest(3)]);
    const have = maglevOrder([dest(1), dest(2), dest(3)]).map(obs);
    const ops = planIpvs(
      { services: [{ name: 'web', key, spec: svc, dests: want }] },
      observed(have),
      new Set([key]),
    );
    assert.deepEqual(
      ops.map((o) => [o.kind, 'dest' in o ? destKey(o.dest) : '', 'dest' in o ? o.dest.weight : -1]),
      [['setDest', '10.1.0.2:80', 0]],
    );
  });

  it('edits scheduler and flags in place (SET_SERVICE, never delete/re-add)', () => {
    const want = maglevOrder([dest(1)]);
    const ops = planIpvs(
      { services: [{ name: 'web', key, spec: { ...svc, scheduler: 'wrr', flags: 0 }, dests: want }] },
      observed(want.map(obs)),
      new Set([key]),
    );
    assert.deepEqual(
      ops.map((o) => o.kind),
      ['setService'],
    );
  });

  it('never touches a foreign service; deletes an owned one the config dropped', () => {
    const foreign: ServiceSpec = { ...svc, address: '10.9.9.9' };
    const ownedGone: ServiceSpec = { ...svc, address: '10.8.8.8' };
    const o: ObservedIpvs = {
      services: new Map([
        [serviceKey(foreign), { spec: foreign, dests: [obs(dest(1))] }],
        [serviceKey(ownedGone), { spec: ownedGone, dests: [] }],
      ]),
    };
    const ops = planIpvs({ services: [] }, o, new Set([serviceKey(ownedGone)]));
    assert.deepEqual(
      ops.map((x) => [x.kind, x.key]),
      [['delService', 'tcp:10.8.8.8:80']],
    );
  });

  it('adding the highest backend is a single NEW_DEST at the head', () => {
    const have = maglevOrder([dest(1), dest(2)]).map(obs);
    const ops = planDests(key, svc, maglevOrder([dest(1), dest(2), dest(9)]), have);
    assert.deepEqual(
      ops.map((o) => [o.kind, 'dest' in o ? destKey(o.dest) : '']),
      [['newDest', '10.1.0.9:80']],
    );
  });

  it('repairs an order left by another history (re-adds only what precedes the kept suffix)', () => {
    // Kernel list from adds 1,3,2 → head first [2,3,1]; canonical is [3,2,1].
    const have = [dest(2), dest(3), dest(1)].map(obs);
    const want = maglevOrder([dest(1), dest(2), dest(3)]);
    const ops = planDests(key, svc, want, have);
    assert.deepEqual(applyModel(have, ops).map(destKey), want.map(destKey));
    assert.deepEqual(
      ops.map((o) => [o.kind, 'dest' in o ? destKey(o.dest) : '']),
      [
        ['delDest', '10.1.0.3:80'],
        ['newDest', '10.1.0.3:80'],
      ],
    );
  });

  it('property: whatever the kernel history, plan + apply gives the canonical list; a second plan is empty', () => {
    const histOp = fc.record({
      add: fc.boolean(),
      n: fc.integer({ min: 1, max: 12 }),
      w: fc.integer({ min: 0, max: 3 }),
    });
    fc.assert(
      fc.property(
        fc.array(histOp, { maxLength: 40 }),
        fc.uniqueArray(fc.integer({ min: 1, max: 12 }), { maxLength: 12 }),
        (hist, target) => {
          // Some arbitrary history of adds/removes on this director.
          let list: ObservedDest[] = [];
          for (const h of hist) {
            const d = dest(h.n, h.w);
            const present = list.some((x) => destKey(x) === destKey(d));
            if (h.add && !present) list = [obs(d), ...list];
            else if (!h.add && present) list = list.filter((x) => destKey(x) !== destKey(d));
          }
          const want = maglevOrder(target.map((n) => dest(n, 2)));
          const ops = planDests(key, svc, want, list);
          const after = applyModel(list, ops);
          assert.deepEqual(
            after.map((d) => [destKey(d), d.weight]),
            want.map((d) => [destKey(d), d.weight]),
          );
          assert.deepEqual(planDests(key, svc, want, after), []);
          // The subsystem's own post-write model agrees with this independent one.
          const modelled = applyOps(observed(list), ops, () => true).services.get(key)!.dests;
          assert.deepEqual(modelled.map(destKey), after.map(destKey));
        },
      ),
      { numRuns: 500 },
    );
  });
});
