// Reading a file at a path other people control (the disable file, the ready file) without ever
// blocking the agent or echoing what is not ours to echo:
// - lstat first: absent, a regular file, or "something else". A FIFO, socket, device, directory
//   or symlink at the path means "present" and is never opened (a FIFO would block open(), a
//   symlink could point at a root-only file whose content would end up in status and logs).
// - a regular file is opened O_NOFOLLOW|O_NONBLOCK (the path may be swapped between lstat and
//   open) and fstat-checked again; at most MAX_READ bytes are read, asynchronously.
// - the caller re-reads only when the identity (dev, ino, size, mtime, ctime) changed, so a
//   100 MB file costs one 4 KiB read, not a full read per poll.
import { constants } from 'node:fs';
import { lstat, open } from 'node:fs/promises';

export const MAX_READ = 4096;

export type PathKind = 'file' | 'fifo' | 'socket' | 'directory' | 'symlink' | 'device' | 'other';

export type FileSnapshot =
  | { present: false }
  | {
      present: true;
      kind: PathKind;
      /** dev:ino:size:mtime:ctime; equal identities mean the content was not changed. */
      identity: string;
      /** The first MAX_READ bytes (regular files only). */
      text?: string;
      /** Why the content was not read (non-regular file, permission, ...). */
      unread?: string;
      truncated?: boolean;
    };

type StatLike = {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  isFile(): boolean;
  isFIFO(): boolean;
  isSocket(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
  isBlockDevice(): boolean;
  isCharacterDevice(): boolean;
};

export function kindOf(st: StatLike): PathKind {
  if (st.isFile()) return 'file';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  if (st.isDirectory()) return 'directory';
  if (st.isBlockDevice() || st.isCharacterDevice()) return 'device';
  return 'other';
}

export function identityOf(st: StatLike): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
}

const ABSENT = new Set(['ENOENT', 'ENOTDIR']);

/** Only lstat: is something at the path (for files whose content does not matter). */
export async function probePath(path: string): Promise<FileSnapshot> {
  try {
    const st = await lstat(path);
    return { present: true, kind: kindOf(st), identity: identityOf(st) };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    if (ABSENT.has(code)) return { present: false };
    // EACCES on a parent and the like: we cannot tell, and "present" is the safe side.
    return { present: true, kind: 'other', identity: `error:${code}`, unread: code };
  }
}

/**
 * Snapshot of the file at `path`; `previous` with the same identity is returned as is (no read).
 * Never opens anything but a regular file, never reads more than MAX_READ bytes.
 */
export async function readSnapshot(path: string, previous?: FileSnapshot): Promise<FileSnapshot> {
  const probe = await probePath(path);
  if (!probe.present) return probe;
  if (probe.kind !== 'file')
    return { ...probe, unread: probe.unread ?? `a ${probe.kind}, not a regular file` };
  if (previous?.present && previous.identity === probe.identity) return previous;
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    const st = await fh.stat();
    if (!st.isFile())
      return { present: true, kind: kindOf(st), identity: identityOf(st), unread: 'replaced while read' };
    const buf = Buffer.alloc(Math.min(MAX_READ, Math.max(0, st.size)));
    const { bytesRead } = buf.length ? await fh.read(buf, 0, buf.length, 0) : { bytesRead: 0 };
    return {
      present: true,
      kind: 'file',
      identity: identityOf(st),
      text: buf.subarray(0, bytesRead).toString('utf8'),
      truncated: st.size > MAX_READ,
    };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    if (ABSENT.has(code)) return { present: false };
    // ELOOP: a symlink swapped in after lstat (O_NOFOLLOW); EACCES: not ours to read. Present.
    return {
      present: true,
      kind: code === 'ELOOP' ? 'symlink' : 'other',
      identity: `error:${code}`,
      unread: code,
    };
  } finally {
    await fh?.close().catch(() => {});
  }
}
