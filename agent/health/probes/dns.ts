// DNS check with node:dns (c-ares): a Resolver per check pointed only at the target server,
// one try, no search list. Answers are compared as text; every expected answer must be present.
import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import { canonicalAddress } from '../../lib/ip.js';
import { errorReason, hostForUrl, type Probe } from './types.js';

export type DnsType = 'A' | 'AAAA' | 'CNAME' | 'MX' | 'NS' | 'PTR' | 'SOA' | 'SRV' | 'TXT';

export interface DnsProbeSpec {
  address: string;
  port: number;
  query: string;
  qtype: DnsType;
  expect?: string[];
}

/** Text forms of one answer set, so operators can write what `dig +short` prints. */
export function answerTexts(qtype: DnsType, answers: unknown): string[] {
  const list = Array.isArray(answers) ? answers : [answers];
  const out: string[] = [];
  for (const a of list) {
    if (typeof a === 'string') out.push(isIP(a) ? canonicalAddress(a) : stripDot(a));
    else if (qtype === 'MX') {
      const mx = a as { priority: number; exchange: string };
      out.push(stripDot(mx.exchange), `${mx.priority} ${stripDot(mx.exchange)}`);
    } else if (qtype === 'SRV') {
      const s = a as { priority: number; weight: number; port: number; name: string };
      out.push(`${s.priority} ${s.weight} ${s.port} ${stripDot(s.name)}`, `${stripDot(s.name)}:${s.port}`);
    } else if (qtype === 'TXT') out.push((a as string[]).join(''));
    else if (qtype === 'SOA') out.push(stripDot((a as { nsname: string }).nsname));
  }
  return out;
}

function stripDot(s: string): string {
  return s.endsWith('.') && s.length > 1 ? s.slice(0, -1).toLowerCase() : s.toLowerCase();
}

function normalise(qtype: DnsType, e: string): string {
  return (qtype === 'A' || qtype === 'AAAA') && isIP(e) ? canonicalAddress(e) : stripDot(e);
}

export function dnsProbe(spec: DnsProbeSpec): Probe {
  const server = `${hostForUrl(spec.address)}:${spec.port}`;
  const expected = (spec.expect ?? []).map((e) => normalise(spec.qtype, e));
  return async (cancel, timeoutMs) => {
    const resolver = new Resolver({ timeout: Math.max(1, timeoutMs), tries: 1 });
    resolver.setServers([server]);
    cancel.onAbort(() => resolver.cancel());
    try {
      const answers = await resolver.resolve(spec.query, spec.qtype);
      const texts = answerTexts(spec.qtype, answers);
      if (texts.length === 0) return { ok: false, reason: `no ${spec.qtype} answer for ${spec.query}` };
      const missing = expected.filter((e) => !texts.includes(e));
      if (missing.length)
        return { ok: false, reason: `answer ${texts.join(',')} lacks ${missing.join(',')}` };
      return { ok: true, reason: `answer ${texts.slice(0, 4).join(',')}` };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ECANCELLED') return { ok: false, reason: 'aborted' };
      return { ok: false, reason: errorReason(`dns ${spec.qtype} ${spec.query}`, err) };
    } finally {
      cancel.clear();
    }
  };
}
