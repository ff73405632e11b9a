import assert from 'node:assert/strict';
import { it } from 'node:test';
import { renderHealth } from '../../../cli/commands/health.js';
import { harness } from './helpers.js';

it('lbctl health renders checks, backends, services and host from status()', async () => {
  const h = harness(`
host:
  checks: [{ type: file, path: /run/lb/ok, rise: 1, fall: 1 }]
ipvs:
  services:
    - name: web
      vip: 192.0.2.1
      port: 80
      check: { type: tcp, interval: 1s, rise: 1, fall: 1 }
      backends: [{ address: 10.0.0.1, weight: 5 }, { address: '2001:db8::1', forwarding: tun }]
`);
  h.behaviour.set('[2001:db8::1]:80', 'fail');
  await h.health.start(h.config);
  await h.advance(100);
  h.health.drainBackend('web', '10.0.0.1', 80);
  const text = renderHealth(JSON.parse(JSON.stringify(h.health.status())));
  await h.health.stop({ removeState: false });
  const lines = text.split('\n');
  assert.match(lines[0], /^health: 3 checks, 0 in flight; start lateness p50 \d+(\.\d)? ms/);
  assert.match(text, /tcp 10\.0\.0\.1:80 +up +1\/0 +1\/1 +ok +\d+ms +\d+ms +1 +connected/);
  assert.match(text, /tcp \[2001:db8::1\]:80 +DOWN +0\/1 +1\/1 +fail .* connect ECONNREFUSED/);
  assert.match(text, /web +10\.0\.0\.1:80 +DRAINED +5 +drained/);
  assert.match(text, /web +DOWN +0\/2 +1/);
  assert.match(text, /host: up \(1 host checks up\)/);
  assert.equal(renderHealth(undefined), 'health: no status (subsystem not running?)\n');
});
