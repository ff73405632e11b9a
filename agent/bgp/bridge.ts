// The ExaBGP bridge process (imperative shell around BridgeCore). ExaBGP runs it
// (`process lbagent { run /usr/bin/lbagent exabgp-bridge ...; encoder text; }`): commands go to
// stdout, ExaBGP's acks and neighbor events arrive on stdin. It connects to the agent's bridge
// socket and reconnects with backoff for as long as ExaBGP runs (saying so in its log while it
// retries); stdin EOF or a broken stdout means ExaBGP is gone: the bridge exits at once (ExaBGP's
// RIB died with it, there is nothing left to withdraw and no grace to wait for).
import { createConnection, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { systemClock } from '../lib/clock.js';
import { BridgeCore } from './bridge-core.js';
import {
  BRIDGE_CAPS,
  BRIDGE_PROTOCOL_VERSION,
  type BridgeToAgent,
  MAX_BRIDGE_LINE,
  parseAgentMessage,
} from './bridge-protocol.js';

export interface BridgeOptions {
  /** The agent's bridge socket (dirname(control.socket)/exabgp.sock). */
  socket: string;
  /** Grace before withdrawing everything when the agent was never heard from / is gone (ms). */
  graceMs: number;
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream;
  /** Where the bridge's own messages go (default stderr, which ExaBGP logs). */
  log?: (msg: string) => void;
}

/** While the agent cannot be reached, a log line at the first failure and then this often. */
export const RETRY_LOG_EVERY_MS = 30_000;

export function defaultBridgeSocket(controlSocket: string): string {
  const i = controlSocket.lastIndexOf('/');
  return `${i > 0 ? controlSocket.slice(0, i) : ''}/exabgp.sock`;
}

/** Runs until ExaBGP closes our stdin. Resolves with the exit code. */
export function runExabgpBridge(opts: BridgeOptions): Promise<number> {
  const input = opts.input ?? process.stdin;
  const output = opts.output ?? process.stdout;
  const log =
    opts.log ?? ((msg: string) => process.stderr.write(`lbagent-exabgp-bridge[${process.pid}]: ${msg}\n`));
  let sock: Socket | undefined;
  let connected = false;
  let stopped = false;
  let retryMs = 100;
  let retryTimer: NodeJS.Timeout | undefined;
  let failures = 0;
  let lastFailureLog = 0;
  let finish: (code: number) => void = () => {};

  // ExaBGP gone: stop everything now; never linger, never write to a dead pipe.
  const exabgpGone = (why: string) => {
    if (stopped) return;
    stopped = true;
    core.exabgpDown();
    if (retryTimer) clearTimeout(retryTimer);
    sock?.destroy();
    log(`${why}; exiting`);
    finish(0);
  };
  // EPIPE on stdout (ExaBGP killed) is an 'error' event: handled here, not an uncaught exception.
  output.on('error', (err: NodeJS.ErrnoException) =>
    exabgpGone(`ExaBGP's pipe broke (${err.code ?? err.message})`),
  );

  const core = new BridgeCore(
    systemClock,
    {
      writeExabgp: (line) => {
        if (!stopped) output.write(`${line}\n`);
      },
      sendAgent: (msg: BridgeToAgent) => {
        if (connected && sock && !sock.destroyed) sock.write(`${JSON.stringify(msg)}\n`);
      },
      log,
    },
    opts.graceMs,
  );

  const connect = () => {
    if (stopped) return;
    const s = createConnection(opts.socket);
    sock = s;
    let buf = '';
    s.setEncoding('utf8');
    s.on('connect', () => {
      connected = true;
      retryMs = 100;
      core.agentUp();
      log(`connected to agent at ${opts.socket}${failures ? ` after ${failures} failed attempt(s)` : ''}`);
      failures = 0;
      s.write(
        `${JSON.stringify({ t: 'hello', v: BRIDGE_PROTOCOL_VERSION, pid: process.pid, exabgpPid: process.ppid, caps: BRIDGE_CAPS })}\n`,
      );
    });
    s.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_BRIDGE_LINE) {
        log('agent sent an over-long line; reconnecting');
        s.destroy();
        return;
      }
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line.trim()) continue;
        const msg = parseAgentMessage(line);
        if (typeof msg === 'string') log(`dropped malformed agent message: ${msg}`);
        else core.fromAgent(msg);
      }
    });
    s.on('error', (err: NodeJS.ErrnoException) => {
      if (connected || stopped) return;
      // Cannot reach the agent (socket missing, refused): say so now and then, not silently.
      failures++;
      const now = Date.now();
      if (failures === 1 || now - lastFailureLog >= RETRY_LOG_EVERY_MS) {
        lastFailureLog = now;
        log(
          `cannot reach the agent at ${opts.socket} (${err.code ?? err.message}); retrying every ${Math.min(retryMs * 2, 1000)} ms (${failures} attempt(s) so far)`,
        );
      }
    });
    s.on('close', () => {
      if (stopped) return;
      if (connected) log('agent connection closed');
      connected = false;
      core.agentDown();
      retryTimer = setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 1000);
    });
  };

  // If the agent never shows up, routes left from an earlier bridge are ExaBGP's own business
  // (ExaBGP restarted = empty RIB), so there is nothing to withdraw here.
  connect();

  return new Promise((resolve) => {
    finish = resolve;
    const rl = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
    rl.on('line', (line) => core.fromExabgp(line));
    rl.on('close', () => exabgpGone('ExaBGP closed our stdin'));
  });
}

/** Command-line entry: `exabgp-bridge [--socket PATH] [--grace MS]`. */
export function parseBridgeArgs(argv: string[]): BridgeOptions | string {
  let socket = '/run/lbagent/exabgp.sock';
  let graceMs = 0;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (a === '--socket' && v) {
      socket = v;
      i++;
    } else if (a === '--grace-ms' && v && /^\d+$/.test(v)) {
      graceMs = Number(v);
      i++;
    } else
      return `unknown or incomplete argument "${a}" (usage: exabgp-bridge [--socket PATH] [--grace-ms MS])`;
  }
  return { socket, graceMs };
}
