// Interop with real keepalived 2.2.7 in namespaces, VRRPv3 (see cases.ts).
import { interopSuite } from './cases.js';

interopSuite(3);
