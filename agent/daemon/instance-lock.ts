// One agent per runtime directory, like keepalived's pid-file check: flock(2) on
// <runtime dir>/lbagent.lock, taken before any socket, file or kernel write. The kernel drops the
// lock when its holder dies however it dies (SIGKILL, OOM), so a stale lock file is simply taken
// over; the file only carries the holder's PID for the error message of the instance that lost.
//
// The lock is on a file, so it holds across network namespaces: two agents in different
// namespaces that share a runtime directory are refused just the same (they would share the
// control socket, the ExaBGP bridge socket and the state files). Agents meant to run side by side
// in separate namespaces each need their own control.socket directory. Within one namespace a
// second guard (acquireNamespaceGuard, below) refuses two agents with the same route protocol
// whatever their runtime directories.
import { closeSync, constants, ftruncateSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import { errnoCode, loadLibc } from '../lib/libc.js';

const LOCK_EX = 2;
const LOCK_NB = 4;
const EWOULDBLOCK = 11;

export class InstanceLocked extends Error {
  constructor(
    readonly lockPath: string,
    readonly holderPid: number | undefined,
  ) {
    super(
      `another lbagent is running (${holderPid ? `pid ${holderPid}` : 'pid unknown'}) with the lock ${lockPath}; not starting a second one`,
    );
  }
}

export interface InstanceLock {
  path: string;
  /** How the lock was come by: a fresh file, or one a dead agent left behind. */
  tookOverFrom?: number;
  release(): void;
}

export function lockPathFor(runtimeDir: string): string {
  return join(runtimeDir, 'lbagent.lock');
}

function readPid(fd: number): number | undefined {
  const buf = Buffer.alloc(32);
  const n = readSync(fd, buf, 0, buf.length, 0);
  const m = /^(\d+)/.exec(buf.subarray(0, n).toString('utf8').trim());
  return m ? Number(m[1]) : undefined;
}

/**
 * Takes the instance lock of `runtimeDir` or throws InstanceLocked naming the holder's PID.
 * Returns an Error (and takes nothing) where flock cannot be called (koffi missing): the caller
 * then relies on the live-socket check alone.
 */
export function acquireInstanceLock(runtimeDir: string, pid = process.pid): InstanceLock | Error {
  const libc = loadLibc();
  if (libc instanceof Error) return libc;
  mkdirSync(runtimeDir, { recursive: true, mode: 0o755 });
  const path = lockPathFor(runtimeDir);
  // O_NOFOLLOW: a symlink planted at the lock path must not make root truncate its target. (libuv
  // opens with O_CLOEXEC, so exec checks never inherit the descriptor and with it the lock.)
  const fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o644);
  if (libc.flock(fd, LOCK_EX | LOCK_NB) !== 0) {
    const errno = libc.errno();
    const holder = readPid(fd);
    closeSync(fd);
    if (errno === EWOULDBLOCK) throw new InstanceLocked(path, holder);
    throw new Error(`flock ${path}: ${errnoCode(errno)}`);
  }
  const previous = readPid(fd);
  ftruncateSync(fd, 0);
  writeSync(fd, `${pid}\n`, 0);
  return {
    path,
    tookOverFrom: previous !== undefined && previous !== pid ? previous : undefined,
    // Closing the descriptor drops the lock. The file stays: unlinking it would let a third agent
    // lock a new inode while a second still waits on the old one.
    release: () => closeSync(fd),
  };
}

/**
 * The second guard, per network namespace: agents that share a namespace and a route protocol
 * would delete each other's routes and addresses (each takes the other's for stale ones it owns),
 * even with separate runtime directories. An abstract unix socket named after the protocol is
 * bound in the namespace the agent runs in; the kernel frees the name when the process dies, and
 * the holder answers a connect with its PID so the refused one can name it.
 */
export class NamespaceTaken extends Error {
  constructor(
    readonly routeProtocol: number,
    readonly holderPid: number | undefined,
  ) {
    super(
      `another lbagent (${holderPid ? `pid ${holderPid}` : 'pid unknown'}) manages route protocol ${routeProtocol} in this network namespace; not starting a second one (give each agent its own kernel.routeProtocol)`,
    );
  }
}

export function namespaceGuardName(routeProtocol: number): string {
  return `\0lbagent/route-protocol/${routeProtocol}`;
}

export async function acquireNamespaceGuard(
  routeProtocol: number,
  pid = process.pid,
): Promise<{ close(): void }> {
  const name = namespaceGuardName(routeProtocol);
  const server = createServer((sock) => {
    sock.on('error', () => {});
    sock.end(`${pid}\n`);
  });
  server.unref(); // never what keeps the agent alive
  const bound = await new Promise<NodeJS.ErrnoException | null>((resolve) => {
    server.once('error', (err) => resolve(err as NodeJS.ErrnoException));
    server.listen(name, () => resolve(null));
  });
  if (!bound) return { close: () => server.close() };
  if (bound.code !== 'EADDRINUSE') throw bound;
  throw new NamespaceTaken(routeProtocol, await askHolderPid(name));
}

function askHolderPid(name: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    let text = '';
    const sock = createConnection(name);
    const timer = setTimeout(() => sock.destroy(), 2000);
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      text += d;
    });
    sock.on('close', () => {
      clearTimeout(timer);
      const m = /^(\d+)/.exec(text);
      resolve(m ? Number(m[1]) : undefined);
    });
    sock.on('error', () => {});
  });
}
