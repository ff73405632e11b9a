// The config schema: one YAML file describes one LB host. Every object is strict (unknown keys
// are errors, so typos never pass silently); durations are strings and come out as milliseconds;
// addresses are validated and canonicalised. Cross-field rules live in ./validate.ts.
import { z } from 'zod';
import { familyOf, parsePrefix } from '../lib/ip.js';
import { parseDuration } from './duration.js';

// ---------- scalar building blocks ----------

export const duration = z
  .string()
  .describe('duration such as "250ms", "1s", "1m30s"')
  .transform((s, ctx) => {
    const ms = parseDuration(s);
    if (ms === null) {
      ctx.addIssue({ code: 'custom', message: `"${s}" is not a duration (use e.g. 250ms, 1s, 2m)` });
      return z.NEVER;
    }
    return ms;
  });

export const ipAddress = z
  .string()
  .describe('IPv4 or IPv6 address')
  .refine((s) => familyOf(s) !== 0, { message: 'is not an IPv4 or IPv6 address' });

export const ipv4Address = z
  .string()
  .describe('IPv4 address')
  .refine((s) => familyOf(s) === 4, { message: 'is not an IPv4 address' });

/** A prefix in CIDR form; a bare address means a host prefix (/32 or /128). */
export const prefix = z
  .string()
  .describe('IPv4 or IPv6 prefix, e.g. 192.0.2.0/24 or 2001:db8::/64')
  .superRefine((s, ctx) => {
    const p = parsePrefix(s);
    if (typeof p === 'string') ctx.addIssue({ code: 'custom', message: p });
  });

/** An interface address with its prefix length (host bits allowed), e.g. 192.0.2.100/24. */
export const ifAddress = z
  .string()
  .describe('address with optional prefix length, e.g. 192.0.2.100/24')
  .superRefine((s, ctx) => {
    const p = parsePrefix(s, { allowHostBits: true });
    if (typeof p === 'string') ctx.addIssue({ code: 'custom', message: p });
  });

export const ifName = z
  .string()
  .regex(/^[A-Za-z0-9_.:@-]{1,15}$/, 'is not an interface name (1-15 characters)');

export const port = z.number().int().min(1).max(65535);
export const name = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 characters of A-Z a-z 0-9 _ . -');
export const argv = z.array(z.string().min(1)).min(1).describe('command as an argument array (no shell)');

// ---------- health checks ----------

const checkTiming = {
  interval: duration.prefault('2s'),
  timeout: duration.prefault('1s'),
  rise: z.number().int().min(1).max(100).default(2),
  fall: z.number().int().min(1).max(100).default(3),
  fastInterval: duration
    .optional()
    .describe('Interval used while a check is rising or falling (between first change and rise/fall).'),
  initial: z.enum(['down', 'up']).default('down').describe('State before the first rise/fall completes.'),
  address: ipAddress
    .optional()
    .describe("Check another address/port than the backend's (e.g. a health port)."),
  port: port.optional(),
  damping: z
    .strictObject({
      halfLife: duration.prefault('30s'),
      penalty: z.number().int().min(1).default(1000),
      suppress: z.number().int().min(1).default(2000),
      reuse: z.number().int().min(1).default(750),
      max: z.number().int().min(1).default(8000),
    })
    .optional()
    .describe('Flap damping on top of rise/fall (BGP-style penalty with half-life).'),
};

const statusRange = z.union([
  z.number().int().min(100).max(599),
  z.string().regex(/^[1-5]\d\d(-[1-5]\d\d)?$/, 'must be a status code or a range like "200-399"'),
]);

export const tcpCheck = z.strictObject({ type: z.literal('tcp'), ...checkTiming });

export const httpCheck = z.strictObject({
  type: z.enum(['http', 'https']),
  ...checkTiming,
  path: z.string().startsWith('/').default('/'),
  method: z.enum(['GET', 'HEAD']).default('GET'),
  host: z.string().optional(),
  expect: z.array(statusRange).min(1).default(['200-399']),
  body: z.string().optional().describe('regular expression the body must match'),
  sni: z.string().optional(),
  insecure: z.boolean().default(false).describe('skip TLS certificate verification'),
});

export const dnsCheck = z.strictObject({
  type: z.literal('dns'),
  ...checkTiming,
  query: z.string().min(1),
  qtype: z.enum(['A', 'AAAA', 'CNAME', 'MX', 'NS', 'PTR', 'SOA', 'SRV', 'TXT']).default('A'),
  expect: z.array(z.string()).optional().describe('answers that must all be present'),
});

