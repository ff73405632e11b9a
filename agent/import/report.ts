// What an importer tells the operator beside the config it writes. Nothing is dropped silently:
// every input it could not carry over is an `unmapped` finding with where it was and why.
//   unmapped  input with no lbagent equivalent (left out; the output is partial)
//   error     input that is wrong (unknown keyword, bad value, include loop): left out too
//   note      mapped, but the operator should know a difference (not counted against exit 0)

export type FindingKind = 'unmapped' | 'error' | 'note';

export interface Finding {
  kind: FindingKind;
  /** File of the input ("argv" for command lines). */
  file: string;
  /** 1-based line (argument index for command lines); 0 when it concerns the whole input. */
  line: number;
  /** The keyword or flag concerned, e.g. "virtual_ipaddress_excluded", "--execute". */
  what: string;
  why: string;
}

export function formatFinding(f: Finding): string {
  const at = f.line > 0 ? `${f.file}:${f.line}` : f.file;
  return `${at}: ${f.kind}: ${f.what}: ${f.why}`;
}

/** Whether the output carries everything: no unmapped input and no errors. */
export function complete(findings: readonly Finding[]): boolean {
  return findings.every((f) => f.kind === 'note');
}

/** Collects findings for one input; converters call it as they walk. */
export class Findings {
  readonly list: Finding[] = [];
  add(kind: FindingKind, at: { file: string; line: number }, what: string, why: string): void {
    this.list.push({ kind, file: at.file, line: at.line, what, why });
  }
  unmapped(at: { file: string; line: number }, what: string, why: string): void {
    this.add('unmapped', at, what, why);
  }
  error(at: { file: string; line: number }, what: string, why: string): void {
    this.add('error', at, what, why);
  }
  note(at: { file: string; line: number }, what: string, why: string): void {
    this.add('note', at, what, why);
  }
}
