// Runs inside a test namespace: writes one prepared RTM_NEWADDR (ADDRESS/PREFIX on IFINDEX,
// protocol PROTO) twice through the synchronous writer and prints the errnos of each write as
// one JSON line: {"first":[0],"second":[17]} (EEXIST the second time). Usage:
// sync-writer-child IFINDEX ADDRESS PREFIX PROTO

import { prepareFrames, SyncRtnlWriter } from '../../../agent/kernel/sync-writer.js';
import type { KernelOp } from '../../../agent/kernel/types.js';

const [ifindex, address, prefixLen, proto] = process.argv.slice(2);
const op: KernelOp = {
  op: 'add-address',
  key: `test ${address}`,
  phase: 0,
  msg: {
    family: address.includes(':') ? 6 : 4,
    address,
    prefixLen: Number(prefixLen),
    ifindex: Number(ifindex),
    flags: 0,
    proto: Number(proto),
    scope: 0,
  },
};
const w = SyncRtnlWriter.open();
if (w instanceof Error) {
  process.stdout.write(`${JSON.stringify({ error: w.message })}\n`);
  process.exit(1);
}
const frames = prepareFrames([op]);
const first = w.write(frames);
const second = w.write(frames);
const show = (r: number[] | Error) => (r instanceof Error ? r.message : r);
process.stdout.write(`${JSON.stringify({ first: show(first), second: show(second) })}\n`);
w.close();
