// The control protocol between lbctl and the agent: one JSON object per line over a unix
// socket. Versioned so an older lbctl talking to a newer agent gets a clear error, not garbage.
export const PROTOCOL_VERSION = 1;
export const MAX_LINE_BYTES = 1 << 20;
/** The levels the `log.level` method (lbctl log-level) accepts: pino's. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

export interface ControlRequest {
  v: number;
  id: number;
  method: string;
  params?: Record<string, unknown>;
}

export interface ControlError {
  code: 'bad_request' | 'unknown_method' | 'version' | 'failed' | 'invalid_params' | 'busy';
  message: string;
  details?: unknown;
}

export type ControlResponse =
  | { v: number; id: number; ok: true; result: unknown }
  | { v: number; id: number; ok: false; error: ControlError };

/** Parses one request line; returns an error response text reason on failure. */
export function parseRequest(line: string): ControlRequest | ControlError {
  let msg: unknown;
  try {
    msg = JSON.parse(line);
  } catch {
    return { code: 'bad_request', message: 'request is not valid JSON' };
  }
  if (typeof msg !== 'object' || msg === null)
    return { code: 'bad_request', message: 'request must be an object' };
  const m = msg as Partial<ControlRequest>;
  if (m.v !== PROTOCOL_VERSION) {
    return {
      code: 'version',
      message: `protocol version ${String(m.v)} not supported (agent speaks ${PROTOCOL_VERSION})`,
    };
  }
  if (typeof m.id !== 'number' || typeof m.method !== 'string') {
    return { code: 'bad_request', message: 'request needs a numeric id and a method' };
  }
  if (m.params !== undefined && (typeof m.params !== 'object' || m.params === null)) {
    return { code: 'bad_request', message: 'params must be an object' };
  }
  return { v: m.v, id: m.id, method: m.method, params: m.params };
}
