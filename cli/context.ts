// What every lbctl command gets: the socket path, output mode, and a way to call the agent.
export interface CliContext {
  socketPath: string;
  json: boolean;
  /** Calls a control method; throws AgentUnreachable / AgentError (cli/client.ts). */
  call(method: string, params?: Record<string, unknown>, timeoutMs?: number): Promise<unknown>;
  /** Prints a line to stdout. */
  out(text: string): void;
}