export const execCheck = z.strictObject({
  type: z.literal('exec'),
  ...checkTiming,
  command: argv,
  dynamicWeight: z
    .enum(['none', 'exit-code', 'stdout'])
    .default('none')
    .describe(
      'keepalived misc_dynamic: weight from the exit code (2..255 → code-2) or the first stdout line.',
    ),
  env: z.record(z.string(), z.string()).optional(),
  user: z.string().optional(),
});

export const check = z.discriminatedUnion('type', [tcpCheck, httpCheck, dnsCheck, execCheck]);
export type CheckConfig = z.output<typeof check>;

/** A check given inline or by the name of an entry in `checks:`. */
export const checkRef = z.union([name, check]);

// Local checks for the whole LB host (seed: comprehensive health check).
const hostTiming = {
  interval: duration.prefault('5s'),
  rise: z.number().int().min(1).max(100).default(2),
  fall: z.number().int().min(1).max(100).default(3),
};
export const hostCheck = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('disk'),
    ...hostTiming,
    path: z.string().startsWith('/').default('/'),
    minFreePercent: z.number().min(0).max(100).default(5),
  }),
  z.strictObject({
    type: z.literal('memory'),
    ...hostTiming,
    minAvailablePercent: z.number().min(0).max(100).default(5),
  }),
  z.strictObject({
    type: z.literal('load'),
    ...hostTiming,
    maxPerCpu: z
      .number()
      .min(0)
      .default(4)
      .describe('Maximum 1-minute load average divided by the number of CPUs.'),
  }),
  z.strictObject({ type: z.literal('check'), name: name.describe('a check from `checks:`') }),
  z.strictObject({ type: z.literal('file'), ...hostTiming, path: z.string().startsWith('/') }),
]);

// ---------- kernel: VIPs and routes ----------

export const vip = z.strictObject({
  address: ifAddress.describe('VIP, host prefix by default (/32, /128)'),
  interface: ifName.default('lo'),
  arpTune: z
    .array(ifName)
    .optional()
    .describe(
      'For DSR: set arp_ignore=1/arp_announce=2 on these interfaces so they never answer for the VIP.',
    ),
  followAnnouncement: z
    .boolean()
    .default(false)
    .describe('Withdraw the VIP from the interface when its BGP announcement is withdrawn.'),
});

export const nexthop = z.strictObject({
  via: ipAddress,
  dev: ifName.optional(),
  weight: z.number().int().min(1).max(256).default(1),
  check: checkRef.optional().describe('take this nexthop out while the check is down'),
});

export const route = z.strictObject({
  prefix,
  nexthops: z.array(nexthop).min(1),
  table: z.number().int().min(1).max(0xfffffffe).default(254),
  metric: z.number().int().min(0).optional(),
  resilient: z
    .strictObject({
      buckets: z.number().int().min(1).max(65535).default(128),
      idleTimer: duration.prefault('120s'),
      unbalancedTimer: duration.prefault('0s'),
    })
    .optional()
    .describe('Resilient nexthop group (kernel 5.13+): buckets do not move when a nexthop leaves.'),
});

// ---------- IPVS ----------

export const forwarding = z.enum(['nat', 'dr', 'tun']);
export const tunnel = z.strictObject({
  type: z.enum(['ipip', 'gue', 'gre']).default('ipip'),
  port: port.optional().describe('GUE destination port'),
  checksum: z.enum(['none', 'csum', 'remcsum']).default('none'),
});

export const backend = z.strictObject({
  address: ipAddress,
  port: port.optional().describe('defaults to the service port'),
  weight: z.number().int().min(0).max(65535).default(1),
  forwarding: forwarding.optional(),
  tunnel: tunnel.optional(),
  upperThreshold: z.number().int().min(0).default(0),
  lowerThreshold: z.number().int().min(0).default(0),
  check: checkRef.optional(),
});

