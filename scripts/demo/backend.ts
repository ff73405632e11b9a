// A demo HTTP backend: answers every request with its own name, and /healthz with 200 while the
// file named by --down does not exist (so the demo can fail a backend without killing it).
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';

const [name, host, port, downFile] = process.argv.slice(2);
const server = createServer((req, res) => {
  const down = downFile && existsSync(downFile);
  if (req.url === '/healthz') {
    res.writeHead(down ? 503 : 200, { 'content-type': 'text/plain' }).end(down ? 'down\n' : 'ok\n');
    return;
  }
  res.writeHead(200, { 'content-type': 'text/plain', connection: 'close' }).end(`${name}\n`);
});
server.listen(Number(port), host, () => process.stdout.write(`${name} listening on ${host}:${port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
