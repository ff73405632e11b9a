// HTTP/HTTPS GET or HEAD check: expected status codes or ranges, optional body regex, Host header,
// TLS SNI and an option to skip certificate verification. No connection reuse (agent: false):
// every check proves a fresh connection works.

import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import type { ProbeSpec } from '../plan.js';
import { errorReason, hostForUrl, type Probe } from './types.js';

/** The planner's http/https probe spec (agent/health/plan.ts). */
export type HttpProbeSpec = Extract<ProbeSpec, { kind: 'http' | 'https' }>;

/** Bodies are read up to this many bytes for the regex; a check is not a download. */
export const MAX_BODY = 64 * 1024;

/** Compiles ["200-399", 404] into a predicate. Throws on a malformed entry. */
export function statusMatcher(expect: (number | string)[]): (status: number) => boolean {
  const ranges = expect.map((e) => {
    if (typeof e === 'number') return [e, e] as const;
    const m = /^([1-5]\d\d)(?:-([1-5]\d\d))?$/.exec(e);
    if (!m) throw new Error(`"${e}" is not a status code or range`);
    const lo = Number(m[1]);
    const hi = m[2] ? Number(m[2]) : lo;
    if (hi < lo) throw new Error(`status range "${e}" is reversed`);
    return [lo, hi] as const;
  });
  return (s) => ranges.some(([lo, hi]) => s >= lo && s <= hi);
}

export function httpProbe(spec: HttpProbeSpec): Probe {
  const matches = statusMatcher(spec.expect);
  const bodyRe = spec.body !== undefined ? new RegExp(spec.body) : undefined;
  const defaultPort = spec.kind === 'https' ? 443 : 80;
  const hostHeader =
    spec.host ??
    (spec.port === defaultPort ? hostForUrl(spec.address) : `${hostForUrl(spec.address)}:${spec.port}`);
  const request = spec.kind === 'https' ? httpsRequest : httpRequest;
  // SNI must be a hostname; without one given, send the Host header's name when it is not an address.
  const hostName = hostHeader.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  const servername = spec.sni ?? (isIP(hostName) ? undefined : hostName);
  return (cancel) =>
    new Promise((resolve) => {
      let done = false;
      const finish = (ok: boolean, reason: string) => {
        if (done) return;
        done = true;
        req.destroy();
        resolve({ ok, reason });
      };
      const req = request({
        host: spec.address,
        port: spec.port,
        path: spec.path,
        method: spec.method,
        headers: { Host: hostHeader, 'User-Agent': 'lbagent-health', Connection: 'close' },
        agent: false,
        ...(spec.kind === 'https' ? { servername, rejectUnauthorized: !spec.insecure } : {}),
      });
      req.on('error', (err) => finish(false, errorReason('http', err)));
      cancel.onAbort(() => finish(false, 'aborted'));
      req.once('response', (res) => {
        const status = res.statusCode ?? 0;
        if (!matches(status)) {
          res.resume();
          finish(false, `status ${status}`);
          return;
        }
        if (!bodyRe || spec.method === 'HEAD') {
          res.resume();
          finish(true, `status ${status}`);
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        const judge = () => {
          const text = Buffer.concat(chunks).toString('utf8');
          finish(
            bodyRe.test(text),
            bodyRe.test(text)
              ? `status ${status}, body matches`
              : `status ${status}, body does not match /${spec.body}/`,
          );
        };
        res.on('data', (c: Buffer) => {
          chunks.push(c);
          size += c.length;
          if (size >= MAX_BODY) judge();
        });
        res.once('end', judge);
        res.on('error', (err) => finish(false, errorReason('http body', err)));
      });
      req.end();
    });
}
