// systemd notifications (READY=1, RELOADING=1, STOPPING=1, STATUS=, WATCHDOG=1). Placeholder until
// the operations work lands: a no-op outside systemd.
import type { Logger } from 'pino';

export interface Notifier {
  ready(status: string): void;
  reloading(): void;
  stopping(): void;
  status(text: string): void;
  startWatchdog(): void;
  close(): void;
}

export function notifier(_log: Logger): Notifier {
  const noop = () => {};
  return { ready: noop, reloading: noop, stopping: noop, status: noop, startWatchdog: noop, close: noop };
}
