// The imperative shell around Daemon: logger, signals, systemd notifications, exit codes.
import { resolve } from 'node:path';
import { ConfigError, formatIssue } from '../config/load.js';
import { createLogger } from '../log.js';
import { Daemon } from './daemon.js';
import { notifier } from './sdnotify.js';
import { buildSubsystems } from './wiring.js';

export async function runDaemon(opts: { configPath: string; logLevel?: string }): Promise<number> {
  const log = createLogger(opts.logLevel ?? 'info');
  const sd = notifier(log);
  const daemon = new Daemon({
    configPath: resolve(opts.configPath),
    log,
    subsystems: buildSubsystems,
    onReady: (summary) => sd.ready(summary),
    onReloading: () => sd.reloading(),
  });
  try {
    await daemon.start();
    if (opts.logLevel) log.level = opts.logLevel;
  } catch (err) {
    if (err instanceof ConfigError) {
      log.fatal({ errors: err.issues }, `invalid config ${err.source}`);
      for (const i of err.issues) process.stderr.write(`lbagent: ${err.source}: ${formatIssue(i)}\n`);
    } else {
      log.fatal({ err }, 'start failed');
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
      log.info({ signal }, 'shutting down');
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
