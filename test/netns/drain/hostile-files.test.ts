// The real daemon and lbctl against hostile disable files (issues 16.1/16.2/16.5/17.5/18.2/19):
// a FIFO at the path (at start and at run time) never blocks the agent; a symlink to a secret is
// a drain whose target is never echoed; a 100 MB file is read once, capped; the directory
// removed and re-created is watched again; a drain is fsync'ed before lbctl's ack; owners.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, execFileSync, spawnSync } from 'node:child_process';
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
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import {
  captureOutput,
  createNetns,
  destroyNetns,
  isRoot,
  type Netns,
  stopChild,
  uniq,
  waitFor,
} from '../../lib/netns.js';

const run = promisify(execFile);
const dist = join(import.meta.dirname, '..', '..', '..');
const agentBin = join(dist, 'agent', 'main.js');
const lbctlBin = join(dist, 'cli', 'lbctl.js');
const hasStrace = spawnSync('strace', ['-V']).status === 0;

interface Res {
  code: number;
  stdout: string;
  stderr: string;
}

describe('disable file: hostile paths with the real daemon', {
  skip: !isRoot() && 'needs root',
  timeout: 240_000,
}, () => {
  let ns: Netns;
  let dir: string;
  let agent: ChildProcess | undefined;
  let out: { text: () => string } | undefined;
  const sock = () => join(dir, 'lbagent.sock');
  const lbDir = () => join(dir, 'lb');
  const file = () => join(lbDir(), 'disable');

  // Every call is bounded: an agent blocked in open() on a FIFO shows up as a timeout here.
  const lbctl = async (...args: string[]): Promise<Res> => {
    try {
      const r = await run(
        'ip',
        ['netns', 'exec', ns.name, process.execPath, lbctlBin, '-s', sock(), ...args],
        {
          timeout: 8_000,
        },
      );
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (err) {
      const e = err as { code: number | string; stdout: string; stderr: string; killed?: boolean };
      return {
        code: e.killed ? -1 : Number(e.code),
        stdout: e.stdout,
        stderr: e.killed ? 'lbctl timed out' : e.stderr,
      };
    }
  };
  const status = async () => {
    const r = await lbctl('status', '--json');
    assert.equal(r.code, 0, `lbctl status: ${r.stderr}\n${out?.text().slice(-2000)}`);
    return JSON.parse(r.stdout) as {
      drain: { drained: boolean; owner: string | null; reason: string | null };
      subsystems: {
        drain: {
          disableFileKind: string | null;
          watching: string[];
          detection: string;
          reason?: string;
          counters: { fileReads: number; polls: number };
        };
      };
    };
  };

  const startAgent = async (argvPrefix: string[] = []) => {
    agent = ns.spawn([
      ...argvPrefix,
      process.execPath,
      agentBin,
      'run',
      '--config',
      join(dir, 'lbagent.yaml'),
    ]);
    out = captureOutput(agent);
    await waitFor(() => out?.text().includes('lbagent running'), {
      timeoutMs: 20_000,
      what: 'agent ready',
    }).catch((err) => {
      throw new Error(`${err.message}\n${out?.text().slice(-3000)}`);
    });
  };
  const stopAgent = async () => {
    if (agent) await stopChild(agent, 'SIGTERM', 10_000);
    agent = undefined;
  };

  before(() => {
    [ns] = createNetns(`lbt-drainf-${uniq()}`);
    dir = mkdtempSync(join(tmpdir(), 'lbt-drainf-'));
    mkdirSync(lbDir());
    writeFileSync(
      join(dir, 'lbagent.yaml'),
      `control: {socket: ${sock()}}\nmetrics: {enabled: false}\nmaintenance: {disableFile: ${file()}, pollInterval: 10m}\n`,
    );
  });
  after(async () => {
    await stopAgent();
    destroyNetns(ns);
    rmSync(dir, { recursive: true, force: true });
  });

  it('a FIFO present at start: the agent becomes ready and reports drained', async () => {
    execFileSync('mkfifo', [file()]);
    await startAgent();
    const st = await status();
    assert.equal(st.drain.drained, true);
    assert.equal(st.subsystems.drain.disableFileKind, 'fifo');
  });

  it('a FIFO created at run time: lbctl keeps answering, the host drains', async () => {
    unlinkSync(file());
    await waitFor(async () => !(await status()).drain.drained, { timeoutMs: 5_000, what: 'undrained' });
    execFileSync('mkfifo', [file()]);
    await waitFor(async () => (await status()).drain.drained, {
      timeoutMs: 5_000,
      what: 'drained by the FIFO',
    });
    for (let i = 0; i < 3; i++) assert.equal((await lbctl('status')).code, 0);
    unlinkSync(file());
  });

  it('a symlink to a secret: drained, and the secret never reaches status or the log', async () => {
    const secret = join(dir, 'shadow');
    writeFileSync(secret, 'root:$6$topsecrethash:19000:0:99999:7:::\n', { mode: 0o600 });
    symlinkSync(secret, file());
    await waitFor(async () => (await status()).drain.drained, {
      timeoutMs: 5_000,
      what: 'drained by the symlink',
    });
    const st = await lbctl('status', '--json');
    assert.doesNotMatch(st.stdout, /topsecrethash/);
    assert.doesNotMatch((await lbctl('status')).stdout, /topsecrethash/);
    assert.doesNotMatch(out?.text() ?? '', /topsecrethash/);
    unlinkSync(file());
  });

  it('a 100 MB disable file is read once (4 KiB), not on every poll', async () => {
    await stopAgent();
    writeFileSync(
      join(dir, 'lbagent.yaml'),
      readFileSync(join(dir, 'lbagent.yaml'), 'utf8').replace('10m', '200ms'),
    );
    writeFileSync(file(), 'reason: big\n');
    truncateSync(file(), 100 * 1024 * 1024);
    await startAgent();
    await waitFor(async () => (await status()).subsystems.drain.counters.polls >= 10, {
      timeoutMs: 20_000,
      what: '10 polls',
    });
    const st = await status();
    assert.equal(st.subsystems.drain.reason, 'big');
    assert.equal(st.subsystems.drain.counters.fileReads, 1, 'one read for an unchanged file');
    unlinkSync(file());
    await stopAgent();
    writeFileSync(
      join(dir, 'lbagent.yaml'),
      readFileSync(join(dir, 'lbagent.yaml'), 'utf8').replace('200ms', '10m'),
    );
    await startAgent();
  });

  it('the directory removed and re-created: inotify is back (poll is 10 min), status is truthful', async () => {
    assert.ok((await status()).subsystems.drain.watching.includes(lbDir()));
    rmSync(lbDir(), { recursive: true });
    await waitFor(async () => !(await status()).subsystems.drain.watching.includes(lbDir()), {
      timeoutMs: 5_000,
      what: 'the dead watch is no longer listed',
    });
    assert.match((await status()).subsystems.drain.detection, /^poll/);
    mkdirSync(lbDir());
    await waitFor(async () => (await status()).subsystems.drain.watching.includes(lbDir()), {
      timeoutMs: 5_000,
      what: 'the new directory is watched',
    });
    writeFileSync(file(), '');
    await waitFor(async () => (await status()).drain.drained, {
      timeoutMs: 5_000,
      what: 'drained through the re-armed watch',
    });
    unlinkSync(file());
    await waitFor(async () => !(await status()).drain.drained, { timeoutMs: 5_000, what: 'undrained' });
  });

  it('lbctl drain on a directory at the path leaves no temporary file and does not undrain', async () => {
    mkdirSync(join(file(), 'sub'), { recursive: true });
    await lbctl('drain', '--reason', 'test');
    assert.deepEqual(
      readdirSync(lbDir()).filter((n) => n !== 'disable'),
      [],
      'no temp file left',
    );
    const r = await lbctl('drain', '--owner', 'ansible', '--reason', 'test');
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /already drained by someone else/);
    assert.deepEqual(
      readdirSync(lbDir()).filter((n) => n !== 'disable'),
      [],
      'no temp file left',
    );
    assert.ok(existsSync(join(file(), 'sub')), 'the directory is untouched');
    rmSync(file(), { recursive: true });
    await waitFor(async () => !(await status()).drain.drained, { timeoutMs: 5_000, what: 'undrained' });
  });

  it('owners: a foreign drain is kept and reported; each owner undrains only its own', async () => {
    writeFileSync(file(), 'bad NIC, do not undrain (OPS-123)\n');
    await waitFor(async () => (await status()).drain.drained, { timeoutMs: 5_000, what: 'hand drain' });
    let r = await lbctl('drain', '--owner', 'ansible', '--reason', 'upgrade');
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /drained by someone else \(no owner.*reason: bad NIC, do not undrain \(OPS-123\)\)/,
    );
    assert.equal(readFileSync(file(), 'utf8'), 'bad NIC, do not undrain (OPS-123)\n');
    r = await lbctl('undrain', '--owner', 'ansible');
    assert.equal(r.code, 1);
    assert.ok(existsSync(file()));
    unlinkSync(file());
    await waitFor(async () => !(await status()).drain.drained, { timeoutMs: 5_000, what: 'undrained' });

    r = await lbctl('drain', '--owner', 'ansible', '--reason', 'upgrade');
    assert.equal(r.code, 0, r.stderr);
    let st = await status();
    assert.equal(st.drain.drained, true);
    assert.equal(st.drain.owner, 'ansible');
    assert.equal((await lbctl('drain', '--owner', 'ansible')).code, 0, 'same owner: ok, kept');
    r = await lbctl('undrain');
    assert.equal(r.code, 1, 'plain undrain refuses an owned drain');
    assert.match(r.stderr, /--owner ansible, or --force/);
    r = await lbctl('undrain', '--owner', 'bob');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /owner ansible/);
    assert.equal((await lbctl('undrain', '--owner', 'ansible')).code, 0);
    st = await status();
    assert.equal(st.drain.drained, false);
    assert.equal(st.drain.owner, null);
    assert.equal((await lbctl('undrain', '--owner', 'ansible')).code, 0, 'not drained: ok');
  });

  it('an acknowledged drain and undrain are on disk before the ack (fsync, rename, directory fsync)', {
    skip: !hasStrace && 'strace not installed',
  }, async () => {
    await stopAgent();
    const trace = join(dir, 'strace.log');
    await startAgent([
      'strace',
      '-f',
      '-qq',
      '-e',
      'trace=openat,fsync,fdatasync,rename,renameat,renameat2,unlink,unlinkat',
      '-o',
      trace,
    ]);
    const r = await lbctl('drain', '--reason', 'durable');
    assert.equal(r.code, 0, r.stderr);
    const lines = readFileSync(trace, 'utf8').split('\n');
    const rn = lines.findIndex((l) => /rename\w*\(.*\.tmp".*disable"/.test(l));
    assert.ok(rn > 0, `rename of a temp file over the disable file:\n${lines.slice(-40).join('\n')}`);
    assert.ok(
      lines.slice(0, rn).some((l) => /fsync|fdatasync/.test(l)),
      'file fsync before the rename',
    );
    assert.ok(
      lines.slice(rn).some((l) => /fsync|fdatasync/.test(l)),
      'directory fsync after the rename',
    );
    const un0 = lines.length;
    assert.equal((await lbctl('undrain')).code, 0);
    const after1 = readFileSync(trace, 'utf8')
      .split('\n')
      .slice(un0 - 1);
    const ul = after1.findIndex((l) => /unlink\w*\(.*disable"/.test(l));
    assert.ok(ul >= 0, 'the disable file is unlinked');
    assert.ok(
      after1.slice(ul).some((l) => /fsync|fdatasync/.test(l)),
      'directory fsync after the unlink',
    );
    await stopAgent();
  });
});
