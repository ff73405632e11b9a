// The logger's pure parts and two behaviours that need a real process:
// - syslog priorities per pino level and the "<N>" prefix journald reads;
// - JOURNAL_STREAM is honoured only when it names this stdout;
// - child loggers follow a level change of the root (lbctl log-level debug);
// - a crash is one fatal JSON line on stdout and nothing on stderr.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { stdoutIsJournal, syslogPriority, withPriorityPrefix } from '../../../agent/log.js';

describe('journald priorities', () => {
  it('maps pino levels to syslog severities', () => {
    assert.deepEqual([10, 20, 30, 40, 50, 60].map(syslogPriority), [7, 7, 6, 4, 3, 2]);
  });

  it('prefixes a serialized line with its priority, and nothing else', () => {
    assert.equal(withPriorityPrefix('{"level":50,"msg":"x"}\n'), '<3>{"level":50,"msg":"x"}\n');
    assert.equal(withPriorityPrefix('{"level":30,"msg":"x"}\n'), '<6>{"level":30,"msg":"x"}\n');
    assert.equal(withPriorityPrefix('not json\n'), 'not json\n');
  });

  it('takes JOURNAL_STREAM only when it names the descriptor', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lbt-log-'));
    const fd = openSync(join(dir, 'out'), 'w');
    try {
      const st = statSync(join(dir, 'out'));
      assert.equal(stdoutIsJournal({ JOURNAL_STREAM: `${st.dev}:${st.ino}` }, fd), true);
      assert.equal(stdoutIsJournal({ JOURNAL_STREAM: `${st.dev}:${st.ino + 1}` }, fd), false);
      assert.equal(stdoutIsJournal({}, fd), false);
      assert.equal(stdoutIsJournal({ JOURNAL_STREAM: 'garbage' }, fd), false);
    } finally {
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('log levels at run time', () => {
  it('child loggers (drain, bgp) follow a level change of the root logger (lbctl log-level)', async () => {
    const { createLogger } = await import('../../../agent/log.js');
    const log = createLogger('info', { pretty: false, journal: false });
    const child = log.child({ subsystem: 'drain' });
    const grandchild = child.child({ instance: 'x' });
    assert.equal(child.isLevelEnabled('debug'), false);
    log.level = 'debug';
    assert.equal(child.isLevelEnabled('debug'), true);
    assert.equal(grandchild.isLevelEnabled('debug'), true);
    log.level = 'warn';
    assert.equal(grandchild.isLevelEnabled('info'), false);
  });
});

describe('crash handler', () => {
  it('turns an uncaught exception into one fatal JSON line, nothing on stderr, exit 1', () => {
    const runJs = join(import.meta.dirname, '..', '..', '..', 'agent', 'daemon', 'run.js');
    const logJs = join(import.meta.dirname, '..', '..', '..', 'agent', 'log.js');
    const script = `
      const { installCrashHandlers } = await import(${JSON.stringify(runJs)});
      const { createLogger } = await import(${JSON.stringify(logJs)});
      const log = createLogger('info', { pretty: false, journal: false });
      installCrashHandlers(log);
      process.emitWarning('a Node warning', 'TimeoutOverflowWarning');
      setTimeout(() => { null.boom(); }, 10);`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stderr, '', 'no raw stack trace on stderr');
    const lines = r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    assert.equal(lines.length, 2, r.stdout);
    assert.equal(lines[0].level, 40);
    assert.equal(lines[0].event, 'node_warning');
    assert.equal(lines[1].level, 60);
    assert.equal(lines[1].event, 'crash');
    assert.match(lines[1].err.stack, /TypeError: Cannot read properties of null/);
  });
});
