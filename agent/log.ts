// pino: JSON lines to stdout (journald keeps them), pretty only on a TTY.
//
// Priorities for journald: when stdout is the journal (systemd sets JOURNAL_STREAM to the
// device:inode of that stream, see systemd.exec(5)), each line starts with a syslog priority
// prefix "<N>" (sd-daemon(3)). journald strips it and files the line at that priority, so
// `journalctl -p err -u lbagent` finds errors, while `journalctl -o cat` still shows the bare JSON.
// We chose the prefix over journald's native protocol (a datagram per line to
// /run/systemd/journal/socket): it keeps one writer, pino's own, with its flush-on-exit and
// ordering, needs no FFI, and is ignored by nothing else because it is only added when the
// stream is the journal's.
import { fstatSync } from 'node:fs';
import { type Logger, pino } from 'pino';

/** syslog priority (RFC 5424 severity) of a pino level number. */
export function syslogPriority(level: number): number {
  if (level >= 60) return 2; // fatal -> crit
  if (level >= 50) return 3; // error -> err
  if (level >= 40) return 4; // warn -> warning
  if (level >= 30) return 6; // info -> info
  return 7; // debug, trace -> debug
}

/** Prefixes a serialized pino line with its journald priority ("<3>{"level":50,...}"). */
export function withPriorityPrefix(line: string): string {
  const m = /^\{"level":(\d+)/.exec(line);
  return m ? `<${syslogPriority(Number(m[1]))}>${line}` : line;
}

/** True when fd (stdout) is the stream JOURNAL_STREAM names (not inherited by a pipe or file). */
export function stdoutIsJournal(env: NodeJS.ProcessEnv = process.env, fd = 1): boolean {
  const m = /^(\d+):(\d+)$/.exec(env.JOURNAL_STREAM?.trim() ?? '');
  if (!m) return false;
  try {
    const st = fstatSync(fd, { bigint: true });
    return st.dev === BigInt(m[1]) && st.ino === BigInt(m[2]);
  } catch {
    return false;
  }
}

export function createLogger(level: string, opts: { pretty?: boolean; journal?: boolean } = {}): Logger {
  const pretty = opts.pretty ?? process.stdout.isTTY;
  const journal = !pretty && (opts.journal ?? stdoutIsJournal());
  return pino({
    level,
    base: { svc: 'lbagent' },
    timestamp: pino.stdTimeFunctions.isoTime,
    ...(journal ? { hooks: { streamWrite: withPriorityPrefix } } : {}),
    ...(pretty
      ? { transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } } }
      : {}),
  });
}

/**
 * pino's stdout writer is asynchronous: flush it before a state change systemd reports (so the
 * journal shows our "lbagent running" / "shutting down" lines before systemd's "Started" /
 * "Stopping" lines) and before exiting on a crash.
 */
export function flushLog(log: Logger): void {
  const stream = (log as unknown as Record<symbol, { flushSync?: () => void } | undefined>)[
    pino.symbols.streamSym
  ];
  try {
    stream?.flushSync?.();
  } catch {
    // SonicBoom throws while its fd is still opening; nothing was written yet then.
  }
}
