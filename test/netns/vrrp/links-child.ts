// Runs inside a test namespace: the VRRP link watcher and address probe, reporting on stdout
// (one JSON line each): {"ready":true}, {"events":[...]} per address datagram, and
// {"probe":[...]} answering "probe IFNAME" lines on stdin.
import { createInterface } from 'node:readline';
import { AddressProbe } from '../../../agent/vrrp/addr-probe.js';
import { LinkWatcher } from '../../../agent/vrrp/links.js';

const say = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);
const watcher = new LinkWatcher((err) => process.stderr.write(`${err.message}\n`));
await watcher.start();
watcher.onAddressChange((events) => say({ events }));
const probe = AddressProbe.open();
createInterface({ input: process.stdin }).on('line', async (line) => {
  const [cmd, name] = line.trim().split(/\s+/);
  if (cmd === 'exit') process.exit(0);
  if (cmd !== 'probe') return;
  await watcher.sync();
  const link = watcher.get(name);
  if (!link) return say({ probe: `no interface ${name}` });
  const r = probe instanceof Error ? probe : probe.list(link.index, 4);
  say({ ifindex: link.index, probe: r instanceof Error ? r.message : [...r].sort() });
});
say({ ready: true });
