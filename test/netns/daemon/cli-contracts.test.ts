// lbctl's and lbagent's contracts with scripts, against the real agent:
// exit codes 0 ok, 1 failed, 2 usage, 3 unreachable; with --json the result alone on stdout and
// errors as one JSON object on stderr; `drain --wait --json` progress on stderr only.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { agentBin, lbctl, lbctlBin, nsRun, startAgent } from '../../lib/agent.js';
import { createNetns, destroyNetns, isRoot, type Netns, stopChild, uniq } from '../../lib/netns.js';

function jsonError(stderr: string): { code: string; message: string; exit: number } {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one JSON line on stderr: ${stderr}`);
  return JSON.parse(lines[0]).error;
}

describe('lbctl and lbagent contracts', { skip: !isRoot() && 'needs root' }, () => {
  let ns: Netns;
  let dir: string;
  before(() => {
    [ns] = createNetns(`lbt-cli-${uniq()}`);
    dir = mkdtempSync(join(tmpdir(), 'lbt-cli-'));
  });
  after(() => {
    destroyNetns(ns);
    rmSync(dir, { recursive: true, force: true });
  });

  it('usage errors exit 2, unreachable 3, failures 1; --json errors are JSON on stderr', async () => {
    const sock = join(dir, 'lbagent.sock');
    const cfgPath = join(dir, 'lbagent.yaml');
    writeFileSync(
      cfgPath,
      `node: {name: cli}\ncontrol: {socket: ${sock}}\nmetrics: {enabled: false}\nmaintenance: {disableFile: ${join(dir, 'disable')}}\n`,
    );
    const agent = await startAgent(ns, cfgPath, sock);
    try {
      for (const args of [
        ['log-level', 'loud'],
        ['completion', 'zsh'],
        ['frobnicate'],
        ['status', '--bogus'],
      ]) {
        const r = await lbctl(ns, sock, args);
        assert.equal(r.code, 2, `lbctl ${args.join(' ')}: ${r.stderr}`);
        assert.equal(r.stdout, '');
        const j = await lbctl(ns, sock, [...args, '--json']);
        assert.equal(j.code, 2);
        const e = jsonError(j.stderr);
        assert.equal(e.code, 'usage');
        assert.equal(e.exit, 2);
      }
      // The agent's level did not change on the refused request.
      assert.match((await lbctl(ns, sock, ['log-level'])).stdout, /log level info/);

      const gone = await lbctl(ns, join(dir, 'nobody.sock'), ['status', '--json']);
      assert.equal(gone.code, 3);
      assert.equal(jsonError(gone.stderr).code, 'unreachable');

      const failed = await lbctl(ns, sock, ['drain', 'backend', 'nosuch', '10.0.0.1', '--json']);
      assert.equal(failed.code, 1, failed.stderr);
      assert.equal(failed.stdout, '');
      assert.equal(jsonError(failed.stderr).exit, 1);

      // A file the loader trips on (an alias bomb) is one line naming it, not a stack trace.
      const bomb = join(dir, 'bomb.yaml');
      const levels = ['a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
      for (const [i, n] of [...'bcdefghi'].entries())
        levels.push(`${n}: &${n} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(', ')}]`);
      writeFileSync(bomb, `${levels.join('\n')}\n`);
      const cc = await nsRun(ns, [process.execPath, agentBin, 'check-config', bomb]);
      assert.equal(cc.code, 1);
      assert.equal(cc.stderr.trim().split('\n').length, 1, cc.stderr);
      assert.match(cc.stderr, new RegExp(`^${bomb}: `));

      const bogus = await nsRun(ns, [process.execPath, agentBin, 'bogus']);
      assert.equal(bogus.code, 2, bogus.stderr);
      assert.match(bogus.stderr, /unknown command 'bogus'/);

      // facts takes a prefix (the troubleshooting guide's `lbctl facts host`).
      const facts = await lbctl(ns, sock, ['facts', 'drain']);
      assert.equal(facts.code, 0, facts.stderr);
      assert.match(facts.stdout, /^drain {2}up/);

      // drain --wait --json: stdout is the JSON result and nothing else; progress on stderr.
      const d = await nsRun(ns, [
        process.execPath,
        lbctlBin,
        '-s',
        sock,
        'drain',
        '--wait',
        '--json',
        '-r',
        'cli test',
      ]);
      assert.equal(d.code, 0, d.stderr);
      const out = d.stdout.trim().split('\n');
      assert.equal(out.length, 1, `one line on stdout: ${d.stdout}`);
      assert.equal(JSON.parse(out[0]).done, true);
      assert.match(d.stderr, /drained/);
    } finally {
      await stopChild(agent.child, 'SIGTERM', 10_000);
    }
  });
});
