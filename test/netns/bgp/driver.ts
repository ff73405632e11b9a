// Agent-side driver for the BGP/drain namespace tests: the lead's Daemon (control socket, reload,
// status, signals) with the drain and bgp subsystems wired the way agent/daemon/wiring.ts should
// wire them, plus a tiny TCP check subsystem that publishes `check:<name>` (rise/fall 2, 200 ms)
// standing in for the health subsystem.
//   node dist/test/netns/bgp/driver.js --config FILE [--check NAME=ADDR:PORT]
import { connect } from 'node:net';
import { BgpSubsystem } from '../../../agent/bgp/index.js';
import type { Config } from '../../../agent/config/schema.js';
import { Daemon } from '../../../agent/daemon/daemon.js';
import { factKey } from '../../../agent/daemon/facts.js';
import type { Subsystem, SubsystemContext } from '../../../agent/daemon/subsystem.js';
import { DrainSubsystem } from '../../../agent/drain/index.js';
import { createLogger } from '../../../agent/log.js';

class TcpCheckStandIn implements Subsystem {
  readonly name = 'tcp-check-stand-in';
  private timer?: NodeJS.Timeout;
  private ok = 0;
  private bad = 0;
  constructor(
    private ctx: SubsystemContext,
    private check: string,
    private host: string,
    private port: number,
  ) {}
  async start(_cfg: Config): Promise<void> {
    const probe = () =>
      new Promise<boolean>((resolve) => {
        const s = connect({ host: this.host, port: this.port, timeout: 300 });
        s.once('connect', () => {
          s.destroy();
          resolve(true);
        });
        s.once('error', () => resolve(false));
        s.once('timeout', () => {
          s.destroy();
          resolve(false);
        });
      });
    const tick = async () => {
      const up = await probe();
      if (up) {
        this.ok++;
        this.bad = 0;
      } else {
        this.bad++;
        this.ok = 0;
      }
      const key = factKey.check(this.check);
      const cur = this.ctx.facts.get(key);
      if (up && this.ok >= 2 && cur?.up !== true) this.ctx.facts.set(key, { up: true });
      if (!up && this.bad >= 2 && cur?.up !== false)
        this.ctx.facts.set(key, { up: false, reason: 'tcp connect failed' });
      this.timer = setTimeout(tick, 200);
    };
    void tick();
  }
  async reload(): Promise<void> {}
  async stop(): Promise<void> {
    clearTimeout(this.timer);
  }
  status(): unknown {
    return { check: this.check, up: this.ok >= 2 };
  }
}

const args = process.argv.slice(2);
const configPath = args[args.indexOf('--config') + 1];
const checkArg = args.includes('--check') ? args[args.indexOf('--check') + 1] : undefined;
const log = createLogger('info', { pretty: false });

const daemon = new Daemon({
  configPath,
  log,
  subsystems: (ctx) => {
    const drain = new DrainSubsystem(ctx);
    const bgp = new BgpSubsystem(ctx);
    drain.setSources({ bgp: () => bgp.drainView() });
    const list: Subsystem[] = [drain];
    if (checkArg) {
      const [name, target] = checkArg.split('=');
      const i = target.lastIndexOf(':');
      list.push(new TcpCheckStandIn(ctx, name, target.slice(0, i), Number(target.slice(i + 1))));
    }
    list.push(bgp);
    return list;
  },
});
await daemon.start();
process.stderr.write('driver ready\n');
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await daemon.stop();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
process.on('SIGHUP', () => void daemon.reload());
