// Micro-bench: CPU per TCP connect check for the ways Node can do one, at a fixed rate against
// listeners in a namespace the bench creates. Every method is driven by the same 10 ms tick (the
// checks due in that tick start together); CPU is this process's utime+stime (process.cpuUsage).
//   node dist/bench/health/connect-micro.js [--rate 4000] [--seconds 10] [--methods net,tcpwrap,epoll-slow,epoll-fast-noreuse,epoll]
// Needs root (namespace). Only touches the namespace it creates.
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createNetns, destroyNetns, siblingScript, stopChild, uniq } from '../../test/lib/netns.js';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
};
const RATE = Number(arg('rate', '4000'));
const SECONDS = Number(arg('seconds', '10'));
const METHODS = arg('methods', 'net,tcpwrap,epoll-slow,epoll-fast-noreuse,epoll').split(',');
const PORTS = Number(arg('ports', '2000'));
const BASE = 20_000;
const TICK = 10;

type Done = (ok: boolean) => void;
type Starter = (port: number, done: Done) => void;

function netStarter(): { start: Starter; poll?: () => void } {
  return {
    start(port, done) {
      const s = connect({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.resetAndDestroy();
        done(true);
      });
      s.on('error', () => done(false));
    },
  };
}

// Node's own libuv TCP handle without net.Socket (measured in bench/health/connect-micro.ts).
interface TcpHandle {
  connect(req: object, address: string, port: number): number;
  connect6(req: object, address: string, port: number): number;
  reset(cb: () => void): number;
  close(cb?: () => void): void;
}
interface TcpWrapBinding {
  TCP: new (type: number) => TcpHandle;
  TCPConnectWrap: new () => { oncomplete?: (status: number) => void; done?: (ok: boolean) => void };
  constants: { SOCKET: number };
}

function rawTcp(): { connect(address: string, port: number, done: (ok: boolean) => void): void } | undefined {
  let b: TcpWrapBinding;
  try {
    b = (process as unknown as { binding(n: string): TcpWrapBinding }).binding('tcp_wrap');
  } catch {
    return undefined;
  }
  function oncomplete(this: { done?: (ok: boolean) => void; handle?: TcpHandle }, status: number) {
    const h = this.handle!;
    if (status === 0) h.reset(() => {});
    else h.close();
    this.done?.(status === 0);
  }
  return {
    connect(address, port, done) {
      const h = new b.TCP(b.constants.SOCKET);
      const req = new b.TCPConnectWrap() as { oncomplete?: unknown; done?: unknown; handle?: unknown };
      req.oncomplete = oncomplete;
      req.done = done;
      req.handle = h;
      const err = h.connect(req, address, port);
      if (err) {
        h.close();
        done(false);
      }
    },
  };
}

async function tcpWrapStarter(): Promise<{ start: Starter; poll?: () => void }> {
  const raw = rawTcp();
  if (!raw) throw new Error('tcp_wrap binding missing');
  return {
    start(port, done) {
      raw.connect('127.0.0.1', port, done);
    },
  };
}

// `epoll`: the fast path (connects finished inside connect() are reported by start()) with the
// loopback socket reused (connect AF_UNSPEC; TCP_DEFER_ACCEPT set once instead of TCP_QUICKACK 0
// per connect); `epoll-fast-noreuse`: fast path, a new socket per connect; `epoll-slow`: every
// connect through the epoll set (the prober before 2026-12-07).
async function epollStarter(
  fastPath: boolean,
  reuse: boolean,
): Promise<{ start: Starter; poll?: () => void }> {
  const { EpollConnector, sockaddr, START_CONNECTED } = await import('../../agent/health/probes/epoll.js');
  const c = EpollConnector.open<Done>({ fastPath, reuse });
  if (!c) throw new Error('koffi/epoll not available');
  const addrs = Array.from({ length: PORTS }, (_, i) => sockaddr('127.0.0.1', BASE + i));
  const finished = (done: Done, errno: number) => done(errno === 0);
  return {
    start(port, done) {
      const fd = c.start(addrs[port - BASE], done);
      if (fd < 0) done(fd === START_CONNECTED);
    },
    poll() {
      c.poll(finished);
    },
  };
}

async function runMethod(method: string): Promise<void> {
  const m =
    method === 'net'
      ? netStarter()
      : method === 'tcpwrap'
        ? await tcpWrapStarter()
        : await epollStarter(method !== 'epoll-slow', method === 'epoll');
  const perTick = (RATE * TICK) / 1000;
  let ok = 0;
  let failed = 0;
  let n = 0;
  const done: Done = (good) => {
    if (good) ok++;
    else failed++;
  };
  // warm-up 1 s, then measure
  const tickOnce = () => {
    m.poll?.();
    for (let i = 0; i < perTick; i++) m.start(BASE + (n++ % PORTS), done);
    m.poll?.();
  };
  const until = (ms: number) =>
    new Promise<void>((resolve) => {
      const end = performance.now() + ms;
      const t = setInterval(() => {
        tickOnce();
        if (performance.now() >= end) {
          clearInterval(t);
          resolve();
        }
      }, TICK);
    });
  await until(1000);
  const c0 = process.cpuUsage();
  const n0 = ok + failed;
  const w0 = performance.now();
  await until(SECONDS * 1000);
  await new Promise((r) => setTimeout(r, 50));
  m.poll?.();
  const c = process.cpuUsage(c0);
  const wall = (performance.now() - w0) / 1000;
  const checks = ok + failed - n0;
  const us = c.user + c.system;
  console.log(
    JSON.stringify({
      method,
      checks,
      failed,
      cpuPct: +((us / 1e4 / wall) * 1).toFixed(1),
      usPerCheck: +(us / checks).toFixed(1),
      userUs: +(c.user / checks).toFixed(1),
      sysUs: +(c.system / checks).toFixed(1),
    }),
  );
}

async function inner() {
  for (const m of METHODS) await runMethod(m);
}

async function outer() {
  const _here = dirname(fileURLToPath(import.meta.url));
  const node = (s: string, ...a: string[]) => siblingScript(import.meta.url, s, ...a);
  const [ns] = createNetns(`lbt-hmicro-${uniq()}`);
  const kids = [];
  try {
    const l = ns.spawn(node('listeners', String(BASE), String(BASE + PORTS)));
    kids.push(l);
    for await (const line of createInterface({ input: l.stdout! })) if (line === 'ready') break;
    const argv = process.argv.slice(2).filter((a) => a !== '--outer');
    const c = ns.spawn(node('connect-micro', '--inner', ...argv));
    kids.push(c);
    c.stderr?.on('data', (d) => process.stderr.write(d));
    for await (const line of createInterface({ input: c.stdout! })) console.log(line);
  } finally {
    for (const k of kids) await stopChild(k, 'SIGTERM', 1000);
    destroyNetns(ns);
  }
}

if (process.argv.includes('--inner')) await inner();
else await outer();
