// TCP connect check. The socket is reset on close (SO_LINGER 0, like HAProxy's checks) so that
// thousands of checks leave no TIME_WAIT sockets behind on the agent side.
import { connect } from 'node:net';
import { errorReason, type Probe } from './types.js';

export function tcpProbe(address: string, port: number): Probe {
  return (cancel) =>
    new Promise((resolve) => {
      const sock = connect({ host: address, port });
      let done = false;
      const finish = (ok: boolean, reason: string) => {
        if (done) return;
        done = true;
        cancel.clear();
        if (ok) sock.resetAndDestroy();
        else sock.destroy();
        resolve({ ok, reason });
      };
      cancel.onAbort(() => finish(false, 'aborted'));
      sock.once('connect', () => finish(true, 'connected'));
      sock.on('error', (err) => finish(false, errorReason('connect', err)));
      sock.once('close', () => finish(false, 'connection closed'));
    });
}
