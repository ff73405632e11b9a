// keepalived.conf as keepalived's reader sees it (keepalived.conf(5): "Quoted strings",
// "include", "Conditional configuration", "Parameter substitution", "Sequence/List blocks"):
// comments from an unquoted '#' or '!', includes (with globs, relative to the including file,
// loops detected), '@id' / '@^id' lines, $NAME=VALUE definitions (also multi-line with '\'),
// ${NAME} / $NAME substitution, ~SEQ / ~SEQx / ~LST line repetition, then words split on
// whitespace with "..." kept as one word. Pure over an injected file reader.
import { posix } from 'node:path';
import type { Findings } from '../report.js';
import { type DirReader, glob, hasMagic } from './glob.js';

export interface ConfReader extends DirReader {
  /** Text of a file; throws (ENOENT, EISDIR, ...) when it cannot be read as one. */
  read(path: string): string;
  /** The file behind symlinks, so a loop through a link is seen as one. */
  realpath?(path: string): string;
}

export interface SourceLine {
  words: string[];
  file: string;
  line: number;
}

export interface ReadOptions {
  /** keepalived's -i/--config-id: which '@id' lines apply (default: none of them). */
  configId?: string;
  /** Absolute include paths are looked up under this directory (a copy of a host's root). */
  includeRoot?: string;
  /** How to name the entry file in findings (the path as the operator typed it). */
  entryName?: string;
}

const MAX_INCLUDE_DEPTH = 32;
const MAX_EXPANSION = 100_000;

interface Frame {
  /** The path read (under includeRoot when given). */
  file: string;
  /** Identity for loop detection (the real path when the reader knows it). */
  id?: string;
  /** The path as the operator knows it (without includeRoot), for messages. */
  shown: string;
}

/** Strips a comment (outside "..."), leading/trailing blanks; reports a trailing '\' (continuation). */
export function decomment(raw: string): { text: string; cont: boolean } {
  let out = '';
  let quote = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c === '"') quote = !quote;
    else if (c === '\\') {
      if (i + 1 === raw.length) return { text: out.trim(), cont: true };
      const n = raw[i + 1];
      if (!quote && (n === '#' || n === '!')) {
        out += n;
        i++;
        continue;
      }
      out += c + n;
      i++;
      continue;
    } else if (!quote && (c === '#' || c === '!')) break;
    out += c;
  }
  const text = out.trim();
  if (text.endsWith('\\')) return { text: text.slice(0, -1).trim(), cont: true };
  return { text, cont: false };
}

/** Words of a line: whitespace-separated, a "..." run is one word without its quotes. */
export function splitWords(text: string): string[] | string {
  const words: string[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && /\s/.test(text[i])) i++;
    if (i >= text.length) break;
    if (text[i] === '"') {
      const end = text.indexOf('"', i + 1);
      if (end < 0) return `unmatched quote in: ${text}`;
      words.push(text.slice(i + 1, end));
      i = end + 1;
    } else {
      let j = i;
      while (j < text.length && !/\s/.test(text[j]) && text[j] !== '"') j++;
      words.push(text.slice(i, j));
      i = j;
    }
  }
  return words;
}

/**
 * A script string as keepalived runs it (no shell): words split on unquoted blanks, '...' and
 * "..." keep blanks, backslash escapes as in the shell.
 */
export function splitScript(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let have = false;
  let quote = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\' && i + 1 < text.length) {
      const n = text[++i];
      const esc: Record<string, string> = {
        n: '\n',
        t: '\t',
        r: '\r',
        a: '\x07',
        b: '\b',
        f: '\f',
        v: '\v',
        E: '\x1b',
      };
      cur += esc[n] ?? n;
      have = true;
    } else if (quote) {
      if (c === quote) quote = '';
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      have = true;
    } else if (/\s/.test(c)) {
      if (have) out.push(cur);
      cur = '';
      have = false;
    } else {
      cur += c;
      have = true;
    }
  }
  if (have) out.push(cur);
  return out;
}

