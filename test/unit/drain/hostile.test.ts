// The disable file under hostile conditions (no root): a FIFO, a directory, a symlink to a
// secret, a large file, the directory removed and re-created under the watch, owners, and a
// failed write that must leave no temporary file behind.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { pino } from 'pino';
import { configSchema } from '../../../agent/config/schema.js';
import { Facts } from '../../../agent/daemon/facts.js';
import { DrainSubsystem } from '../../../agent/drain/index.js';
import { MAX_READ, readSnapshot } from '../../../agent/drain/read.js';
import { planWatches } from '../../../agent/drain/watch.js';
import { FakeClock } from '../../../agent/lib/clock.js';

async function until(fn: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (fn()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`never happened: ${what}`);
}

type Status = {
  drained: boolean;
  owner?: string;
  reason?: string;
  disableFileKind: string | null;
  watching: string[];
  detection: string;
  counters: { fileReads: number; polls: number };
};

describe('disable file: hostile paths', () => {
  let dir: string;
  let facts: Facts;
  let clock: FakeClock;
  let sub: DrainSubsystem;
  const file = () => join(dir, 'lb', 'disable');
  const cfg = (extra: Record<string, unknown> = {}) =>
    configSchema.parse({ maintenance: { disableFile: file(), pollInterval: '1h', ...extra } });
  const st = () => sub.status() as Status;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lbt-drainh-'));
    mkdirSync(join(dir, 'lb'));
    facts = new Facts();
    clock = new FakeClock();
    sub = new DrainSubsystem({ log: pino({ level: 'silent' }), clock, facts });
  });
  afterEach(async () => {
    await sub.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a FIFO at the path (at start and later) is a drain and is never opened', async () => {
    execFileSync('mkfifo', [file()]);
    await sub.start(cfg());
    assert.equal(facts.get('drain')?.up, false);
    assert.equal(st().disableFileKind, 'fifo');
    assert.match(st().reason ?? '', /fifo.*content not read/);
    unlinkSync(file());
    await until(() => facts.get('drain')?.up === true, 'undrained when the FIFO goes');
    execFileSync('mkfifo', [file()]);
    await until(() => facts.get('drain')?.up === false, 'drained by a FIFO created later');
  });

  it('a directory or a socket-like non-file at the path means drained', async () => {
    mkdirSync(file());
    await sub.start(cfg());
    assert.equal(facts.get('drain')?.up, false);
    assert.equal(st().disableFileKind, 'directory');
  });

  it('a symlink is a drain whose target is never read (no secret in status or facts)', async () => {
    const secret = join(dir, 'shadow');
    writeFileSync(secret, 'root:$6$secrethash:19000:0:99999:7:::\n');
    symlinkSync(secret, file());
    await sub.start(cfg());
    assert.equal(facts.get('drain')?.up, false);
    assert.equal(st().disableFileKind, 'symlink');
    assert.doesNotMatch(JSON.stringify(sub.status()), /secrethash/);
    assert.doesNotMatch(JSON.stringify(facts.get('drain')), /secrethash/);
  });

  it('a 100 MB file costs one capped read, not a full read per poll', async () => {
    writeFileSync(file(), 'reason: big file\n');
    truncateSync(file(), 100 * 1024 * 1024);
    const snap = await readSnapshot(file());
    assert.ok(snap.present && snap.text !== undefined && snap.text.length <= MAX_READ);
    assert.equal(snap.present && snap.truncated, true);
    await sub.start(cfg({ pollInterval: '1s' }));
    assert.equal(facts.get('drain')?.reason, 'big file');
    for (let i = 0; i < 5; i++) {
      clock.advance(1000);
      await until(() => st().counters.polls === i + 1, `poll ${i + 1}`);
    }
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(st().counters.fileReads, 1, 'read once, not on every poll');
    writeFileSync(file(), 'reason: changed\n');
    await until(() => facts.get('drain')?.reason === 'changed', 'a change is read');
  });

  it('the directory removed and re-created: the watch comes back, status tells the truth', async () => {
    await sub.start(cfg());
    assert.ok(st().watching.includes(join(dir, 'lb')));
    assert.equal(st().detection, 'inotify');
    rmSync(join(dir, 'lb'), { recursive: true });
    await until(() => !st().watching.includes(join(dir, 'lb')), 'the dead watch is dropped');
    assert.match(st().detection, /^poll/);
    mkdirSync(join(dir, 'lb'));
    await until(() => st().watching.includes(join(dir, 'lb')), 'the watch is set again');
    // pollInterval is 1h and the clock is fake: only inotify can see this.
    writeFileSync(file(), 'reason: after re-create\n');
    await until(() => facts.get('drain')?.up === false, 'drained through the new watch');
    unlinkSync(file());
    await until(() => facts.get('drain')?.up === true, 'undrained through the new watch');
  });

  it('a failed drain (the path is a directory) reports the error and leaves no temporary file', async () => {
    await sub.start(cfg());
    mkdirSync(file());
    mkdirSync(join(file(), 'x'));
    const h = sub.controlHandlers();
    // A directory at the path already means drained: an owned drain is refused, a plain one kept.
    await assert.rejects(async () => h['drain.set']({ owner: 'ansible' }), /already drained by someone else/);
    rmSync(file(), { recursive: true });
    // A parent that is a file: the write itself fails.
    writeFileSync(join(dir, 'notadir'), '');
    await sub.reload(cfg({ disableFile: join(dir, 'notadir', 'disable') }));
    await assert.rejects(async () => h['drain.set']({}), /cannot write/);
    assert.deepEqual(
      readdirSync(dir).filter((n) => n.endsWith('.tmp')),
      [],
    );
  });
});

