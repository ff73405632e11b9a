// Apply: turn planned operations into rtnetlink requests, send them phase by phase in batches,
// and map every failure back to the object it concerns.
import type { LinkInfo } from './codec.js';
import { NLM_F, RTM, writeAddress, writeNexthop, writeNexthopDelete, writeRoute } from './codec.js';
import { formatOp } from './format.js';
import { errnoName, type NlRequest, type RtnlSocket } from './transport.js';
import type { KernelOp } from './types.js';

export interface OpFailure {
  op: KernelOp;
  errno: number;
  code: string;
  message: string;
}

export interface ApplyResult {
  applied: number;
  failures: OpFailure[];
}

export function toRequest(op: KernelOp): NlRequest {
  const create = NLM_F.CREATE | NLM_F.EXCL;
  const replace = NLM_F.CREATE | NLM_F.REPLACE;
  switch (op.op) {
    case 'add-address':
      return { type: RTM.NEWADDR, flags: create, write: (w) => writeAddress(w, op.msg) };
    case 'del-address':
      return {
        type: RTM.DELADDR,
        flags: 0,
        write: (w) => writeAddress(w, { ...op.msg, proto: undefined, flags: 0 }),
      };
    case 'add-nexthop':
      return { type: RTM.NEWNEXTHOP, flags: create, write: (w) => writeNexthop(w, op.msg) };
    case 'replace-nexthop':
      return { type: RTM.NEWNEXTHOP, flags: replace, write: (w) => writeNexthop(w, op.msg) };
    case 'del-nexthop':
      return { type: RTM.DELNEXTHOP, flags: 0, write: (w) => writeNexthopDelete(w, op.id) };
    case 'add-route':
      return { type: RTM.NEWROUTE, flags: create, write: (w) => writeRoute(w, op.msg) };
    case 'replace-route':
      return { type: RTM.NEWROUTE, flags: replace, write: (w) => writeRoute(w, op.msg) };
    case 'del-route':
      // Key fields + our protocol only: the kernel deletes only a route with that protocol.
      return {
        type: RTM.DELROUTE,
        flags: 0,
        write: (w) => writeRoute(w, { ...op.msg, hops: [], nhid: undefined }),
      };
  }
}

const HINT: Record<string, string> = {
  EEXIST: 'already exists (created by someone else since the last dump?)',
  ENOENT: 'does not exist (or a referenced nexthop is missing)',
  ESRCH: 'does not exist',
  EINVAL: 'rejected as invalid (gateway, device, weight or bucket count)',
  ENETUNREACH: 'gateway is not on a connected network',
  EHOSTUNREACH: 'gateway is not reachable',
  ENODEV: 'interface does not exist',
  EBUSY: 'kernel object busy, will retry',
  ENOBUFS: 'kernel out of buffers, will retry',
  EADDRNOTAVAIL: 'address not present',
  EPERM: 'not permitted (needs CAP_NET_ADMIN)',
};

export function describeFailure(
  op: KernelOp,
  errno: number,
  names: Map<number, string> = new Map(),
): OpFailure {
  const code = errnoName(errno);
  const message = `${formatOp(op, names)}: ${code}: ${HINT[code] ?? 'rejected by the kernel'}`;
  return { op, errno, code, message };
}

/** Runs ops phase by phase (a phase's batch must be acked before the next phase starts). */
export async function applyOps(
  sock: RtnlSocket,
  ops: KernelOp[],
  links: LinkInfo[] = [],
): Promise<ApplyResult> {
  const names = new Map(links.map((l) => [l.index, l.name]));
  const failures: OpFailure[] = [];
  let applied = 0;
  const phases = [...new Set(ops.map((o) => o.phase))].sort((a, b) => a - b);
  for (const phase of phases) {
    const batch = ops.filter((o) => o.phase === phase);
    const results = await sock.batch(batch.map(toRequest));
    results.forEach((errno, i) => {
      const op = batch[i];
      // Deleting what is already gone is success (someone beat us to it).
      if (
        errno === 0 ||
        (op.op.startsWith('del-') &&
          (errnoName(errno) === 'ESRCH' ||
            errnoName(errno) === 'ENOENT' ||
            errnoName(errno) === 'EADDRNOTAVAIL'))
      )
        applied++;
      else failures.push(describeFailure(op, errno, names));
    });
  }
  return { applied, failures };
}
