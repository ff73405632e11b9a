// Durable replacement of a small state file: what an operator was told is done must survive a
// SIGKILL or a power cut right after the ack. Write a temporary file beside the target, fsync it,
// rename it over the target, fsync the directory (so the rename itself is on disk). The temporary
// file never outlives a failure.
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

function tmpPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now().toString(36)}.tmp`);
}

/** Synchronous: for the few callers that must finish before the current turn ends. */
export function writeFileDurableSync(path: string, data: string | Buffer, mode = 0o644): void {
  const tmp = tmpPathFor(path);
  let fd = -1;
  try {
    fd = openSync(tmp, 'wx', mode);
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    renameSync(tmp, path);
  } catch (err) {
    if (fd >= 0) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {}
    throw err;
  }
  syncDirSync(dirname(path));
}

/** Asynchronous twin: the event loop keeps running while the disk works. */
export async function writeFileDurable(path: string, data: string | Buffer, mode = 0o644): Promise<void> {
  const tmp = tmpPathFor(path);
  try {
    const fh = await open(tmp, 'wx', mode);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await syncDir(dirname(path));
}

/** Removes a file and makes the removal durable (a drain undone must stay undone). */
export async function unlinkDurable(path: string): Promise<void> {
  await unlink(path);
  await syncDir(dirname(path));
}

function syncDirSync(dir: string): void {
  let fd = -1;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some filesystems refuse fsync on a directory (EINVAL); the rename is still atomic.
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r').catch(() => null);
  if (!fh) return;
  try {
    await fh.sync();
  } catch {
    // As above: EINVAL on some filesystems.
  } finally {
    await fh.close();
  }
}
