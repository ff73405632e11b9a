// The demo's client: a bounded loop of short HTTP requests (new connection each, so each has a
// new source port and is balanced on its own), printing one JSON line of counts per interval.
import { request } from 'node:http';

const [url, rateText, secondsText] = process.argv.slice(2);
const rate = Number(rateText ?? 50); // requests per second
const seconds = Number(secondsText ?? 600); // hard bound on the run
const counts: Record<string, number> = {};
let ok = 0;
let failed = 0;
let lastError = '';

function once(): void {
  const req = request(url, { timeout: 2000, agent: false }, (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (d) => {
      body += d;
    });
    res.on('end', () => {
      const who = body.trim() || `http-${res.statusCode}`;
      if (res.statusCode === 200) {
        ok++;
        counts[who] = (counts[who] ?? 0) + 1;
      } else {
        failed++;
        lastError = `HTTP ${res.statusCode}`;
      }
    });
  });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', (err) => {
    failed++;
    lastError = err.message;
  });
  req.end();
}

const tick = setInterval(once, 1000 / rate);
const report = setInterval(() => {
  process.stdout.write(`${JSON.stringify({ t: Date.now(), ok, failed, counts, lastError })}\n`);
}, 500);
setTimeout(() => {
  clearInterval(tick);
  clearInterval(report);
  process.exit(0);
}, seconds * 1000);
