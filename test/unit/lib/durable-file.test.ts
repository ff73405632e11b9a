import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { unlinkDurable, writeFileDurable, writeFileDurableSync } from '../../../agent/lib/durable-file.js';

test('durable writes replace the file whole, with the mode asked, and leave no temporary file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lbt-durable-'));
  try {
    const p = join(dir, 'state.json');
    writeFileDurableSync(p, 'one\n', 0o600);
    assert.equal(readFileSync(p, 'utf8'), 'one\n');
    assert.equal(statSync(p).mode & 0o777, 0o600);
    await writeFileDurable(p, 'two\n');
    assert.equal(readFileSync(p, 'utf8'), 'two\n');
    assert.deepEqual(readdirSync(dir), ['state.json']);
    await unlinkDurable(p);
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a failed durable write (target is a directory) throws and removes its temporary file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lbt-durable-'));
  try {
    const p = join(dir, 'disable');
    mkdirSync(p);
    assert.throws(() => writeFileDurableSync(p, 'x'));
    await assert.rejects(writeFileDurable(p, 'x'));
    assert.deepEqual(readdirSync(dir), ['disable']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
