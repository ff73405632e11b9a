// The corpus against the real keepalived 2.2.7 and the real lbagent CLI: `keepalived -t` accepts
// every valid file (in a namespace that has the eth0/eth1 the files name) and rejects every
// invalid one; `lbagent import keepalived` converts each valid file (exit 0; 31-partial.conf
// exit 1 with its unmapped list) and check-config accepts every conversion (its loader for each
// file, the CLI once: a node process per file would make this a minute on a busy CI box).
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfigFile } from '../../../agent/config/load.js';
import { createNetns, destroyNetns, isRoot, type Netns, uniq } from '../../lib/netns.js';

const repo = join(import.meta.dirname, '..', '..', '..', '..');
const dist = join(repo, 'dist');
const fixtures = join(repo, 'test', 'fixtures', 'import');
const CONFIG_ID = 'lbt-a';

const haveKeepalived = spawnSync('keepalived', ['--version']).status === 0;

describe('corpus: keepalived -t and lbagent check-config', {
  skip: !isRoot() ? 'needs root' : !haveKeepalived ? 'keepalived not installed' : false,
  timeout: 120_000,
}, () => {
  let ns: Netns;
  let work: string;
  before(() => {
    [ns] = createNetns(`lbt-imp-t-${uniq()}`);
    // keepalived -t checks that the interfaces a file names exist.
    for (const [i, p] of [
      ['eth0', 'p0'],
      ['eth1', 'p1'],
    ]) {
      ns.ip(`link add ${i} type veth peer name ${p}`);
      ns.ip(`link set ${i} up`);
      ns.ip(`link set ${p} up`);
    }
    work = mkdtempSync(join(tmpdir(), 'lbt-imp-t-'));
    // A copy: keepalived's script security wants scripts no other user can write, and the
    // files' ${_PWD}/state paths are written by other tests.
    cpSync(fixtures, work, { recursive: true });
  });
  after(() => {
    destroyNetns(ns);
    rmSync(work, { recursive: true, force: true });
  });

  const run = (argv: string[]) =>
    new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      execFile(
        'ip',
        ['netns', 'exec', ns.name, ...argv],
        { encoding: 'utf8', timeout: 60_000 },
        (e, out, err) => resolve({ code: e ? (typeof e.code === 'number' ? e.code : -1) : 0, out, err }),
      );
    });
  const lbagent = (...args: string[]) => run([process.execPath, join(dist, 'agent', 'main.js'), ...args]);
  /** Four files at a time: each step starts a node process, and the machine has two cores. */
  const each = async (items: string[], fn: (x: string) => Promise<void>) => {
    const queue = [...items];
    await Promise.all(
      [1, 2, 3, 4].map(async () => {
        for (let x = queue.shift(); x !== undefined; x = queue.shift()) await fn(x);
      }),
    );
  };

  it('every valid file: keepalived -t 0, import 0 (31: 1 with its findings), check-config 0', async () => {
    const dir = join(work, 'keepalived');
    const files = readdirSync(dir).filter((f) => /^\d\d-.*\.conf$/.test(f));
    assert.ok(files.length >= 25);
    const failures: string[] = [];
    await each(files, async (f) => {
      const path = join(dir, f);
      const kt = await run(['keepalived', '-t', '-n', '-l', '-i', CONFIG_ID, '-f', path]);
      if (kt.code !== 0) failures.push(`${f}: keepalived -t exit ${kt.code}: ${kt.err}${kt.out}`);
      const imp = await lbagent('import', 'keepalived', '--config-id', CONFIG_ID, path);
      const want = f === '31-partial.conf' ? 1 : 0;
      if (imp.code !== want) failures.push(`${f}: import exit ${imp.code} (want ${want}): ${imp.err}`);
      if (want === 1 && !/unmapped: virtual_ipaddress_excluded/.test(imp.err))
        failures.push(`${f}: findings missing: ${imp.err}`);
      const yaml = join(work, `${f}.yaml`);
      writeFileSync(yaml, imp.out);
      // check-config's own code path (loadConfigFile); the CLI itself runs once below.
      await loadConfigFile(yaml).catch((e: Error) => failures.push(`${f}: check-config: ${e.message}`));
    });
    const cc = await lbagent('check-config', join(work, '29-full-lb.conf.yaml'));
    assert.equal(cc.code, 0, cc.err);
    assert.match(cc.out, /OK/);
    assert.deepEqual(failures, []);
  });

  it('every invalid file: keepalived -t rejects it, the importer names the problem and exits 1', async () => {
    const dir = join(work, 'keepalived-invalid');
    await each(
      readdirSync(dir).filter((x) => x !== 'include-loop-b.conf'),
      async (f) => {
        const path = join(dir, f);
        const kt = await run(['keepalived', '-t', '-n', '-l', '-f', path]);
        assert.notEqual(kt.code, 0, `${f}: keepalived -t accepted it`);
        const imp = await lbagent('import', 'keepalived', path);
        assert.equal(imp.code, 1, `${f}: ${imp.err}`);
        assert.match(imp.err, new RegExp(`${f.replace('.conf', '')}(-b)?\\.conf:\\d+: error: `), f);
        const strict = await lbagent('import', 'keepalived', '--strict', path);
        assert.deepEqual([strict.code, strict.out], [1, ''], `${f}: --strict writes nothing`);
      },
    );
  });

  it('a FIFO or a directory where the file should be: a clear error, nothing written, no hang', async () => {
    const fifo = join(work, 'fifo.conf');
    spawnSync('mkfifo', [fifo]);
    const r = await lbagent('import', 'keepalived', fifo);
    assert.equal(r.code, 1);
    assert.match(r.err, /not a regular file \(a FIFO\)/);
    const d = await lbagent('import', 'keepalived', work);
    assert.match(d.err, /not a regular file \(a directory\)/);
  });
});
