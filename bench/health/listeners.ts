// Bench helper: TCP listeners on 127.0.0.1 ports [from, to). Prints "ready" once all listen.
// Connections are dropped at once (the checkers reset them anyway).
import { createServer } from 'node:net';

const [from, to] = process.argv.slice(2).map(Number);
let pending = to - from;
for (let port = from; port < to; port++) {
  const srv = createServer((s) => {
    s.on('error', () => {});
    s.destroy();
  });
  srv.on('error', (err) => {
    console.error(`listen ${port}: ${err.message}`);
    process.exit(1);
  });
  srv.listen({ port, host: '127.0.0.1', backlog: 512 }, () => {
    if (--pending === 0) console.log('ready');
  });
}
