// The imperative shell around Daemon: logger, signals, systemd notifications, exit codes.
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { ConfigError, formatIssue } from '../config/load.js';
import { SocketPathError } from '../lib/unix-socket.js';
import { createLogger, flushLog } from '../log.js';
import { Daemon } from './daemon.js';
import { InstanceLocked, NamespaceTaken } from './instance-lock.js';
import { notifier } from './sdnotify.js';
import { buildSubsystems } from './wiring.js';

/**
 * A crash is one fatal JSON line with the error (stack inside), not Node's raw trace on stderr,
 * and Node's own warnings become warn lines: everything the agent says is a line journald and
 * jq can read. The process then exits 1 (systemd's Restart=on-failure starts it again).
 */
export function installCrashHandlers(log: Logger, exit: (code: number) => void = process.exit): void {
  let crashed = false;
  const crash = (kind: string) => (err: unknown) => {
    if (crashed) return;
    crashed = true;
    try {
      log.fatal({ event: 'crash', kind, err }, `lbagent crashed: ${(err as Error)?.message ?? String(err)}`);
      flushLog(log);
    } finally {
      exit(1);
    }
  };
  process.on('uncaughtException', crash('uncaughtException'));
  process.on('unhandledRejection', crash('unhandledRejection'));
  // Node prints warnings (TimeoutOverflowWarning, ...) to stderr through its own listener.
  process.removeAllListeners('warning');
  process.on('warning', (w) => log.warn({ event: 'node_warning', name: w.name, err: w }, w.message));
}

export async function runDaemon(opts: { configPath: string; logLevel?: string }): Promise<number> {
  const log = createLogger(opts.logLevel ?? 'info');
  installCrashHandlers(log);
  const sd = notifier(log);
  const daemon = new Daemon({
    configPath: resolve(opts.configPath),
    log,
    subsystems: buildSubsystems,
    onReady: (summary) => sd.ready(summary),
    onStatus: (line) => sd.status(line),
    onReloading: () => sd.reloading(),
  });
  try {
    await daemon.start();
    if (opts.logLevel) log.level = opts.logLevel;
  } catch (err) {
    if (err instanceof ConfigError) {
      log.fatal({ event: 'start_failed', errors: err.issues }, `invalid config ${err.source}`);
      for (const i of err.issues) process.stderr.write(`lbagent: ${err.source}: ${formatIssue(i)}\n`);
    } else if (
      err instanceof InstanceLocked ||
      err instanceof NamespaceTaken ||
      err instanceof SocketPathError
    ) {
      // Nothing was touched: the running agent keeps its sockets and its kernel state.
      log.fatal(
        { event: 'start_refused', holderPid: (err as InstanceLocked | NamespaceTaken).holderPid },
        err.message,
      );
      process.stderr.write(`lbagent: ${err.message}\n`);
    } else {
      log.fatal({ event: 'start_failed', err }, `start failed: ${(err as Error).message}`);
    }
    await daemon.stop().catch(() => {});
    sd.close();
    return 1;
  }
  sd.startWatchdog();

  return await new Promise<number>((resolve) => {
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ event: 'shutdown', signal }, 'shutting down');
      sd.stopping();
      await daemon.stop();
      sd.close();
      resolve(0);
    };
    process.on('SIGTERM', () => void stop('SIGTERM'));
    process.on('SIGINT', () => void stop('SIGINT'));
    // The daemon tells systemd RELOADING=1 / READY=1 around every reload, SIGHUP or lbctl.
    process.on('SIGHUP', () => void daemon.reload());
  });
}
