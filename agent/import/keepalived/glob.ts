// The glob(3) keepalived's `include` uses (with GLOB_BRACE): `*`, `?`, `[...]` within one path
// segment, csh braces `{a,b}`, names starting with "." only matched by a pattern that starts with
// ".", results sorted. Small and pure over an injected directory reader; general glob libraries
// add bash/extglob rules keepalived does not have.
import { posix } from 'node:path';

export interface DirReader {
  /** Entries of a directory; throws when it is not one. */
  readdir(dir: string): string[];
}

/** "{a,b}c{d,e}" → ["acd", "ace", "bcd", "bce"]; unbalanced braces are kept literally. */
export function expandBraces(pattern: string): string[] {
  let depth = 0;
  let open = -1;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === '{') {
      if (depth === 0) open = i;
      depth++;
    } else if (c === '}' && depth > 0) {
      depth--;
      if (depth === 0) {
        const inner = pattern.slice(open + 1, i);
        const parts = splitTopLevel(inner);
        const head = pattern.slice(0, open);
        const tails = expandBraces(pattern.slice(i + 1));
        return parts.flatMap((p) => expandBraces(head + p).flatMap((h) => tails.map((t) => h + t)));
      }
    }
  }
  return [pattern];
}

function splitTopLevel(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '{') depth++;
    else if (s[i] === '}') depth--;
    else if (s[i] === ',' && depth === 0) {
      out.push(s.slice(start, i));
      start = i + 1;
    }
  }
  out.push(s.slice(start));
  return out;
}

const MAGIC = /[*?[]/;

function segmentRegex(seg: string): RegExp {
  let re = '^';
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i];
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = seg.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        let body = seg.slice(i + 1, end);
        if (body.startsWith('!')) body = `^${body.slice(1)}`;
        re += `[${body.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else if (c === '\\' && i + 1 < seg.length) re += `\\${seg[++i]}`;
    else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`${re}$`);
}

/** Absolute paths matching an absolute pattern, sorted (glob(3) order). */
export function glob(pattern: string, fs: DirReader): string[] {
  const out = new Set<string>();
  for (const p of expandBraces(pattern)) {
    const segs = p.split('/').filter((s, i) => s !== '' || i === 0);
    let paths = ['/'];
    for (const seg of segs.slice(1)) {
      if (!MAGIC.test(seg)) {
        paths = paths.map((d) => posix.join(d, seg.replace(/\\(.)/g, '$1')));
        continue;
      }
      const re = segmentRegex(seg);
      const next: string[] = [];
      for (const dir of paths) {
        let names: string[];
        try {
          names = fs.readdir(dir);
        } catch {
          continue;
        }
        for (const n of names)
          if (re.test(n) && (!n.startsWith('.') || seg.startsWith('.'))) next.push(posix.join(dir, n));
      }
      paths = next;
    }
    for (const x of paths) out.add(x);
  }
  return [...out].sort();
}

export function hasMagic(pattern: string): boolean {
  return MAGIC.test(pattern) || expandBraces(pattern)[0] !== pattern;
}
