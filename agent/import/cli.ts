// `lbagent import keepalived|exabgp-healthcheck`: the converters' shell. The config goes to
// stdout, every finding to stderr (file:line: kind: what: why). Exit 0 when everything was
// converted, 1 with a partial config otherwise (--strict: 1 and no config), 2 for usage errors.
import { readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { Command } from 'commander';
import { importHealthcheck } from './exabgp-healthcheck.js';
import { type ConfReader, importKeepalived } from './keepalived/index.js';
import { checkRendered, renderConfig } from './render.js';
import { complete, type Findings, formatFinding } from './report.js';

const MAX_FILE = 16 * 1024 * 1024;

/** Reads regular files only: a FIFO would block, a directory or device is not a config. */
export function readRegularFile(path: string): string {
  const st = statSync(path);
  if (!st.isFile())
    throw new Error(
      `not a regular file (${st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : 'a special file'})`,
    );
  if (st.size > MAX_FILE) throw new Error(`larger than ${MAX_FILE} bytes`);
  return readFileSync(path, 'utf8');
}

export const fileReader: ConfReader = {
  read: readRegularFile,
  readdir: (dir) => readdirSync(dir),
  realpath: (p) => realpathSync(p),
};

function finish(
  kind: string,
  source: string,
  config: Record<string, unknown>,
  findings: Findings,
  origins: Map<string, string>,
  strict: boolean,
): number {
  const header = [
    `lbagent config converted by \`lbagent import ${kind}\` from ${source}`,
    'Check it with `lbagent check-config FILE`; what did not carry over was listed on stderr.',
  ];
  const yaml = renderConfig(config, header, origins);
  checkRendered(yaml, findings);
  const sorted = [...findings.list].sort((a, b) =>
    a.file === b.file ? a.line - b.line : a.file < b.file ? -1 : 1,
  );
  for (const f of sorted) process.stderr.write(`${formatFinding(f)}\n`);
  const count = (k: string) => findings.list.filter((f) => f.kind === k).length;
  const ok = complete(findings.list);
  process.stderr.write(
    `${ok ? 'converted completely' : strict ? 'not converted (--strict)' : 'converted partially'}: ${count('unmapped')} unmapped, ${count('error')} error(s), ${count('note')} note(s)\n`,
  );
  if (ok || !strict) process.stdout.write(yaml);
  return ok ? 0 : 1;
}

export function importCommand(): Command {
  const cmd = new Command('import').description(
    'convert a keepalived.conf or an ExaBGP healthcheck command line to an lbagent config (stdout)',
  );
  cmd
    .command('keepalived')
    .description('convert keepalived.conf (with its includes and $DEFINITIONS); findings on stderr')
    .argument('<file>', 'keepalived.conf')
    .option(
      '--include-root <dir>',
      "look absolute include paths up under DIR (a copy of another host's files)",
    )
    .option('--config-id <id>', "keepalived's -i: which @ID lines apply", hostname().split('.')[0])
    .option('--strict', 'write nothing unless everything converts')
    .action((file: string, o: { includeRoot?: string; configId?: string; strict?: boolean }) => {
      const r = importKeepalived(resolve(file), fileReader, {
        entryName: file,
        configId: o.configId,
        includeRoot: o.includeRoot ? resolve(o.includeRoot) : undefined,
      });
      process.exitCode = finish('keepalived', file, r.config, r.findings, r.origins, !!o.strict);
    });
  cmd
    .command('exabgp-healthcheck')
    .description("convert the flags of ExaBGP's healthcheck (give them after --); findings on stderr")
    .argument(
      '<args...>',
      'the healthcheck\'s arguments, e.g. -- --cmd "curl -sf http://127.0.0.1/" --ip 192.0.2.1',
    )
    .option('--strict', 'write nothing unless everything converts')
    .allowUnknownOption()
    .action((args: string[], o: { strict?: boolean }) => {
      const r = importHealthcheck(args, readRegularFile);
      process.exitCode = finish(
        'exabgp-healthcheck',
        `healthcheck ${args.join(' ')}`,
        r.config,
        r.findings,
        new Map(),
        !!o.strict,
      );
    });
  return cmd;
}
