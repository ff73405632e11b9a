// systemd notifications (sd_notify(3)): READY=1, RELOADING=1, STOPPING=1, STATUS=, WATCHDOG=1,
// EXTEND_TIMEOUT_USEC=. A no-op outside systemd (no NOTIFY_SOCKET).
//
// Transport: Node core has no AF_UNIX SOCK_DGRAM, so datagrams go through the `unix-dgram` npm
// package (a small nan addon, sendmsg() on a real AF_UNIX datagram socket). We rejected
// `systemd-notify` as a child process: its messages carry the child's PID, which needs
// NotifyAccess=all and races with systemd's cgroup lookup when the child exits first (systemd 252);
// and the `sd-notify` package needs libsystemd headers at build time. Each message opens, sends and
// closes its own socket: a kept-open unix-dgram socket polls for reads and would pin the event loop.
import { createRequire } from 'node:module';
import { type Logger, pino } from 'pino';
import { type Clock, systemClock, type Timer } from '../lib/clock.js';

export interface Notifier {
  /** READY=1 with a STATUS= line: after the first successful reconcile, and after each reload. */
  ready(status: string): void;
  /** RELOADING=1 with MONOTONIC_USEC= (SIGHUP received); follow with ready(). */
  reloading(): void;
  stopping(): void;
  status(text: string): void;
  /**
   * Starts WATCHDOG=1 pings at half of WATCHDOG_USEC from the event loop (a stuck loop stops them).
   * `healthy` is asked before each ping; a falsy answer skips that ping so systemd restarts us.
   */
  startWatchdog(healthy?: () => boolean): void;
  /** EXTEND_TIMEOUT_USEC=: ask for more time during a slow start, reload or stop. */
  extendTimeout(ms: number): void;
  /** True when NOTIFY_SOCKET was set (running under systemd Type=notify). */
  readonly enabled: boolean;
  /** The watchdog ping period in ms, or null when systemd set no watchdog for us. */
  readonly watchdogPingMs: number | null;
  close(): void;
}

// ---------- pure core ----------

export interface NotifyEnv {
  /** Socket path, or an abstract name starting with '@'; null outside systemd. */
  socket: string | null;
  /** WATCHDOG_USEC when it is meant for this process (WATCHDOG_PID unset or ours). */
  watchdogUsec: number | null;
}

/** Reads NOTIFY_SOCKET / WATCHDOG_USEC / WATCHDOG_PID like sd_notify(3) and sd_watchdog_enabled(3). */
export function readNotifyEnv(env: NodeJS.ProcessEnv, pid: number): NotifyEnv {
  const raw = env.NOTIFY_SOCKET?.trim();
  const socket = raw && (raw.startsWith('/') || raw.startsWith('@')) ? raw : null;
  let watchdogUsec: number | null = null;
  const usec = env.WATCHDOG_USEC?.trim();
  if (usec && /^\d{1,15}$/.test(usec) && Number(usec) > 0) {
    const wpid = env.WATCHDOG_PID?.trim();
    if (!wpid || Number(wpid) === pid) watchdogUsec = Number(usec);
  }
  return { socket, watchdogUsec };
}

/** sd_watchdog_enabled(3) recommends pinging at half the timeout. */
export function watchdogPingInterval(usec: number): number {
  return Math.max(1, Math.floor(usec / 2000));
}

