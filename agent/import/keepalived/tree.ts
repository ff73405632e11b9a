// Lines → blocks. keepalived opens a block with a '{' word at the end of a keyword's line (or
// alone on the next line) and closes it with '}' alone or at the end of a line; a value block
// may sit on one line ("track_interface { eth1 weight -10 }"), its words then being one entry.
import type { Findings } from '../report.js';
import type { SourceLine } from './lines.js';

export interface Node {
  name: string;
  args: string[];
  file: string;
  line: number;
  /** Present when the keyword had a { } block. */
  block?: Node[];
}

export function buildTree(lines: SourceLine[], findings: Findings): Node[] {
  const root: Node[] = [];
  const stack: { nodes: Node[]; owner?: Node }[] = [{ nodes: root }];
  const top = () => stack[stack.length - 1];
  const close = (at: SourceLine) => {
    if (stack.length === 1) findings.error(at, '}', 'closes a block that was never opened');
    else stack.pop();
  };
  const add = (words: string[], at: SourceLine): Node => {
    const n: Node = { name: words[0], args: words.slice(1), file: at.file, line: at.line };
    top().nodes.push(n);
    return n;
  };
  const open = (n: Node) => {
    n.block = [];
    stack.push({ nodes: n.block, owner: n });
  };

  for (const l of lines) {
    let w = l.words;
    if (w[0] === '{') {
      // '{' alone (or first) on the line after its keyword.
      const prev = top().nodes[top().nodes.length - 1];
      if (!prev || prev.block) {
        findings.error(l, '{', 'opens a block without a keyword before it');
        continue;
      }
      open(prev);
      w = w.slice(1);
      if (!w.length) continue;
    }
    if (w.length === 1 && w[0] === '}') {
      close(l);
      continue;
    }
    const ob = w.indexOf('{');
    if (ob > 0) {
      const n = add(w.slice(0, ob), l);
      open(n);
      const inner = w.slice(ob + 1);
      const closes = inner[inner.length - 1] === '}';
      const body = closes ? inner.slice(0, -1) : inner;
      if (body.length) add(body, l);
      if (closes) close(l);
      continue;
    }
    if (w[w.length - 1] === '}') {
      add(w.slice(0, -1), l);
      close(l);
      continue;
    }
    add(w, l);
  }
  for (const s of stack.slice(1)) {
    if (s.owner) findings.error(s.owner, s.owner.name, 'block is never closed (missing "}")');
  }
  return root;
}
