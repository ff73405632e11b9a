// An imported config as YAML (the `yaml` package), with a header naming the source and a comment
// on each converted object saying where it came from; then checked exactly as `lbagent
// check-config` would, so a conversion that lbagent would reject is reported, not written.
import { Document, isScalar, visit } from 'yaml';
import { ConfigError, formatIssue, parseConfig } from '../config/load.js';
import type { Findings } from './report.js';

export function renderConfig(
  config: Record<string, unknown>,
  header: string[],
  origins: Map<string, string> = new Map(),
): string {
  const doc = new Document(config, { aliasDuplicateObjects: false });
  // Short lists of plain values (commands, expected codes, communities) read best on one line.
  visit(doc, {
    Seq(_, node) {
      if (node.items.length <= 8 && node.items.every((i) => isScalar(i))) node.flow = true;
    },
  });
  doc.commentBefore = header.map((l) => ` ${l}`).join('\n');
  for (const [path, from] of origins) {
    const node = doc.getIn(
      path.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p)),
      true,
    ) as { commentBefore?: string } | undefined;
    if (node && typeof node === 'object') node.commentBefore = ` from ${from}`;
  }
  return doc.toString({ lineWidth: 0 });
}

/** Validates the YAML as lbagent would load it; problems become error findings. */
export function checkRendered(yaml: string, findings: Findings): boolean {
  try {
    parseConfig(yaml, 'converted config');
    return true;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const i of err.issues)
      findings.error(
        { file: 'converted config', line: 0 },
        i.path || 'config',
        `lbagent would reject it: ${formatIssue(i)}`,
      );
    return false;
  }
}
