// Interop with real keepalived 2.2.7 in namespaces, VRRPv2, election cases (see cases.ts).
import { interopSuite } from './cases.js';

interopSuite(2, 'election');
