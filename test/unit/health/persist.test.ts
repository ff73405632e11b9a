import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { loadHealthState } from '../../../agent/health/persist.js';
import { harness } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'lbt-health-state-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const CFG = `
ipvs:
  services:
    - name: web
      vip: 192.0.2.1
      port: 80
      check: { type: tcp, interval: 1s, rise: 3, fall: 1 }
      backends: [{ address: 10.0.0.1 }, { address: 10.0.0.2 }, { address: 10.0.0.3 }]
`;

it('a restart keeps check states and drains (hitless), not the configured initial state', async () => {
  const stateFile = join(dir, 'state.json');
  const a = harness(CFG, { stateFile });
  a.behaviour.set('10.0.0.3:80', 'fail');
  await a.health.start(a.config);
  await a.advance(2100); // 3 runs: .1 and .2 up, .3 stays down
  a.health.drainBackend('web', '10.0.0.2', 80);
  await a.health.stop({ removeState: false });
  assert.deepEqual(loadHealthState(stateFile), {
    checks: { 'tcp 10.0.0.1:80': 'up', 'tcp 10.0.0.2:80': 'up', 'tcp 10.0.0.3:80': 'down' },
    drained: ['backend:web/10.0.0.2:80'],
  });

  const b = harness(CFG, { stateFile });
  await b.health.start(b.config);
  // Before any check ran in the new process: the states of the old one, not `initial: down`.
  assert.equal(b.facts.get('backend:web/10.0.0.1:80')?.up, true);
  assert.equal(b.facts.get('backend:web/10.0.0.2:80')?.reason, 'drained');
  assert.equal(b.facts.get('backend:web/10.0.0.3:80')?.up, false);
  await b.health.stop({ removeState: false });
});

it('an unusable state file is logged and ignored', async () => {
  const stateFile = join(dir, 'bad.json');
  writeFileSync(stateFile, '{"checks": 1}');
  const h = harness(CFG, { stateFile });
  await h.health.start(h.config);
  assert.equal(h.facts.get('backend:web/10.0.0.1:80')?.up, false, 'initial down from the config');
  assert.match(String(h.logs.find((l) => l.level === 40)?.err), /health state file .*bad.json: expected/);
  await h.health.stop({ removeState: false });
  assert.deepEqual(
    Object.keys(JSON.parse(readFileSync(stateFile, 'utf8'))),
    ['checks', 'drained'],
    'rewritten',
  );
});
