// The config reference (docs/config-reference.md), generated from the JSON Schema so that the
// documentation can never disagree with what the validator accepts.
import { configJsonSchema } from './json-schema.js';

type Schema = {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  oneOf?: Schema[];
  anyOf?: Schema[];
  additionalProperties?: Schema | boolean;
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  description?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  pattern?: string;
};

function typeText(s: Schema): string {
  if (s.const !== undefined) return `\`${JSON.stringify(s.const)}\``;
  if (s.enum) return s.enum.map((e) => `\`${e}\``).join(' \\| ');
  const alts = s.oneOf ?? s.anyOf;
  if (alts) {
    const objects = alts.filter((a) => a.type === 'object');
    const kinds = objects
      .map((a) => a.properties?.type?.const ?? a.properties?.type?.enum?.join('/'))
      .filter(Boolean);
    const rest = alts.filter((a) => a.type !== 'object').map(typeText);
    if (kinds.length > 1) rest.push(`inline object (type: ${kinds.join(', ')})`);
    else rest.push(...objects.map(typeText));
    return rest.join(' or ');
  }
  if (s.type === 'array') return `list of ${s.items ? typeText(s.items) : 'any'}`;
  if (s.type === 'object') return s.properties ? 'object' : 'map';
  const range =
    s.maximum !== undefined && s.maximum < Number.MAX_SAFE_INTEGER
      ? ` (${s.minimum ?? ''}..${s.maximum})`
      : s.minimum !== undefined
        ? ` (≥${s.minimum})`
        : s.maxLength !== undefined
          ? ` (≤${s.maxLength} chars)`
          : '';
  return `${Array.isArray(s.type) ? s.type.join('|') : (s.type ?? 'any')}${range}`;
}

function describe(s: Schema): string {
  const d = s.description ?? (s.items?.description && s.type === 'array' ? s.items.description : undefined);
  return (d ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function rows(s: Schema, path: string, out: string[][], sections: [string, Schema][]): void {
  const req = new Set(s.required ?? []);
  for (const [key, sub] of Object.entries(s.properties ?? {})) {
    const p = path ? `${path}.${key}` : key;
    const def =
      sub.default !== undefined && JSON.stringify(sub.default) !== '{}'
        ? `\`${JSON.stringify(sub.default)}\``
        : '';
    out.push([`\`${p}\``, typeText(sub), req.has(key) ? 'yes' : '', def, describe(sub)]);
    const obj = sub.type === 'array' ? sub.items : sub;
    if (!obj) continue;
    if (obj.properties) rows(obj, sub.type === 'array' ? `${p}[]` : p, out, sections);
    const alts = obj.oneOf ?? obj.anyOf;
    if (alts?.some((a) => a.properties)) sections.push([sub.type === 'array' ? `${p}[]` : p, obj]);
    const ap = obj.additionalProperties;
    if (ap && typeof ap === 'object') sections.push([`${p}.<name>`, ap]);
  }
}

export function configReference(): string {
  const root = configJsonSchema() as Schema;
  const lines = [
    '# Config reference',
    '',
    'Generated from the schema by `lbagent config-reference` (a test keeps it in sync). The file is YAML,',
    'default `/etc/lbagent/lbagent.yaml`. Unknown keys are errors. Durations are strings: `250ms`, `1s`,',
    '`1m30s`. See `examples/` for complete files and `docs/lbagent.schema.json` for editor completion.',
  ];
  const sections: [string, Schema][] = [];
  for (const [key, sub] of Object.entries(root.properties ?? {})) {
    const out: string[][] = [];
    const obj = sub.type === 'array' ? sub.items : sub;
    if (obj?.properties) rows(obj, sub.type === 'array' ? `${key}[]` : key, out, sections);
    const ap = obj?.additionalProperties;
    if (ap && typeof ap === 'object') sections.push([`${key}.<name>`, ap]);
    lines.push('', `## \`${key}\``, '', describe(sub) || '');
    if (out.length)
      lines.push('', '| field | type | required | default | meaning |', '| --- | --- | --- | --- | --- |');
    for (const r of out) lines.push(`| ${r.join(' | ')} |`);
  }
  // Unions (check kinds, host check kinds): one table per variant.
  const seen = new Set<string>();
  for (const [path, s] of sections) {
    const alts = s.oneOf ?? s.anyOf ?? [];
    const variants = alts.filter((a) => a.properties);
    if (!variants.length) continue;
    const key = JSON.stringify(variants.map((v) => Object.keys(v.properties ?? {})));
    if (seen.has(key)) {
      lines.push('', `## \`${path}\``, '', 'Same variants as above.');
      continue;
    }
    seen.add(key);
    lines.push('', `## \`${path}\``, '', 'One of these, chosen by `type`:');
    for (const v of variants) {
      const t = v.properties?.type;
      const name = t?.const ?? t?.enum?.join('`, `') ?? 'variant';
      const out: string[][] = [];
      rows(v, '', out, []);
      lines.push(
        '',
        `### \`${name}\``,
        '',
        '| field | type | required | default | meaning |',
        '| --- | --- | --- | --- | --- |',
      );
      for (const r of out) lines.push(`| ${r.join(' | ')} |`);
    }
  }
  return `${lines.join('\n')}\n`;
}