describe('drain owners', () => {
  let dir: string;
  let facts: Facts;
  let sub: DrainSubsystem;
  const file = () => join(dir, 'disable');

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lbt-drainown-'));
    facts = new Facts();
    sub = new DrainSubsystem({ log: pino({ level: 'silent' }), clock: new FakeClock(), facts });
    await sub.start(configSchema.parse({ maintenance: { disableFile: file() } }));
  });
  afterEach(async () => {
    await sub.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('drain --owner: new drain owned; same owner kept; anyone else refused, file untouched', async () => {
    const h = sub.controlHandlers();
    await h['drain.set']({ owner: 'ansible', reason: 'upgrade', who: 'ci' });
    assert.match(readFileSync(file(), 'utf8'), /^owner: ansible$/m);
    assert.deepEqual(sub.brief(), {
      drained: true,
      owner: 'ansible',
      reason: 'upgrade',
      who: 'ci',
      since: sub.brief().since,
      expires: null,
    });
    const before = readFileSync(file(), 'utf8');
    const kept = (await h['drain.set']({ owner: 'ansible', reason: 'again' })) as { kept: boolean };
    assert.equal(kept.kept, true);
    assert.equal(readFileSync(file(), 'utf8'), before, 'same owner: kept as it is');
    await assert.rejects(
      async () => h['drain.set']({ owner: 'bob' }),
      /already drained by someone else \(owner ansible, by ci, since .*, reason: upgrade\)/,
    );
    assert.equal(readFileSync(file(), 'utf8'), before);
  });

  it('drain --owner on a drain made by hand is refused and names it', async () => {
    writeFileSync(file(), 'bad NIC, do not undrain (OPS-123)\n');
    await sub.refresh('test');
    const h = sub.controlHandlers();
    await assert.rejects(
      async () => h['drain.set']({ owner: 'ansible' }),
      /already drained by someone else \(no owner .*reason: bad NIC, do not undrain \(OPS-123\)\)/,
    );
    assert.equal(readFileSync(file(), 'utf8'), 'bad NIC, do not undrain (OPS-123)\n');
    // A plain drain keeps the drain in place as it is too.
    const kept = (await h['drain.set']({ reason: 'mine' })) as { kept: boolean };
    assert.equal(kept.kept, true);
    assert.equal(readFileSync(file(), 'utf8'), 'bad NIC, do not undrain (OPS-123)\n');
    // And undrain --owner refuses it.
    await assert.rejects(async () => h['drain.clear']({ owner: 'ansible' }), /drained by someone else/);
    assert.ok(existsSync(file()));
  });

  it('undrain: --owner removes only its own; plain undrain refuses an owned drain unless --force', async () => {
    const h = sub.controlHandlers();
    // Not drained: success, nothing to do.
    assert.equal(((await h['drain.clear']({ owner: 'ansible' })) as { kept: boolean }).kept, true);
    await h['drain.set']({ owner: 'alice', reason: 'disk' });
    await assert.rejects(
      async () => h['drain.clear']({ owner: 'ansible' }),
      /drained by someone else \(owner alice/,
    );
    await assert.rejects(
      async () => h['drain.clear']({}),
      /drained by owner alice .*--owner alice, or --force/,
    );
    assert.ok(existsSync(file()));
    await h['drain.clear']({ owner: 'alice' });
    assert.equal(existsSync(file()), false);
    assert.equal(facts.get('drain')?.up, true);
    await h['drain.set']({ owner: 'alice' });
    await h['drain.clear']({ force: true });
    assert.equal(existsSync(file()), false);
    // A drain without an owner: plain undrain removes it.
    writeFileSync(file(), '');
    await sub.refresh('test');
    await h['drain.clear']({});
    assert.equal(existsSync(file()), false);
  });

  it('rejects owner names that are not one plain token', async () => {
    await assert.rejects(
      async () => sub.controlHandlers()['drain.set']({ owner: 'a b\nowner: x' }),
      /not a valid name/,
    );
  });
});

describe('planWatches', () => {
  it('watches the directory and its parent; climbs to the nearest ancestor when missing', () => {
    const have = new Set(['/', '/etc', '/etc/lb']);
    assert.deepEqual(
      planWatches(['/etc/lb/disable'], (d) => have.has(d)),
      [
        { dir: '/etc/lb', names: ['disable'] },
        { dir: '/etc', names: ['lb'] },
      ],
    );
    have.delete('/etc/lb');
    assert.deepEqual(
      planWatches(['/etc/lb/disable'], (d) => have.has(d)),
      [
        { dir: '/etc', names: ['lb'] },
        { dir: '/', names: ['etc'] },
      ],
    );
    have.add('/etc/lb');
    assert.deepEqual(
      planWatches(['/etc/lb/disable', '/etc/lb/ready'], (d) => have.has(d)),
      [
        { dir: '/etc/lb', names: ['disable', 'ready'] },
        { dir: '/etc', names: ['lb'] },
      ],
    );
  });
});