export const ipvsService = z.strictObject({
  name,
  vip: ipAddress.optional(),
  port: port.optional(),
  protocol: z.enum(['tcp', 'udp', 'sctp']).default('tcp'),
  fwmark: z.number().int().min(1).max(0xffffffff).optional(),
  family: z
    .union([z.literal(4), z.literal(6)])
    .optional()
    .describe('address family (fwmark services)'),
  scheduler: z
    .enum(['mh', 'rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq', 'fo', 'ovf', 'twos'])
    .default('mh'),
  mhPort: z.boolean().default(false).describe('mh: hash the source port too (IP_VS_SVC_F_SCHED2).'),
  mhFallback: z
    .boolean()
    .optional()
    .describe(
      'mh: send a flow whose hashed backend has weight 0 (down, drained) to the next one (IP_VS_SVC_F_SCHED1); default true with mh, since without it such flows are dropped',
    ),
  persistence: z
    .strictObject({
      timeout: duration.prefault('300s'),
      netmask: z.union([ipv4Address, z.number().int().min(0).max(128)]).optional(),
      engine: z.enum(['sip']).optional(),
    })
    .optional(),
  onePacket: z.boolean().default(false),
  forwarding: forwarding.default('dr'),
  tunnel: tunnel.optional(),
  onDown: z
    .enum(['weight0', 'remove'])
    .default('weight0')
    .describe(
      'What an unhealthy or drained backend becomes: weight 0 keeps connections (keepalived inhibit).',
    ),
  slowStart: duration
    .prefault('0s')
    .describe("Ramp a backend's weight from 0 to its configured weight over this time after it comes back."),
  quorum: z
    .number()
    .int()
    .min(0)
    .default(1)
    .describe(
      'Service is up while at least this many backends are healthy, down below that (no hysteresis: rise/fall steady each backend).',
    ),
  quorumWeight: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe(
      "keepalived-style quorum: service is up while the healthy backends' weights sum to at least this (in addition to `quorum`).",
    ),
  quorumHysteresis: z
    .number()
    .int()
    .min(0)
    .default(0)
    .describe(
      'quorumWeight tolerance (keepalived `hysteresis`): an up service goes down below quorumWeight - hysteresis, one that went down comes back at quorumWeight + hysteresis (at most all backends’ weight); a fresh start is judged on quorumWeight.',
    ),
  check: checkRef.optional().describe('default check for backends without their own'),
  backends: z.array(backend).default([]),
});

// ---------- VRRP ----------

const trackWeight = z.union([z.number().int().min(-254).max(254), z.literal('fault')]);

export const vrrpInstance = z.strictObject({
  name,
  interface: ifName,
  vrid: z.number().int().min(1).max(255),
  version: z.union([z.literal(2), z.literal(3)]).default(2),
  priority: z.number().int().min(1).max(255).default(100),
  advertInterval: duration.prefault('1s'),
  preempt: z.boolean().default(true),
  preemptDelay: duration.prefault('0s'),
  auth: z.strictObject({ type: z.literal('pass'), password: z.string().min(1).max(8) }).optional(),
  vips: z.array(ifAddress).min(1),
  vipInterface: ifName.optional().describe('interface for the VIPs, defaults to `interface`'),
  unicast: z.strictObject({ source: ipAddress.optional(), peers: z.array(ipAddress).min(1) }).optional(),
  garp: z
    .strictObject({
      count: z.number().int().min(0).max(100).default(5),
      repeatDelay: duration.prefault('5s').describe('delay before the second burst'),
      repeatCount: z.number().int().min(0).max(100).default(5),
      refresh: duration.optional().describe('periodic gratuitous ARP while master'),
    })
    .prefault({}),
  useVmac: z.boolean().default(false),
  checksumAsV2: z
    .boolean()
    .default(false)
    .describe('keepalived v3_checksum_as_v2: v3 IPv4 checksum without the pseudo-header.'),
  track: z
    .strictObject({
      files: z
        .array(z.strictObject({ path: z.string().startsWith('/'), weight: z.number().int().default(1) }))
        .default([]),
      interfaces: z.array(z.strictObject({ name: ifName, weight: trackWeight.default('fault') })).default([]),
      services: z.array(z.strictObject({ name, weight: trackWeight.default('fault') })).default([]),
      host: trackWeight.optional().describe('weight applied while the host checks are down'),
      drain: trackWeight.default(-254).describe('weight applied while the host is drained'),
      scripts: z
        .array(
          z.strictObject({
            command: argv,
            interval: duration.prefault('2s'),
            timeout: duration.prefault('2s'),
            rise: z.number().int().min(1).default(1),
            fall: z.number().int().min(1).default(1),
            weight: trackWeight.default('fault'),
          }),
        )
        .default([]),
    })
    .prefault({}),
  notify: z
    .strictObject({
      master: argv.optional(),
      backup: argv.optional(),
      fault: argv.optional(),
      stop: argv.optional(),
      any: argv.optional().describe('called with instance, state, priority appended'),
    })
    .optional(),
});

