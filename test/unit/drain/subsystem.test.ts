// DrainSubsystem against files in a temp directory (no root, no kernel state).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { pino } from 'pino';
import { configSchema } from '../../../agent/config/schema.js';
import { Facts } from '../../../agent/daemon/facts.js';
import { DrainSubsystem } from '../../../agent/drain/index.js';
import { HealthSubsystem } from '../../../agent/health/index.js';
import { FakeClock } from '../../../agent/lib/clock.js';

async function until(fn: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (fn()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`never happened: ${what}`);
}

describe('DrainSubsystem', () => {
  let dir: string;
  let facts: Facts;
  let clock: FakeClock;
  let sub: DrainSubsystem;
  const cfg = (extra: Record<string, unknown> = {}) =>
    configSchema.parse({
      maintenance: { disableFile: join(dir, 'disable'), readyFile: join(dir, 'ready'), ...extra },
      ipvs: {
        services: [
          {
            name: 'web',
            vip: '192.0.2.1',
            port: 80,
            backends: [{ address: '10.0.0.5' }, { address: '10.0.0.6', port: 8080 }],
          },
        ],
      },
    });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lbt-drain-'));
    facts = new Facts();
    clock = new FakeClock();
    sub = new DrainSubsystem({ log: pino({ level: 'silent' }), clock, facts });
  });
  afterEach(async () => {
    await sub.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a disable file present at start drains (drain survives a restart)', async () => {
    writeFileSync(join(dir, 'disable'), 'reason: rack move\nwho: bob\n');
    await sub.start(cfg());
    assert.deepEqual(facts.get('drain'), { up: false, reason: 'rack move by bob' });
    assert.deepEqual(facts.get('ready'), { up: false });
  });

  it('follows the files through inotify: touch drains, rm undrains, ready file appears', async () => {
    await sub.start(cfg());
    assert.equal(facts.get('drain')?.up, true);
    writeFileSync(join(dir, 'disable'), '');
    await until(() => facts.get('drain')?.up === false, 'drained by touch');
    unlinkSync(join(dir, 'disable'));
    await until(() => facts.get('drain')?.up === true, 'undrained by rm');
    writeFileSync(join(dir, 'ready'), '');
    await until(() => facts.get('ready')?.up === true, 'ready');
  });

  it('the poll fallback catches what inotify cannot (directory created later)', async () => {
    const sub2dir = join(dir, 'later');
    await sub.start(cfg({ disableFile: join(sub2dir, 'disable'), readyFile: undefined }));
    assert.equal(facts.get('drain')?.up, true);
    const { mkdirSync } = await import('node:fs');
    mkdirSync(sub2dir);
    writeFileSync(join(sub2dir, 'disable'), '');
    clock.advance(5000); // one poll (the parent's watch may see it first)
    await until(() => facts.get('drain')?.up === false, 'drained once the directory exists');
  });

  it('drain.set writes reason/who/expiry; TTL expiry removes the file and undrains', async () => {
    await sub.start(cfg());
    const h = sub.controlHandlers();
    await h['drain.set']({ reason: 'upgrade', who: 'alice', ttlMs: 200 });
    const text = readFileSync(join(dir, 'disable'), 'utf8');
    assert.match(text, /^reason: upgrade$/m);
    assert.match(text, /^who: alice$/m);
    assert.match(text, /^expires: /m);
    assert.equal(facts.get('drain')?.up, false);
    await new Promise((r) => setTimeout(r, 250));
    clock.advance(1000);
    await until(() => facts.get('drain')?.up === true, 'undrained at the expiry');
    assert.equal(existsSync(join(dir, 'disable')), false);
  });

  it('progress is done once drained and every source has settled', async () => {
    let settled = 0;
    sub.setSources({
      bgp: () => ({ total: 1, settled, pending: settled ? [] : ['192.0.2.1/32: waiting for ExaBGP ack'] }),
    });
    await sub.start(cfg());
    await sub.controlHandlers()['drain.set']({});
    assert.equal(sub.progress().done, false);
    settled = 1;
    assert.equal(sub.progress().done, true);
  });

  it('backend drain goes through the health model: weight 0, persisted, bad input named', async () => {
    const health = new HealthSubsystem({ log: pino({ level: 'silent' }), clock, facts });
    sub.setSources({
      backends: {
        drain: (s, a, p) => health.drainBackend(s, a, p),
        undrain: (s, a, p) => health.undrainBackend(s, a, p),
      },
    });
    await health.start(cfg());
    await sub.start(cfg());
    const h = sub.controlHandlers();
    const r = (await h['drain.backend']({ service: 'web', address: '10.0.0.6' })) as { fact: unknown };
    assert.deepEqual(r.fact, facts.get('backend:web/10.0.0.6:8080'));
    assert.equal(facts.get('backend:web/10.0.0.6:8080')?.up, false);
    assert.match(facts.get('backend:web/10.0.0.6:8080')?.reason ?? '', /drain/);
    await h['undrain.backend']({ service: 'web', address: '10.0.0.6' });
    assert.equal(facts.get('backend:web/10.0.0.6:8080')?.up, true);
    await assert.rejects(
      async () => h['drain.backend']({ service: 'nope', address: '10.0.0.6' }),
      /no ipvs service named "nope"/i,
    );
    await assert.rejects(
      async () => h['drain.backend']({ service: 'web', address: '10.0.0.9' }),
      /has no backend 10.0.0.9/,
    );
    await health.stop({ removeState: false });
  });
});
