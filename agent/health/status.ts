// The JSON shape of `lbctl health --json` (and the health part of `lbctl status`).
import type { DampingSnapshot } from './damping.js';
import type { Health } from './machine.js';

export interface CheckStatus {
  id: string;
  kind: string;
  target: string;
  usedBy: string[];
  state: Health;
  raw: Health;
  transitional: boolean;
  reason: string;
  successes: number;
  failures: number;
  rise: number;
  fall: number;
  intervalMs: number;
  timeoutMs: number;
  transitions: number;
  runs: number;
  lastResult?: { ok: boolean; reason: string; latencyMs: number; ageMs: number; weight?: number };
  lastTransitionAgoMs?: number;
  damping?: DampingSnapshot;
}

export interface SubjectStatus {
  key: string;
  up: boolean;
  reason: string;
  check: string;
}

export interface HealthStatus {
  checks: CheckStatus[];
  backends: {
    service: string;
    address: string;
    port: number;
    up: boolean;
    weight?: number;
    configuredWeight: number;
    reason: string;
    drained: boolean;
    check?: string;
  }[];
  nexthops: SubjectStatus[];
  named: SubjectStatus[];
  services: {
    name: string;
    up: boolean;
    quorum: number;
    quorumWeight?: number;
    healthy: number;
    total: number;
    healthyWeight: number;
    /** Weight of all backends (the most a quorum's hysteresis can ask for). */
    totalWeight: number;
  }[];
  host: { up: boolean; reason: string; checks: string[] } | null;
  scheduler: {
    checks: number;
    inflight: number;
    /** How TCP checks connect: "epoll" (koffi), "net" (fallback), "unused" (none ran yet). */
    tcpProber: string;
    lateness: { samples: number; p50: number; p99: number; max: number };
  };
}
