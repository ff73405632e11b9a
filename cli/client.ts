// lbctl's side of the control protocol.
import { createConnection } from 'node:net';
import { type ControlError, PROTOCOL_VERSION } from '../agent/control/protocol.js';

export class AgentUnreachable extends Error {}
export class AgentError extends Error {
  constructor(readonly error: ControlError) {
    super(error.message);
  }
}

let nextId = 1;

/** Sends one request and resolves with its result. Rejects with AgentUnreachable or AgentError. */
export function callAgent(
  socketPath: string,
  method: string,
  params: Record<string, unknown> = {},
  timeoutMs = 10_000,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const id = nextId++;
    const sock = createConnection(socketPath);
    let buf = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new AgentUnreachable(`no answer from the agent on ${socketPath} within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(`${JSON.stringify({ v: PROTOCOL_VERSION, id, method, params })}\n`));
    sock.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const why =
        err.code === 'ENOENT' || err.code === 'ECONNREFUSED'
          ? 'is the agent running? (systemctl status lbagent)'
          : err.code === 'EACCES'
            ? 'permission denied (run as root or a member of the socket group)'
            : err.message;
      reject(new AgentUnreachable(`cannot reach lbagent at ${socketPath}: ${why}`));
    });
    sock.on('data', (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      sock.end();
      try {
        const res = JSON.parse(buf.slice(0, nl));
        if (res.ok) resolve(res.result);
        else reject(new AgentError(res.error));
      } catch {
        reject(new AgentUnreachable('the agent sent a malformed reply'));
      }
    });
  });
}
