// Control socket server: unix socket, mode from config (0660 by default), JSON lines.
// Handlers are registered by method name; each subsystem adds its own verbs.
import { chmod, chown, mkdir, unlink } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import {
  type ControlError,
  type ControlResponse,
  MAX_LINE_BYTES,
  PROTOCOL_VERSION,
  parseRequest,
} from './protocol.js';

export type Handler = (params: Record<string, unknown>) => unknown | Promise<unknown>;

/** Thrown by handlers for an expected failure that lbctl should print as one line. */
export class ControlFailure extends Error {
  constructor(
    message: string,
    readonly details?: unknown,
    readonly code: ControlError['code'] = 'failed',
  ) {
    super(message);
  }
}

export class ControlServer {
  private handlers = new Map<string, Handler>();
  private server?: Server;
  private sockets = new Set<Socket>();

  constructor(private log: Logger) {
    this.handle('methods', () => [...this.handlers.keys()].sort());
  }

  handle(method: string, fn: Handler): void {
    this.handlers.set(method, fn);
  }

  async listen(path: string, mode: string, group?: string): Promise<void> {
    await mkdir(dirname(path), { recursive: true, mode: 0o750 });
    // A stale socket from a crashed agent would make listen fail with EADDRINUSE.
    await unlink(path).catch(() => {});
    const server = createServer((sock) => this.serve(sock));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
    await chmod(path, Number.parseInt(mode, 8));
    if (group) {
      const gid = await lookupGid(group);
      if (gid !== undefined) await chown(path, process.getuid?.() ?? 0, gid);
      else this.log.warn({ group }, 'control socket group not found; socket left with the default group');
    }
    this.server = server;
    this.log.info({ path, mode }, 'control socket listening');
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const path = this.server?.address();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    if (typeof path === 'string') await unlink(path).catch(() => {});
  }

  private serve(sock: Socket): void {
    this.sockets.add(sock);
    sock.on('close', () => this.sockets.delete(sock));
    sock.on('error', () => {});
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_LINE_BYTES) {
        this.reply(sock, {
          v: PROTOCOL_VERSION,
          id: 0,
          ok: false,
          error: { code: 'bad_request', message: 'request too large' },
        });
        sock.end();
        return;
      }
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim()) void this.dispatch(sock, line);
      }
    });
  }

  private async dispatch(sock: Socket, line: string): Promise<void> {
    const req = parseRequest(line);
    if ('code' in req) {
      this.reply(sock, { v: PROTOCOL_VERSION, id: 0, ok: false, error: req });
      return;
    }
    const fn = this.handlers.get(req.method);
    if (!fn) {
      this.reply(sock, {
        v: PROTOCOL_VERSION,
        id: req.id,
        ok: false,
        error: { code: 'unknown_method', message: `unknown method "${req.method}"` },
      });
      return;
    }
    try {
      const result = await fn(req.params ?? {});
      this.reply(sock, { v: PROTOCOL_VERSION, id: req.id, ok: true, result: result ?? null });
    } catch (err) {
      const e = err as Error;
      const error: ControlError =
        err instanceof ControlFailure
          ? { code: err.code, message: err.message, details: err.details }
          : { code: 'failed', message: e.message };
      if (!(err instanceof ControlFailure))
        this.log.error({ err, method: req.method }, 'control handler failed');
      this.reply(sock, { v: PROTOCOL_VERSION, id: req.id, ok: false, error });
    }
  }

  private reply(sock: Socket, res: ControlResponse): void {
    if (!sock.destroyed) sock.write(`${JSON.stringify(res)}\n`);
  }
}

async function lookupGid(group: string): Promise<number | undefined> {
  if (/^\d+$/.test(group)) return Number(group);
  const { readFile } = await import('node:fs/promises');
  const text = await readFile('/etc/group', 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    const [name, , gid] = line.split(':');
    if (name === group) return Number(gid);
  }
  return undefined;
}