// ---------- BGP ----------

const bgpAttributes = z.strictObject({
  med: z.number().int().min(0).max(0xffffffff).optional(),
  localPreference: z.number().int().min(0).max(0xffffffff).optional(),
  communities: z.array(z.string().regex(/^\d+:\d+$|^[a-z-]+$/, 'is not a community (ASN:VALUE)')).optional(),
  largeCommunities: z.array(z.string().regex(/^\d+:\d+:\d+$/, 'is not a large community (A:B:C)')).optional(),
  extendedCommunities: z.array(z.string().min(1)).optional(),
  asPath: z.array(z.number().int().min(1).max(0xffffffff)).optional(),
  withdraw: z.boolean().optional(),
});

export const announcement = z.strictObject({
  prefix,
  nextHop: z.union([z.literal('self'), ipAddress]).default('self'),
  services: z
    .array(name)
    .default([])
    .describe('Services (IPVS names or health-checked endpoints) whose quorum makes this prefix "up".'),
  checks: z
    .array(name)
    .default([])
    .describe('Checks (by name) that must be up for this prefix (ExaBGP healthcheck style).'),
  med: z
    .strictObject({
      up: z.number().int().min(0).default(100),
      down: z.number().int().min(0).default(1000),
      disabled: z.number().int().min(0).default(500),
    })
    .prefault({}),
  withdrawOnDown: z.boolean().default(false),
  withdrawOnDisabled: z.boolean().default(false),
  attributes: bgpAttributes.optional().describe('attributes in every state'),
  up: bgpAttributes.optional(),
  down: bgpAttributes.optional(),
  disabled: bgpAttributes.optional(),
  pathId: z.number().int().min(0).max(0xffffffff).optional(),
  neighbors: z.array(ipAddress).optional().describe('announce only to these neighbors'),
});

export const bgp = z.strictObject({
  announcements: z.array(announcement).default([]),
  dynamicMed: z
    .strictObject({
      metric: z.enum(['cpu', 'connections']).default('cpu'),
      step: z.number().int().min(1).default(10),
      hysteresis: z.number().min(0).default(5),
      overload: z.number().min(0).optional(),
      interval: duration.prefault('5s'),
    })
    .optional()
    .describe('MED grows with load, with hysteresis; withdraw above the overload threshold.'),
  stopGrace: duration
    .prefault('10s')
    .describe(
      'when the agent stops or dies, the ExaBGP bridge keeps announcing this long (a restart is hitless), then withdraws; 0s withdraws at once',
    ),
});

// ---------- top level ----------

