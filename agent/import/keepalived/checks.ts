// real_server checkers → an lbagent backend check. keepalived's timing maps as:
//   delay_loop → interval, connect_timeout (misc_timeout) → timeout,
//   retry → fall = retry + 1 (keepalived marks a server down after 1 + retry failures),
//   delay_before_retry → fastInterval, rise 1 (one success brings a server back),
//   alpha → initial down (else initial up: keepalived starts every server alive).
// Each checker's defaults are keepalived's: retry 1 (MISC_CHECK 0, DNS_CHECK 3),
// delay_before_retry 1 s (HTTP/SSL 3 s, DNS delay_loop), delay_loop 60 s, connect_timeout 5 s.
import { type Ctx, dur } from './context.js';
import { CHECKERS, URL } from './keywords.js';
import { splitScript } from './lines.js';
import type { Node } from './tree.js';

/** Settings a checker inherits from its real_server, which inherits from its virtual_server. */
export interface CheckDefaults {
  delayLoop?: number;
  connectTimeout?: number;
  retry?: number;
  delayBeforeRetry?: number;
  alpha?: boolean;
  virtualhost?: string;
}

export type CheckOut = Record<string, unknown> & { type: string };

const COMMON_REASONS: Record<string, string> = {
  bindto: 'lbagent checks from the default source address',
  bind_port: 'lbagent checks from an ephemeral port',
  bind_if: 'lbagent checks through the routing table',
  fwmark: 'lbagent does not mark check packets',
  warmup: 'lbagent spreads the first checks over one interval by itself',
  log_all_failures: 'lbagent logs transitions; lbctl health shows the last result of every check',
  http_protocol: 'lbagent checks with HTTP/1.1 and Connection: close',
  fast_recovery: 'lbagent checks its one URL every interval',
};

const UNMAPPED_CHECKERS: Record<string, string> = {
  SMTP_CHECK: 'lbagent has no SMTP check; use an exec check (e.g. a script that speaks SMTP)',
  UDP_CHECK: 'lbagent has no UDP payload check; use a dns check or an exec check',
  PING_CHECK: 'lbagent has no ICMP check; use an exec check running ping',
  BFD_CHECK: 'lbagent has no BFD',
  FILE_CHECK: 'lbagent has no file checker for backends; use an exec check reading the file',
};

