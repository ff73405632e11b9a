// lbctl drain --wait logic against a fake agent (no socket).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { drainProgress } from '../../../agent/drain/progress.js';
import { formatBgpStatus } from '../../../cli/commands/bgp.js';
import { waitForDrain } from '../../../cli/commands/drain.js';
import type { CliContext } from '../../../cli/context.js';

function fakeCtx(
  seq: ReturnType<typeof drainProgress>[],
  json = false,
): CliContext & { lines: string[]; stdout: string[]; errors: unknown[] } {
  const lines: string[] = [];
  const stdout: string[] = [];
  const errors: unknown[] = [];
  let i = 0;
  return {
    socketPath: '/nonexistent',
    json,
    lines,
    stdout,
    errors,
    call: async (method) => {
      assert.equal(method, 'drain.progress');
      return seq[Math.min(i++, seq.length - 1)];
    },
    out: (t) => stdout.push(t),
    progress: (t) => lines.push(t),
    fail: (code, message, exit, details) => errors.push({ code, message, exit, details }),
  };
}

describe('lbctl drain --wait', () => {
  const pending = drainProgress({
    drained: true,
    bgp: { total: 2, settled: 1, pending: ['192.0.2.2/32: waiting for ExaBGP ack'] },
  });
  const done = drainProgress({ drained: true, bgp: { total: 2, settled: 2, pending: [] } });

  it('prints a plain line per change and exits 0 once drained', async () => {
    const ctx = fakeCtx([pending, pending, pending, done]);
    const code = await waitForDrain(ctx, 10_000, { tty: false, intervalMs: 1 });
    assert.equal(code, 0);
    assert.equal(ctx.lines.length, 2, ctx.lines.join('\n'));
    assert.deepEqual(ctx.stdout, []);
    assert.match(ctx.lines[0], /draining: announcements \.\. \(1\/2 acked\)/);
    assert.match(ctx.lines[1], /drained: announcements ok \(2\/2 acked\)/);
  });

  it('exits 1 at the timeout', async () => {
    const ctx = fakeCtx([pending]);
    const code = await waitForDrain(ctx, 20, { tty: false, intervalMs: 5 });
    assert.equal(code, 1);
    assert.deepEqual(ctx.errors, [
      {
        code: 'timeout',
        message: 'drain not complete after 0s; left:',
        exit: 1,
        details: ['announcements: 1/2 acked', '  192.0.2.2/32: waiting for ExaBGP ack'],
      },
    ]);
  });

  it('with --json, stdout carries the JSON result alone and progress goes to stderr', async () => {
    const ctx = fakeCtx([pending, done], true);
    const code = await waitForDrain(ctx, 10_000, { tty: false, intervalMs: 1 });
    assert.equal(code, 0);
    assert.equal(ctx.stdout.length, 1, ctx.stdout.join('\n'));
    assert.equal(JSON.parse(ctx.stdout[0]).done, true);
    assert.equal(ctx.lines.length, 2);
  });
});

describe('lbctl bgp', () => {
  it('shows each prefix with state, attributes, ack and the sessions', () => {
    const lines = formatBgpStatus({
      stopGraceMs: 0,
      bridges: [
        {
          id: 1,
          pid: 20,
          exabgpPid: 10,
          acks: { done: 3, error: 0 },
          neighbors: { '10.0.1.1': { state: 'up', since: '2026-11-23T15:00:00.000Z' } },
        },
      ],
      announcements: [
        {
          prefix: '192.0.2.10/32',
          state: 'disabled',
          reasons: ['drained: test'],
          announced: true,
          attributes: { nextHop: 'self', med: 500, communities: ['65000:1', '65000:2'] },
          acked: true,
          lastAck: { ok: true, at: Date.UTC(2026, 10, 23, 15, 1), latencyMs: 3.4 },
        },
      ],
    });
    assert.deepEqual(lines, [
      'ExaBGP pid 10 (bridge 20): acks 3 done, 0 error; neighbors: 10.0.1.1 up',
      '192.0.2.10/32        disabled  announced acked  nextHop=self med=500 communities=65000:1,65000:2',
      '                     last ack: done 2026-11-23T15:01:00.000Z (3.4 ms); drained: test',
    ]);
  });
});