export const maintenance = z.strictObject({
  disableFile: z.string().startsWith('/').default('/etc/lb/disable'),
  readyFile: z.string().startsWith('/').optional().describe('announce nothing until this file exists'),
  drainTimeout: duration.prefault('60s'),
  pollInterval: duration.prefault('5s').describe('fallback poll when inotify misses an event'),
  peers: z
    .array(
      z
        .string()
        .url()
        .regex(/^https?:\/\//, 'must be an http(s) URL'),
    )
    .default([])
    .describe(
      "the other LB hosts' metrics URLs (http://lb2:9100/metrics): `lbctl drain` without --force refuses when no peer in service would carry this host's prefixes or VRRP mastership",
    ),
});

export const configSchema = z.strictObject({
  node: z
    .strictObject({
      name: z
        .string()
        .min(1)
        .optional()
        .describe('name shown in status, logs and metrics; defaults to the hostname'),
      routerId: ipv4Address.optional().describe('BGP router id hint for ExaBGP configs'),
    })
    .prefault({})
    .describe('Identity of this LB host.'),
  log: z
    .strictObject({
      level: z
        .enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal'])
        .default('info')
        .describe('also changeable at runtime: lbctl log-level LEVEL'),
    })
    .prefault({})
    .describe('Structured JSON logs (pino) to stdout; journald keeps them.'),
  control: z
    .strictObject({
      socket: z
        .string()
        .refine((p) => p.startsWith('/'), 'must be an absolute path')
        // The path decides what the agent may unlink at start (a dead socket only) and where
        // the instance lock lives: one spelling per file, no "/a/b/../victim" detours.
        .refine(
          (p) =>
            !p
              .split('/')
              .some((seg, i, all) => seg === '.' || seg === '..' || (seg === '' && i > 0 && i < all.length)),
          'must be a normalized path (no ".", ".." or empty segments, no trailing "/")',
        )
        .refine((p) => Buffer.byteLength(p) <= 107, 'is longer than a unix socket path may be (107 bytes)')
        .default('/run/lbagent/lbagent.sock')
        .describe(
          'unix socket lbctl talks to; its directory holds the instance lock and the ExaBGP bridge socket',
        ),
      mode: z
        .string()
        .regex(/^0?[0-7]{3}$/, 'must be an octal mode like "0660"')
        .default('0660')
        .describe('socket file mode'),
      group: z
        .string()
        .optional()
        .describe(
          'group owning the socket (members may run lbctl); a name is looked up through NSS (LDAP, SSSD)',
        ),
    })
    .prefault({})
    .describe('The control socket used by lbctl.'),
  metrics: z
    .strictObject({
      enabled: z.boolean().default(true),
      listen: z
        .string()
        .default('127.0.0.1:9475')
        .describe('HOST:PORT of the Prometheus endpoint (/metrics)'),
    })
    .prefault({})
    .describe('Prometheus metrics, namespace lbagent_.'),
  kernel: z
    .strictObject({
      routeProtocol: z
        .number()
        .int()
        .min(5)
        .max(255)
        .default(199)
        .describe('route/nexthop/address protocol id that marks what the agent owns'),
      resyncInterval: duration
        .prefault('30s')
        .describe('full resync with the kernel as a fallback to netlink events'),
      removeOnStop: z
        .boolean()
        .default(false)
        .describe('remove owned kernel state on stop (default: keep, hitless restart)'),
    })
    .prefault({})
    .describe('How the agent owns and reconciles kernel state.'),
  checks: z
    .record(name, check)
    .prefault({})
    .describe('Named health checks, referenced by name from backends, nexthops, BGP and VRRP.'),
  host: z
    .strictObject({ checks: z.array(hostCheck).default([]) })
    .prefault({})
    .describe(
      'Local checks of the whole LB host (disk, memory, load, files, named checks); they gate announcements.',
    ),
  vips: z.array(vip).default([]).describe('Addresses the agent keeps on an interface (loopback by default).'),
  routes: z.array(route).default([]).describe('Multipath routes, optionally as resilient nexthop groups.'),
  ipvs: z
    .strictObject({
      services: z.array(ipvsService).default([]),
      loadModules: z
        .boolean()
        .default(true)
        .describe('modprobe ip_vs and the scheduler modules when missing'),
    })
    .prefault({})
    .describe('IPVS virtual services and their backends (programmed over generic netlink).'),
  vrrp: z
    .strictObject({
      instances: z.array(vrrpInstance).default([]),
      syncGroups: z
        .array(z.strictObject({ name, instances: z.array(name).min(2) }))
        .default([])
        .describe('instances that are all master or none'),
    })
    .prefault({})
    .describe('VRRP v2/v3 instances, interoperable with keepalived.'),
  reload: z
    .strictObject({
      watch: z
        .boolean()
        .default(true)
        .describe('reload when the config file changes (inotify, with a poll as fallback)'),
      debounce: duration
        .prefault('500ms')
        .describe('wait this long after the last change (editors write in steps)'),
      pollInterval: duration.prefault('10s').describe('fallback poll of the file contents'),
    })
    .prefault({})
    .describe('Reloading: SIGHUP, `lbctl reload`, and a watch on the config file.'),
  bgp: bgp.prefault({}).describe('What to announce through ExaBGP, per state (up, down, disabled).'),
  maintenance: maintenance.prefault({}).describe('Maintenance drain: the disable file and the ready file.'),
});

export type ConfigInput = z.input<typeof configSchema>;
export type Config = z.output<typeof configSchema>;
export type VipConfig = z.output<typeof vip>;
export type RouteConfig = z.output<typeof route>;
export type NexthopConfig = z.output<typeof nexthop>;
export type IpvsServiceConfig = z.output<typeof ipvsService>;
export type BackendConfig = z.output<typeof backend>;
export type VrrpInstanceConfig = z.output<typeof vrrpInstance>;
export type AnnouncementConfig = z.output<typeof announcement>;
export type HostCheckConfig = z.output<typeof hostCheck>;
export type MaintenanceConfig = z.output<typeof maintenance>;