/** Converts one checker; undefined (with findings) when lbagent has no such check. */
export function convertChecker(
  ctx: Ctx,
  n: Node,
  inherited: CheckDefaults,
  target: { address: string; port?: number },
): CheckOut | undefined {
  if (UNMAPPED_CHECKERS[n.name]) {
    ctx.findings.unmapped(n, n.name, UNMAPPED_CHECKERS[n.name]);
    return undefined;
  }
  const d: CheckDefaults = { ...inherited };
  const kind = n.name;
  let connectIp: string | undefined;
  let connectPort: number | undefined;
  const http: { path?: string; expect?: string[]; host?: string; body?: string } = {};
  let urls = 0;
  let sni = false;
  const misc: { command?: string[]; timeout?: number; dynamic?: boolean; user?: string } = {};
  const dns: { qtype?: string; query?: string } = {};
  const handlers: Record<string, (x: Node) => void> = {
    connect_ip: (x) => {
      connectIp = ctx.arg(x);
    },
    connect_port: (x) => {
      connectPort = ctx.int(x, 0, 1, 65535);
    },
    connect_timeout: (x) => {
      d.connectTimeout = ctx.timer(x) ?? d.connectTimeout;
    },
    retry: (x) => {
      d.retry = ctx.int(x, 0, 0, 99) ?? d.retry;
    },
    nb_get_retry: (x) => {
      d.retry = ctx.int(x, 0, 0, 99) ?? d.retry;
    },
    delay_before_retry: (x) => {
      d.delayBeforeRetry = ctx.timer(x) ?? d.delayBeforeRetry;
    },
    delay_loop: (x) => {
      d.delayLoop = ctx.timer(x) ?? d.delayLoop;
    },
    alpha: (x) => {
      d.alpha = ctx.bool(x) ?? d.alpha;
    },
    virtualhost: (x) => {
      d.virtualhost = ctx.arg(x);
    },
    enable_sni: () => {
      sni = true;
    },
    url: (u) => {
      urls++;
      if (urls > 1) {
        ctx.findings.unmapped(u, 'url', 'lbagent checks one URL per backend; only the first is kept');
        return;
      }
      ctx.walk(
        u.block,
        'url',
        URL,
        {
          path: (x) => {
            http.path = ctx.arg(x);
          },
          status_code: (x) => {
            http.expect = x.args;
            for (const c of x.args)
              if (!/^[1-5]\d\d(-[1-5]\d\d)?$/.test(c))
                ctx.findings.error(x, 'status_code', `"${c}" is not a code or range`);
          },
          virtualhost: (x) => {
            http.host = ctx.arg(x);
          },
          regex: (x) => {
            http.body = ctx.arg(x);
          },
          digest: (x) => {
            ctx.findings.unmapped(
              x,
              `digest ${x.args[0] ?? ''}`,
              'lbagent matches the body with a regular expression (body:), not an MD5 of it: add `body:` with a pattern of the expected page',
            );
          },
        },
        {
          regex_no_match: 'lbagent fails a check when the body does not match, not when it does',
          regex_options: 'lbagent uses JavaScript regular expressions without options',
          regex_min_offset: 'lbagent matches the whole body',
          regex_max_offset: 'lbagent matches the whole body',
          regex_stack: 'not needed by JavaScript regular expressions',
        },
      );
    },
    misc_path: (x) => {
      const s = ctx.arg(x);
      if (s) misc.command = splitScript(s);
    },
    misc_timeout: (x) => {
      misc.timeout = ctx.timer(x);
    },
    misc_dynamic: () => {
      misc.dynamic = true;
    },
    user: (x) => {
      misc.user = ctx.arg(x);
      if (x.args.length > 1)
        ctx.findings.unmapped(
          x,
          `user ... ${x.args[1]}`,
          "lbagent runs exec checks with the user's own group",
        );
    },
    type: (x) => {
      dns.qtype = ctx.arg(x)?.toUpperCase();
    },
    name: (x) => {
      dns.query = ctx.arg(x);
    },
  };
  ctx.walk(n.block, n.name, CHECKERS[kind], handlers, COMMON_REASONS);

  const defaultRetry = kind === 'MISC_CHECK' ? 0 : kind === 'DNS_CHECK' ? 3 : 1;
  const delayLoop = d.delayLoop ?? 60_000;
  const defaultDbr =
    kind === 'HTTP_GET' || kind === 'SSL_GET' ? 3000 : kind === 'DNS_CHECK' ? delayLoop : 1000;
  const retry = d.retry ?? defaultRetry;
  const timing: Record<string, unknown> = {
    interval: dur(delayLoop),
    rise: 1,
    fall: Math.min(100, retry + 1),
    initial: d.alpha ? 'down' : 'up',
  };
  if (retry > 0) timing.fastInterval = dur(d.delayBeforeRetry ?? defaultDbr);
  const timeout = kind === 'MISC_CHECK' ? (misc.timeout ?? delayLoop) : (d.connectTimeout ?? 5000);
  // lbagent wants a timeout no longer than the interval it runs in; keepalived allows more.
  timing.timeout = dur(Math.min(timeout, delayLoop));
  if (timeout > delayLoop)
    ctx.findings.note(
      n,
      'timeout',
      `${timeout} ms is longer than the ${delayLoop} ms interval; lbagent uses the interval`,
    );
  if (connectIp && connectIp !== target.address) timing.address = connectIp;
  if (connectPort !== undefined && connectPort !== target.port) timing.port = connectPort;

  if (kind === 'TCP_CHECK') return { type: 'tcp', ...timing };
  if (kind === 'HTTP_GET' || kind === 'SSL_GET') {
    if (!urls) ctx.findings.error(n, kind, 'has no url block (keepalived needs one)');
    const out: CheckOut = { type: kind === 'SSL_GET' ? 'https' : 'http', ...timing };
    out.path = http.path ?? '/';
    // keepalived's default is 200-299; lbagent's is 200-399, so it is always written.
    out.expect = (http.expect?.length ? http.expect : ['200-299']).map((c) =>
      /^\d+$/.test(c) ? Number(c) : c,
    );
    const host = http.host ?? d.virtualhost;
    if (host) out.host = host;
    if (http.body) out.body = http.body;
    if (kind === 'SSL_GET') {
      out.insecure = true; // keepalived does not verify the server's certificate
      if (sni && host) out.sni = host;
    }
    return out;
  }
  if (kind === 'MISC_CHECK') {
    if (!misc.command?.length) {
      ctx.findings.error(n, kind, 'has no misc_path');
      return undefined;
    }
    const out: CheckOut = { type: 'exec', ...timing, command: misc.command };
    if (misc.dynamic) out.dynamicWeight = 'exit-code';
    if (misc.user) out.user = misc.user;
    return out;
  }
  if (kind === 'DNS_CHECK') {
    const qtype = dns.qtype ?? 'SOA';
    if (!['A', 'AAAA', 'CNAME', 'MX', 'NS', 'PTR', 'SOA', 'SRV', 'TXT'].includes(qtype)) {
      ctx.findings.error(n, 'type', `"${qtype}" is not a DNS type lbagent or keepalived checks`);
      return undefined;
    }
    return { type: 'dns', ...timing, query: dns.query ?? '.', qtype };
  }
  return undefined;
}
