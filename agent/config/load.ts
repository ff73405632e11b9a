// Loading a config: YAML text → schema (types, defaults, unknown keys) → cross-field rules.
// Every problem is reported at once, each with the dotted path of the offending field.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { type Config, configSchema } from './schema.js';
import { crossFieldIssues } from './validate.js';

export const DEFAULT_CONFIG_PATH = '/etc/lbagent/lbagent.yaml';

export interface ConfigIssue {
  path: string; // e.g. "ipvs.services[0].backends[2].weight"
  message: string;
}

export class ConfigError extends Error {
  /** sha256 of the rejected file's text, when it could be read. */
  hash?: string;
  constructor(
    readonly source: string,
    readonly issues: ConfigIssue[],
  ) {
    super(
      `${source}: ${issues.length} error(s) in config:\n${issues.map((i) => `  ${formatIssue(i)}`).join('\n')}`,
    );
    this.name = 'ConfigError';
  }
}

export function formatIssue(i: ConfigIssue): string {
  return i.path ? `${i.path}: ${i.message}` : i.message;
}

export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out;
}

function zodIssues(error: z.ZodError): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of error.issues) {
    // A union failure is more useful as the best branch's own errors than as "invalid input".
    if (issue.code === 'invalid_union' && 'errors' in issue && Array.isArray(issue.errors)) {
      const branches = issue.errors as z.core.$ZodIssue[][];
      const best = branches.reduce(
        (a, b) => (b.length < a.length && b.length > 0 ? b : a),
        branches[0] ?? [],
      );
      if (best.length) {
        for (const sub of best) {
          out.push({ path: formatPath([...issue.path, ...sub.path]), message: describe(sub) });
        }
        continue;
      }
    }
    if (issue.code === 'unrecognized_keys') {
      // One issue per unknown key, at the key's own path, so typos are pinpointed.
      for (const key of issue.keys)
        out.push({ path: formatPath([...issue.path, key]), message: 'unknown key' });
      continue;
    }
    out.push({ path: formatPath(issue.path), message: describe(issue) });
  }
  return out;
}

function describe(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown key(s): ${issue.keys.join(', ')}`;
  if (issue.code === 'invalid_type' && /received undefined$/.test(issue.message)) return 'is required';
  return issue.message;
}

/** Parse and validate config text. Throws ConfigError listing every problem. */
export function parseConfig(text: string, source = '<config>'): Config {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length) {
    throw new ConfigError(
      source,
      doc.errors.map((e) => ({ path: '', message: `YAML: ${e.message.split('\n')[0].replace(/:$/, '')}` })),
    );
  }
  const raw = doc.toJS() ?? {};
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(source, zodIssues(parsed.error));
  const issues = crossFieldIssues(parsed.data);
  if (issues.length) throw new ConfigError(source, issues);
  return parsed.data;
}

export interface LoadedConfig {
  path: string;
  config: Config;
  hash: string; // sha256 of the file text, shown by `lbctl status`
  text: string;
}

export async function loadConfigFile(path: string): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [{ path: '', message: `cannot read file: ${(err as Error).message}` }]);
  }
  const hash = createHash('sha256').update(text).digest('hex');
  try {
    return { path, config: parseConfig(text, path), text, hash };
  } catch (err) {
    if (err instanceof ConfigError) err.hash = hash;
    throw err;
  }
}
