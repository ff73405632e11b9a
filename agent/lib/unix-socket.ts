// Listening unix sockets (the control socket, the ExaBGP bridge socket) that never destroy what
// is not theirs: a path that holds a live socket (another process answers on it), a regular
// file, a directory, a FIFO or a symlink is refused with an error naming it; only a socket
// nobody listens on (left by a crashed agent) is replaced. On close, the path is unlinked only
// while it is still the socket this process bound.
import { lstatSync, type Stats } from 'node:fs';
import { chmod, chown, lstat, mkdir, unlink } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { lookupGroupId } from './nss.js';

export class SocketPathError extends Error {}

export interface UnixListenOptions {
  /** What the socket is, for errors and logs ("control socket"). */
  what: string;
  /** Octal file mode ("0660"). */
  mode: string;
  /** Group owning the socket (name through NSS, or a gid). */
  group?: string;
  log: Logger;
  /** How long a connect to an existing socket may take before it counts as dead. */
  probeMs?: number;
}

export interface UnixListener {
  server: Server;
  path: string;
  /** Stops listening and unlinks the path if it is still our socket. */
  close(): Promise<void>;
}

function kindOf(st: Stats): string {
  if (st.isSymbolicLink()) return 'symbolic link';
  if (st.isDirectory()) return 'directory';
  if (st.isFIFO()) return 'FIFO';
  if (st.isFile()) return 'regular file';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'device';
  return 'non-socket file';
}

/** Resolves true when something accepts a connection on `path` within `ms`. */
export function socketIsLive(path: string, ms = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (live: boolean, sock?: Socket) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock?.destroy();
      resolve(live);
    };
    const sock = createConnection(path);
    // A listener whose backlog is full (busy, not dead) also counts as live: EAGAIN.
    sock.once('connect', () => finish(true, sock));
    sock.once('error', (err: NodeJS.ErrnoException) => finish(err.code === 'EAGAIN', sock));
    const timer = setTimeout(() => finish(true, sock), ms);
  });
}

/**
 * Makes `path` free for a new socket: absent is fine, a dead socket is unlinked; anything else is
 * refused (SocketPathError), and nothing is deleted.
 */
export async function claimSocketPath(path: string, what: string, probeMs = 1000): Promise<'free' | 'stale'> {
  let st: Stats;
  try {
    st = await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'free';
    throw new SocketPathError(`${what} ${path}: ${(err as Error).message}`);
  }
  if (!st.isSocket()) {
    throw new SocketPathError(
      `${what} ${path} exists and is a ${kindOf(st)}, not a socket; refusing to replace it (remove it or choose another path)`,
    );
  }
  if (await socketIsLive(path, probeMs)) {
    throw new SocketPathError(`${what} ${path} is in use: another process is listening on it`);
  }
  await unlink(path);
  return 'stale';
}

export async function listenUnix(path: string, opts: UnixListenOptions): Promise<UnixListener> {
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  const claimed = await claimSocketPath(path, opts.what, opts.probeMs);
  if (claimed === 'stale')
    opts.log.info({ path }, `${opts.what}: replaced a stale socket nobody listened on`);
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new SocketPathError(`${opts.what} ${path}: ${err.message}`)));
    server.listen(path, () => resolve());
  });
  const ours = lstatSync(path);
  const close = async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    try {
      const now = lstatSync(path);
      if (now.ino === ours.ino && now.dev === ours.dev) await unlink(path);
    } catch {
      // already gone
    }
  };
  try {
    await chmod(path, Number.parseInt(opts.mode, 8));
    if (opts.group) {
      const gid = lookupGroupId(opts.group);
      if (gid !== undefined) await chown(path, process.getuid?.() ?? 0, gid);
      else
        opts.log.warn(
          { group: opts.group, path },
          `${opts.what}: group not found; socket keeps its default group`,
        );
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { server, path, close };
}
