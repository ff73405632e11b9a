// Control socket server: unix socket, mode from config (0660 by default), JSON lines.
// Handlers are registered by method name; each subsystem adds its own verbs.
// A client that connects and then says nothing (or stops mid-line) is closed after an idle
// timeout, and the number of open connections is capped: a stuck or hostile script cannot pin
// file descriptors. A request still being handled keeps its connection open however long it runs.
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { listenUnix, type UnixListener } from '../lib/unix-socket.js';
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

export interface ControlServerOptions {
  /** Close a connection that sent nothing for this long while no request of it runs. */
  idleTimeoutMs?: number;
  /** Connections beyond this many are answered "busy" and closed. */
  maxConnections?: number;
}

export class ControlServer {
  private handlers = new Map<string, Handler>();
  private listener?: UnixListener;
  private sockets = new Set<Socket>();
  private readonly idleTimeoutMs: number;
  private readonly maxConnections: number;
  readonly counters = { idleClosed: 0, refusedBusy: 0 };

  constructor(
    private log: Logger,
    opts: ControlServerOptions = {},
  ) {
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 15_000;
    this.maxConnections = opts.maxConnections ?? 64;
    this.handle('methods', () => [...this.handlers.keys()].sort());
  }

  handle(method: string, fn: Handler): void {
    this.handlers.set(method, fn);
  }

  /** Listens on `path`; refuses (SocketPathError) a path that is not a dead socket. */
  async listen(path: string, mode: string, group?: string): Promise<void> {
    this.listener = await listenUnix(path, { what: 'control socket', mode, group, log: this.log });
    this.listener.server.on('connection', (sock) => this.serve(sock));
    this.log.info({ path, mode, group }, 'control socket listening');
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await this.listener?.close();
    this.listener = undefined;
  }

  status(): { connections: number; idleClosed: number; refusedBusy: number } {
    return { connections: this.sockets.size, ...this.counters };
  }

  private serve(sock: Socket): void {
    sock.on('error', () => {});
    if (this.sockets.size >= this.maxConnections) {
      this.counters.refusedBusy++;
      const error: ControlError = {
        code: 'busy',
        message: `too many open control connections (${this.maxConnections}); try again`,
      };
      sock.end(`${JSON.stringify({ v: PROTOCOL_VERSION, id: 0, ok: false, error })}\n`);
      sock.destroySoon();
      return;
    }
    this.sockets.add(sock);
    sock.on('close', () => this.sockets.delete(sock));
    const conn = { sock, running: 0 };
    sock.setTimeout(this.idleTimeoutMs, () => {
      if (conn.running > 0) return; // a slow handler (reload, plan): the client waits for its answer
      this.counters.idleClosed++;
      sock.destroy();
    });
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
        if (line.trim()) void this.dispatch(conn, line);
      }
    });
  }

  private async dispatch(conn: { sock: Socket; running: number }, line: string): Promise<void> {
    conn.running++;
    try {
      await this.dispatchLine(conn.sock, line);
    } finally {
      conn.running--;
    }
  }

  private async dispatchLine(sock: Socket, line: string): Promise<void> {
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
    const t0 = performance.now();
    try {
      const result = await fn(req.params ?? {});
      this.reply(sock, { v: PROTOCOL_VERSION, id: req.id, ok: true, result: result ?? null });
      this.log.debug(
        { event: 'control_request', method: req.method, ok: true, ms: Math.round(performance.now() - t0) },
        `control: ${req.method}`,
      );
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
