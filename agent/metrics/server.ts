// Prometheus endpoint: GET /metrics on metrics.listen (127.0.0.1:9475 by default). Values are
// collected at scrape time from the subsystems' own state, so nothing is counted twice.
import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(listen);
  if (!m) throw new Error(`metrics.listen "${listen}" is not HOST:PORT`);
  return { host: m[1] ?? m[2], port: Number(m[3]) };
}

export async function startMetricsServer(
  registry: Registry,
  listen: string,
  log: Logger,
  beforeScrape: () => void = () => {},
): Promise<Server> {
  const { host, port } = parseListen(listen);
  const server = createServer(async (req, res) => {
    if (req.method !== 'GET' || (req.url !== '/metrics' && req.url !== '/')) {
      res.writeHead(404).end('see /metrics\n');
      return;
    }
    try {
      beforeScrape();
      const body = await registry.metrics();
      res.writeHead(200, { 'content-type': registry.contentType }).end(body);
    } catch (err) {
      log.error({ err }, 'metrics collection failed');
      res.writeHead(500).end(`${(err as Error).message}\n`);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  log.info({ listen }, 'metrics listening');
  return server;
}
