#!/usr/bin/env node
// Standalone entry for the ExaBGP bridge until `lbagent exabgp-bridge` exists:
//   process lbagent { run /usr/bin/node /usr/lib/lbagent/dist/agent/bgp/exabgp-bridge-main.js --socket /run/lbagent/exabgp.sock; encoder text; }
import { parseBridgeArgs, runExabgpBridge } from './bridge.js';

const opts = parseBridgeArgs(process.argv.slice(2));
if (typeof opts === 'string') {
  process.stderr.write(`exabgp-bridge: ${opts}\n`);
  process.exit(2);
}
process.exitCode = await runExabgpBridge(opts);
