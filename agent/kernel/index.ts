// Kernel state over rtnetlink: loopback VIPs, multipath routes, resilient nexthop groups.
// observe (dumps) → desired (pure, from config + facts) → plan (pure diff) → apply (batched,
// acked) → watch (multicast) + periodic resync. See docs/kernel.md.
export { type ApplyResult, applyOps, type OpFailure } from './apply.js';
export { DEFAULT_ROUTE_PROTOCOL, desiredKernelState } from './desired.js';
export { formatOp, formatPlan } from './format.js';
export { collectKernelMetrics } from './metrics.js';
export { observeKernel, observeWith } from './observe.js';
export { nexthopId, type PlanOptions, planKernel } from './plan.js';
export { type KernelStatus, KernelSubsystem, type ReconcileScope } from './subsystem.js';
export { RtnlSocket } from './transport.js';
export type { DesiredKernelState, KernelOp, KernelPlan, ObjectState, ObservedKernel } from './types.js';
