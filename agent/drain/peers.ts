// The guard behind `lbctl drain` without --force: a drain must not take the last host of a
// service out. This host alone cannot know that (VRRP backups are silent; the router does not
// tell an LB host who else announces a prefix), so the other hosts are asked: each peer in
// `maintenance.peers` is the URL of its /metrics, and a peer is *in service* when it answers,
// is not drained (`lbagent_drained 0`), and - for a prefix - has it on the wire
// (`lbagent_bgp_prefix_on_wire{prefix=…} 1`; `…_announced` from agents that predate it).
// The parsing and the decision are pure; fetching is the thin shell at the end.

export interface PeerView {
  url: string;
  /** Why the peer could not be read (unreachable, HTTP error, not an lbagent). */
  error?: string;
  drained?: boolean;
  /** Prefixes the peer has on the wire. */
  onWire: Set<string>;
}

/** Reads what the guard needs from a Prometheus text exposition of an lbagent. */
export function parsePeerMetrics(url: string, text: string): PeerView {
  const view: PeerView = { url, onWire: new Set() };
  const announced = new Set<string>();
  let sawOnWire = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^(lbagent_[a-z_]+)(?:\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const [, name, labels, value] = m;
    const on = Number(value) === 1;
    if (name === 'lbagent_drained') view.drained = on;
    const prefix = /(?:^|,)prefix="([^"]*)"/.exec(labels ?? '')?.[1];
    if (!prefix) continue;
    if (name === 'lbagent_bgp_prefix_on_wire') {
      sawOnWire = true;
      if (on) view.onWire.add(prefix);
    } else if (name === 'lbagent_bgp_prefix_announced' && on) announced.add(prefix);
  }
  if (!sawOnWire) for (const p of announced) view.onWire.add(p);
  if (view.drained === undefined) view.error = 'no lbagent_drained metric (not an lbagent /metrics?)';
  return view;
}

export interface LocalView {
  /** Prefixes this host has on the wire now (a drain takes them away). */
  onWire: string[];
  /** VRRP instances this host is master of now. */
  vrrpMasters: string[];
}

function peerState(p: PeerView): string {
  return p.error ? `${p.url}: ${p.error}` : p.drained ? `${p.url}: drained` : `${p.url}: in service`;
}

/**
 * What a drain of this host would leave without a peer in service: each prefix it has on the
 * wire needs a peer in service with that prefix on the wire; each VRRP instance it is master of
 * needs a peer in service. Empty = safe to drain.
 */
export function uncovered(local: LocalView, peers: PeerView[]): string[] {
  const up = peers.filter((p) => !p.error && p.drained === false);
  const problems: string[] = [];
  for (const prefix of local.onWire)
    if (!up.some((p) => p.onWire.has(prefix))) problems.push(`${prefix}: no peer in service announces it`);
  for (const name of local.vrrpMasters)
    if (up.length === 0) problems.push(`VRRP instance ${name}: master here, no peer in service to take over`);
  if (problems.length) problems.push(...peers.map((p) => `  ${peerState(p)}`));
  return problems;
}

/** GETs each peer's /metrics (bounded: timeoutMs each, in parallel, 1 MiB read at most). */
export async function fetchPeers(urls: string[], timeoutMs = 2000): Promise<PeerView[]> {
  return Promise.all(
    urls.map(async (url): Promise<PeerView> => {
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
        if (!res.ok) return { url, error: `HTTP ${res.status}`, onWire: new Set() };
        const text = (await res.text()).slice(0, 1024 * 1024);
        return parsePeerMetrics(url, text);
      } catch (err) {
        const e = err as Error & { cause?: { code?: string } };
        return { url, error: `unreachable (${e.cause?.code ?? e.name})`, onWire: new Set() };
      }
    }),
  );
}
