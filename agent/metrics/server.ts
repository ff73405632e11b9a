// Prometheus endpoint: GET /metrics on metrics.listen (127.0.0.1:9475 by default). Values are
// collected at scrape time from the subsystems' own state, so nothing is counted twice.
// A client that opens a connection and sends half a request is cut off after a few seconds
// (headersTimeout/requestTimeout), idle keep-alive connections after a few more, and closing the
// server (SIGTERM, a reload that moves metrics.listen) drops every open connection at once: a
// held request can neither keep the agent from stopping nor stall a reload.
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
  const server = createServer(
    {
      headersTimeout: METRICS_HEADERS_TIMEOUT_MS,
      requestTimeout: METRICS_REQUEST_TIMEOUT_MS,
      keepAliveTimeout: METRICS_KEEPALIVE_TIMEOUT_MS,
      // How often Node looks for requests past those timeouts (default 30 s).
      connectionsCheckingInterval: 1000,
      maxHeaderSize: 16 * 1024,
    },
    async (req, res) => {
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
    },
  );
  server.maxHeadersCount = 64;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  log.info({ listen }, 'metrics listening');
  return server;
}

/** A scraper sends a small GET at once; 5 s is generous even for a loaded Prometheus. */
export const METRICS_HEADERS_TIMEOUT_MS = 5000;
export const METRICS_REQUEST_TIMEOUT_MS = 10_000;
export const METRICS_KEEPALIVE_TIMEOUT_MS = 15_000;

/** Stops listening and closes every connection, held or idle, without waiting for them. */
export function closeMetricsServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
