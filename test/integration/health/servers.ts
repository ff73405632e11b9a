// Real servers on loopback for the health tests: TCP, HTTP(S) with a scripted status, and a tiny
// DNS responder (UDP, A records) so DNS checks query a real socket.
import { execFileSync } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttp, type Server as HttpServer, type IncomingMessage } from 'node:http';
import { createServer as createHttps } from 'node:https';
import { type AddressInfo, createServer as createTcp, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function listen<S extends Server | HttpServer>(
  server: S,
  port = 0,
  host = '127.0.0.1',
): Promise<S & { port: number }> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return Object.assign(server, { port: (server.address() as AddressInfo).port });
}

export async function close(server: {
  close(cb: () => void): unknown;
  closeAllConnections?: () => void;
}): Promise<void> {
  server.closeAllConnections?.();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

export function tcpServer(port = 0): Promise<Server & { port: number }> {
  return listen(
    createTcp((s) => s.on('error', () => {}).end()),
    port,
  );
}

export interface Scripted {
  status: number;
  body: string;
  hang: boolean;
  seen: { host?: string; path?: string; servername?: string }[];
}

function handler(state: Scripted) {
  return (req: IncomingMessage, res: import('node:http').ServerResponse) => {
    state.seen.push({
      host: req.headers.host,
      path: req.url,
      servername: (req.socket as import('node:tls').TLSSocket).servername || undefined,
    });
    if (state.hang) return; // never answer: the check must time out and close
    res.writeHead(state.status, { 'content-type': 'text/plain' });
    res.end(state.body);
  };
}

export async function httpServer(state: Scripted): Promise<HttpServer & { port: number }> {
  return listen(createHttp(handler(state)));
}

/** A self-signed certificate for CN/SAN lb.test, made with openssl in a temp dir. */
export function selfSigned(): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'lbt-health-tls-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=lb.test',
        '-addext',
        'subjectAltName=DNS:lb.test',
        '-keyout',
        join(dir, 'k.pem'),
        '-out',
        join(dir, 'c.pem'),
      ],
      { stdio: 'ignore' },
    );
    return { key: readFileSync(join(dir, 'k.pem'), 'utf8'), cert: readFileSync(join(dir, 'c.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function httpsServer(state: Scripted, tls: { key: string; cert: string }) {
  return listen(createHttps(tls, handler(state)) as unknown as HttpServer);
}

/** Minimal authoritative DNS responder: A records from `zone`, NXDOMAIN for other names. */
export async function dnsServer(
  zone: Record<string, string[]>,
): Promise<{ socket: Socket; port: number; queries: number }> {
  const socket = createSocket('udp4');
  const out = { socket, port: 0, queries: 0 };
  socket.on('message', (msg, rinfo) => {
    out.queries++;
    if (msg.length < 12) return;
    // Question: labels from offset 12, then qtype and qclass.
    const labels: string[] = [];
    let o = 12;
    while (o < msg.length && msg[o] !== 0) {
      labels.push(msg.subarray(o + 1, o + 1 + msg[o]).toString('ascii'));
      o += 1 + msg[o];
    }
    const qEnd = o + 5;
    const name = labels.join('.').toLowerCase();
    const qtype = msg.readUInt16BE(o + 1);
    const answers = qtype === 1 ? (zone[name] ?? []) : [];
    const header = Buffer.alloc(12);
    msg.copy(header, 0, 0, 2);
    header.writeUInt16BE(0x8400 | (msg.readUInt16BE(2) & 0x0100) | (zone[name] ? 0 : 3), 2); // QR AA RD, rcode
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    const rrs = answers.map((a) => {
      const rr = Buffer.alloc(16);
      rr.writeUInt16BE(0xc00c, 0); // pointer to the question name
      rr.writeUInt16BE(1, 2);
      rr.writeUInt16BE(1, 4);
      rr.writeUInt32BE(60, 6);
      rr.writeUInt16BE(4, 10);
      Buffer.from(a.split('.').map(Number)).copy(rr, 12);
      return rr;
    });
    socket.send(Buffer.concat([header, msg.subarray(12, qEnd), ...rrs]), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  out.port = socket.address().port;
  return out;
}

/** A TCP server on ::1 that resets every connection, or undefined where this host has no ::1. */
export async function resettingServerV6(): Promise<(Server & { port: number }) | undefined> {
  try {
    return await listen(
      createTcp((s) => s.destroy()),
      0,
      '::1',
    );
  } catch {
    return undefined;
  }
}
