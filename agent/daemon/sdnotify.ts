// systemd notifications (sd_notify(3)): READY=1, RELOADING=1, STOPPING=1, STATUS=, WATCHDOG=1,
// EXTEND_TIMEOUT_USEC=. A no-op outside systemd (no NOTIFY_SOCKET).
//
// Transport: Node core has no AF_UNIX SOCK_DGRAM, so each message is one sendto(2) on a fresh
// AF_UNIX datagram socket through koffi (agent/lib/libc.ts; no native addon to build), which also
// reaches abstract addresses ("@name": a leading NUL, as systemd in a container may hand out). We
// rejected `systemd-notify` as a child process: its messages carry the child's PID, which needs
// NotifyAccess=all and races with systemd's cgroup lookup when the child exits first (systemd 252);
// and the `sd-notify` package needs libsystemd headers at build time. The socket is closed right
// after the send: nothing is left for the event loop to poll.
import type { Logger } from 'pino';
import { type Clock, systemClock, type Timer } from '../lib/clock.js';
import { AF_UNIX, errnoCode, loadLibc, SOCK_CLOEXEC, SOCK_DGRAM } from '../lib/libc.js';
import { flushLog } from '../log.js';

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

/** Sends one datagram to the notify socket; throws with the errno on failure. */
export type DatagramSend = (socketPath: string, msg: Buffer) => void;

const SUN_PATH_MAX = 108;
const MSG_NOSIGNAL = 0x4000;

/**
 * struct sockaddr_un for a path, or for an abstract name written "@name" (sun_path[0] = NUL, the
 * name after it, and the address length covering exactly the name: abstract names are not
 * NUL-terminated). Returns the bytes to pass with their exact length.
 */
export function sockaddrUn(address: string): Buffer {
  const abstract = address.startsWith('@');
  const name = Buffer.from(abstract ? address.slice(1) : address, 'utf8');
  const pathLen = abstract ? 1 + name.length : name.length + 1;
  if (pathLen > SUN_PATH_MAX) throw new Error(`socket address too long (${pathLen} > ${SUN_PATH_MAX} bytes)`);
  const sa = Buffer.alloc(2 + pathLen);
  sa.writeUInt16LE(AF_UNIX, 0); // sa_family_t in host order (little-endian on our targets)
  name.copy(sa, abstract ? 3 : 2);
  return sa;
}

/** The real transport: a fresh AF_UNIX datagram socket per message (sendto is synchronous). */
export const unixDatagramSend: DatagramSend = (socketPath, msg) => {
  const libc = loadLibc();
  if (libc instanceof Error) throw libc;
  const addr = sockaddrUn(socketPath);
  const fd = libc.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new Error(`socket(AF_UNIX, SOCK_DGRAM): ${errnoCode(libc.errno())}`);
  try {
    if (libc.sendto(fd, msg, msg.length, MSG_NOSIGNAL, addr, addr.length) < 0) {
      throw new Error(`sendto ${socketPath}: ${errnoCode(libc.errno())}`);
    }
  } finally {
    libc.close(fd);
  }
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

  const usable = socket !== null;
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