class Definitions {
  private defs = new Map<string, string[]>();
  constructor(private predefined: (name: string) => string | undefined) {}
  set(name: string, lines: string[]): void {
    this.defs.set(name, lines);
  }
  get(name: string): string[] | undefined {
    const d = this.defs.get(name);
    if (d) return d;
    const p = this.predefined(name);
    return p === undefined ? undefined : [p];
  }
  /** Replaces ${NAME} anywhere and $NAME before a blank or the end, recursively; undefined names stay. */
  substitute(text: string): string | { multiline: string[] } {
    let s = text;
    for (let round = 0; round < 64; round++) {
      // A line that is only "$NAME" of a multi-line definition becomes that definition's lines.
      const only = /^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$/.exec(s.trim());
      if (only) {
        const d = this.get(only[1]);
        if (d && d.length > 1) return { multiline: d };
      }
      let changed = false;
      s = s.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)(?=\s|$)/g, (m, a, b) => {
        const d = this.get(a ?? b);
        if (d === undefined) return m;
        changed = true;
        return d.join(' ');
      });
      if (!changed) return s;
    }
    return s;
  }
}

/** Reads `entry` and everything it includes into words per line, with file and line. */
export function readConf(
  entry: string,
  reader: ConfReader,
  findings: Findings,
  opts: ReadOptions = {},
): SourceLine[] {
  const out: SourceLine[] = [];
  const stack: Frame[] = [];
  let current: Frame = { file: entry, shown: entry };
  const root = opts.includeRoot?.replace(/\/$/, '');
  const hostView = (p: string) => (root && p.startsWith(`${root}/`) ? p.slice(root.length) : p);
  const defs = new Definitions((name) => {
    // keepalived's ${_PWD}: the directory of the file being read, as the host running it sees it.
    if (name === '_PWD') return posix.dirname(hostView(current.file));
    if (name === '_INSTANCE') return opts.configId;
    if (name === '_HASH') return '#';
    if (name === '_BANG') return '!';
    return undefined;
  });
  const hostPath = (p: string) =>
    opts.includeRoot && p.startsWith('/') ? posix.join(opts.includeRoot, p) : p;

  const emit = (text: string, at: { file: string; line: number }, depth = 0): void => {
    if (out.length > MAX_EXPANSION || depth > 32) {
      findings.error(
        at,
        'expansion',
        `more than ${MAX_EXPANSION} lines or nested too deep (a recursive definition?)`,
      );
      return;
    }
    let t = text.trim();
    if (!t) return;
    // Conditional lines: '@id word...' applies when id is the config id, '@^id' when it is not.
    const cond = /^@(\^?)(\S+)\s*(.*)$/.exec(t);
    if (cond) {
      const match = cond[2] === opts.configId;
      if ((cond[1] === '^') === match) return;
      t = cond[3];
      if (!t) return;
    }
    const seq = /^~(SEQx?|LST)\(/.exec(t);
    if (seq) {
      const close = matchingParen(t, seq[0].length - 1);
      if (close < 0) {
        findings.error(at, `~${seq[1]}`, 'missing ")"');
        return;
      }
      const inner = t.slice(seq[0].length, close);
      const rest = t.slice(close + 1);
      const iter = seq[1] === 'LST' ? listValues(inner) : seqValues(inner, seq[1] === 'SEQx');
      if (typeof iter === 'string') {
        findings.error(at, `~${seq[1]}`, iter);
        return;
      }
      for (const binding of iter) {
        for (const [k, v] of binding) defs.set(k, [v]);
        emit(rest, at, depth + 1);
      }
      return;
    }
    const def = /^\$([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(t);
    if (def) {
      defs.set(def[1], [def[2].trim()]);
      return;
    }
    const sub = defs.substitute(t);
    if (typeof sub !== 'string') {
      for (const l of sub.multiline) emit(l, at, depth + 1);
      return;
    }
    const words = splitWords(sub);
    if (typeof words === 'string') {
      findings.error(at, 'quote', words);
      return;
    }
    if (words.length) out.push({ words, file: at.file, line: at.line });
  };

  const readFile = (frame: Frame, from?: { file: string; line: number }): void => {
    try {
      frame.id = reader.realpath?.(frame.file) ?? frame.file;
    } catch {
      frame.id = frame.file;
    }
    if (stack.some((f) => f.id === frame.id)) {
      const chain = [...stack.map((f) => f.shown), frame.shown].join(' -> ');
      findings.error(from ?? { file: frame.shown, line: 0 }, 'include', `include loop: ${chain}`);
      return;
    }
    if (stack.length >= MAX_INCLUDE_DEPTH) {
      findings.error(
        from ?? { file: frame.shown, line: 0 },
        'include',
        `includes nested deeper than ${MAX_INCLUDE_DEPTH}`,
      );
      return;
    }
    let text: string;
    try {
      text = reader.read(frame.file);
    } catch (err) {
      findings.error(
        from ?? { file: frame.shown, line: 0 },
        from ? 'include' : 'file',
        `cannot read ${frame.shown}: ${(err as Error).message}`,
      );
      return;
    }
    stack.push(frame);
    const saved = current;
    current = frame;
    const raw = text.split(/\r?\n/);
    for (let i = 0; i < raw.length; i++) {
      const at = { file: frame.shown, line: i + 1 };
      let { text: t, cont } = decomment(raw[i]);
      // A multi-line definition: "$NAME= \" then lines ending in '\' up to one that does not.
      const mdef = /^\$([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(t);
      if (mdef && cont) {
        const lines = mdef[2].trim() ? [mdef[2].trim()] : [];
        while (cont && i + 1 < raw.length) {
          i++;
          const d = decomment(raw[i]);
          if (d.text) lines.push(d.text);
          cont = d.cont;
        }
        defs.set(mdef[1], lines);
        continue;
      }
      while (cont && i + 1 < raw.length) {
        i++;
        const d = decomment(raw[i]);
        t = `${t} ${d.text}`;
        cont = d.cont;
      }
      const inc = /^include([rmwba]?)\s+(.+)$/.exec(t);
      if (inc) {
        includeFiles(inc[2].trim().replace(/^"(.*)"$/, '$1'), at);
        continue;
      }
      emit(t, at);
    }
    current = saved;
    stack.pop();
  };

  const includeFiles = (pattern: string, at: { file: string; line: number }): void => {
    const shownPattern = pattern.startsWith('/')
      ? pattern
      : posix.join(posix.dirname(current.shown), pattern);
    const real = pattern.startsWith('/')
      ? hostPath(pattern)
      : posix.join(posix.dirname(current.file), pattern);
    const files = hasMagic(real) ? glob(real, reader) : [real];
    if (files.length === 0) {
      findings.error(
        at,
        'include',
        `${shownPattern} matches no file${opts.includeRoot ? ` under ${opts.includeRoot}` : ' (use --include-root DIR for a copy of another host)'}`,
      );
      return;
    }
    // Named as the operator would: relative to how the including file was named, else as the host sees it.
    for (const f of files)
      readFile(
        {
          file: f,
          shown: pattern.startsWith('/')
            ? hostView(f)
            : posix.join(posix.dirname(current.shown), posix.relative(posix.dirname(current.file), f)),
        },
        at,
      );
  };

  readFile({ file: entry, shown: opts.entryName ?? entry });
  return out;
}

function matchingParen(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    if (s[i] === '(') depth++;
    else if (s[i] === ')' && --depth === 0) return i;
  }
  return -1;
}

/** ~SEQ(var, [start,] [step,] end): the values of var, as keepalived.conf(5) describes. */
function seqValues(inner: string, hex: boolean): Map<string, string>[] | string {
  const parts = inner.split(',').map((p) => p.trim());
  const name = parts.shift();
  if (!name || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return `bad variable name "${name ?? ''}"`;
  const nums = parts.map((p) => Number(p));
  if (nums.length < 1 || nums.length > 3 || nums.some((n) => !Number.isInteger(n)))
    return `bad numbers in ~SEQ(${inner})`;
  const end = nums[nums.length - 1];
  const start = nums.length >= 2 ? nums[0] : end > 0 ? 1 : -1;
  const step = nums.length === 3 ? nums[1] : end >= start ? 1 : -1;
  if (step === 0) return 'step 0';
  const out: Map<string, string>[] = [];
  for (let v = start; step > 0 ? v <= end : v >= end; v += step) {
    if (out.length > 65_536) return 'more than 65536 values';
    out.push(new Map([[name, hex ? v.toString(16) : String(v)]]));
  }
  return out;
}

/** ~LST(var, v1, v2...) or ~LST({a, b}, {1, 2}, {3, 4}). */
function listValues(inner: string): Map<string, string>[] | string {
  const groups =
    inner
      .match(/\{[^}]*\}|[^,{}]+/g)
      ?.map((g) => g.trim())
      .filter(Boolean) ?? [];
  const head = groups.shift();
  if (!head) return 'no variable';
  const names = head
    .replace(/[{}]/g, '')
    .split(',')
    .map((s) => s.trim());
  if (!names.every((n) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(n))) return `bad variable name in ${head}`;
  if (!groups.length) return 'no values';
  return groups.map((g) => {
    const vals = g
      .replace(/[{}]/g, '')
      .split(',')
      .map((s) => s.trim());
    return new Map(names.map((n, i) => [n, vals[i] ?? '']));
  });
}