/** One line for STATUS=: newlines would start new assignments, so fold them; keep it short. */
export function statusValue(text: string, max = 400): string {
  const one = text
    .replace(/[\r\n]+/g, ' ')
    .replace(/[\x00-\x1f\x7f]/g, '')
    .trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

/** Encodes assignments as sd_notify expects: "KEY=VALUE\n" per field, in order. */
export function encodeNotify(fields: ReadonlyArray<readonly [string, string | number | bigint]>): Buffer {
  let text = '';
  for (const [k, v] of fields) {
    if (!/^[A-Z_][A-Z0-9_]*$/.test(k)) throw new Error(`sd_notify: bad field name ${JSON.stringify(k)}`);
    const value = String(v);
    if (/[\n\0]/.test(value)) throw new Error(`sd_notify: ${k} value contains a newline or NUL`);
    text += `${k}=${value}\n`;
  }
  return Buffer.from(text, 'utf8');
}

/** CLOCK_MONOTONIC in microseconds (libuv's hrtime reads CLOCK_MONOTONIC on Linux). */
export function monotonicUsec(): bigint {
  return process.hrtime.bigint() / 1000n;
}

// ---------- shell ----------

/**
 * pino's stdout writer is asynchronous: flush it before a state change so the journal shows our
 * "lbagent running" / "shutting down" lines before systemd's "Started" / "Stopping" lines.
 */
function flushLog(log: Logger): void {
  const stream = (log as unknown as Record<symbol, { flushSync?: () => void } | undefined>)[
    pino.symbols.streamSym
  ];
  try {
    stream?.flushSync?.();
  } catch {
    // SonicBoom throws while its fd is still opening; nothing was written yet then.
  }
}

/** Sends one datagram to the notify socket; throws with the errno on failure. */
export type DatagramSend = (socketPath: string, msg: Buffer) => void;

interface UnixDgramSocket {
  send(buf: Buffer, offset: number, length: number, path: string, cb: (err?: Error) => void): void;
  on(event: 'error', fn: (err: Error) => void): void;
  close(): void;
}
interface UnixDgramModule {
  createSocket(type: 'unix_dgram'): UnixDgramSocket;
}

let unixDgram: UnixDgramModule | null | undefined;
function loadUnixDgram(): UnixDgramModule | null {
  if (unixDgram === undefined) {
    try {
      unixDgram = createRequire(import.meta.url)('unix-dgram') as UnixDgramModule;
    } catch {
      unixDgram = null;
    }
  }
  return unixDgram;
}

/** The real transport: a fresh AF_UNIX datagram socket per message (sendmsg is synchronous). */
export const unixDatagramSend: DatagramSend = (socketPath, msg) => {
  const mod = loadUnixDgram();
  if (!mod) throw new Error('the unix-dgram module is not installed');
  const sock = mod.createSocket('unix_dgram');
  let failure: Error | undefined;
  sock.on('error', (err) => {
    failure = err;
  });
  try {
    sock.send(msg, 0, msg.length, socketPath, (err) => {
      if (err) failure = err;
    });
  } finally {
    sock.close();
  }
  if (failure) throw failure;
};

export interface NotifierOptions {
  env?: NodeJS.ProcessEnv;
  pid?: number;
  clock?: Clock;
  send?: DatagramSend;
  /** Remove NOTIFY_SOCKET/WATCHDOG_* from process.env so children (exec checks) do not inherit them. */
  unsetEnvironment?: boolean;
}

export function notifier(log: Logger, opts: NotifierOptions = {}): Notifier {
  const env = opts.env ?? process.env;
  const pid = opts.pid ?? process.pid;
  const clock = opts.clock ?? systemClock;
  const send = opts.send ?? unixDatagramSend;
  const { socket, watchdogUsec } = readNotifyEnv(env, pid);
  if (opts.unsetEnvironment ?? env === process.env) {
    delete env.NOTIFY_SOCKET;
    delete env.WATCHDOG_USEC;
    delete env.WATCHDOG_PID;
  }

  let usable = socket !== null;
  if (socket?.startsWith('@')) {
    // unix-dgram copies the path with strncpy, so an abstract address (leading NUL) cannot be sent.
    log.warn({ notifySocket: socket }, 'abstract NOTIFY_SOCKET is not supported; systemd notifications off');
    usable = false;
  }
  const pingMs = usable && watchdogUsec !== null ? watchdogPingInterval(watchdogUsec) : null;
  let closed = false;
  let failures = 0;
  let timer: Timer | null = null;
  let skippedLogged = false;

  const notify = (fields: ReadonlyArray<readonly [string, string | number | bigint]>): void => {
    if (!usable || closed || socket === null) return;
    try {
      send(socket, encodeNotify(fields));
      if (failures > 0) log.info({ notifySocket: socket, failures }, 'systemd notify socket works again');
      failures = 0;
    } catch (err) {
      // Log the first failure and then every 100th, so a gone socket cannot flood the journal.
      if (failures++ % 100 === 0) {
        log.warn(
          { notifySocket: socket, err: (err as Error).message, failures },
          `sd_notify ${fields.map(([k]) => k).join(',')} failed`,
        );
      }
    }
  };

  return {
    enabled: usable,
    watchdogPingMs: pingMs,
    ready(status) {
      if (usable) flushLog(log);
      notify([
        ['READY', 1],
        ['STATUS', statusValue(status)],
      ]);
    },
    reloading() {
      notify([
        ['RELOADING', 1],
        ['MONOTONIC_USEC', monotonicUsec()],
        ['STATUS', 'reloading configuration'],
      ]);
    },
    stopping() {
      if (usable) flushLog(log);
      notify([
        ['STOPPING', 1],
        ['STATUS', 'stopping'],
      ]);
    },
    status(text) {
      notify([['STATUS', statusValue(text)]]);
    },
    extendTimeout(ms) {
      notify([['EXTEND_TIMEOUT_USEC', Math.max(1, Math.round(ms * 1000))]]);
    },
    startWatchdog(healthy) {
      if (pingMs === null || timer || closed) return;
      log.info({ pingMs, watchdogUsec }, 'systemd watchdog enabled');
      // A chain of timeouts on the event loop: if the loop is stuck, pings stop and systemd acts.
      const tick = () => {
        timer = null;
        if (closed) return;
        let ok = true;
        try {
          ok = healthy ? healthy() : true;
        } catch {
          ok = false;
        }
        if (ok) {
          skippedLogged = false;
          notify([['WATCHDOG', 1]]);
        } else if (!skippedLogged) {
          skippedLogged = true;
          log.error('health hook failed: withholding systemd watchdog pings');
        }
        timer = clock.setTimeout(tick, pingMs);
      };
      tick();
    },
    close() {
      closed = true;
      timer?.cancel();
      timer = null;
    },
  };
}
