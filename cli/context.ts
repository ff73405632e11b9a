// What every lbctl command gets: the socket path, output mode, and a way to call the agent.
// Output contract: results on stdout (with --json: one JSON document and nothing else), progress
// and errors on stderr (with --json an error is {"error": {code, message, exit, details?}}).
export interface CliContext {
  socketPath: string;
  json: boolean;
  /** Calls a control method; throws AgentUnreachable / AgentError (cli/client.ts). */
  call(method: string, params?: Record<string, unknown>, timeoutMs?: number): Promise<unknown>;
  /** Prints a result line to stdout. */
  out(text: string): void;
  /** Prints a progress line to stderr (never mixed into a result on stdout). */
  progress(text: string): void;
  /** Reports a failure on stderr, as text or JSON, and sets the exit code. */
  fail(code: string, message: string, exit: number, details?: unknown): void;
}

/** The one way lbctl prints an error: "lbctl: MESSAGE" or, with --json, a JSON object. */
export function printError(
  json: boolean,
  code: string,
  message: string,
  exit: number,
  details?: unknown,
): void {
  if (json) process.stderr.write(`${JSON.stringify({ error: { code, message, exit, details } })}\n`);
  else {
    process.stderr.write(`lbctl: ${message}\n`);
    // Details that are a list of lines (what a drain still waits for) follow, indented.
    if (Array.isArray(details)) for (const d of details) process.stderr.write(`  ${String(d)}\n`);
  }
  process.exitCode = exit;
}
