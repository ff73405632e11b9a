// Sync group against real keepalived (VRRPv3, 100 ms): one member's tracked interface fails ->
// every member goes to Fault (priority 0 sent), keepalived takes both VRIDs; it comes back -> both
// members return and preempt together.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isRoot, waitFor } from '../../lib/netns.js';
import { hasVip, makeLan, startAgent, startKeepalived } from './harness.js';

const kaConf = `global_defs {
  router_id ka
  vrrp_version 3
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority 100
  advert_int 0.1
  virtual_ipaddress {
    10.77.0.100/24 dev eth0
  }
}
vrrp_instance VI_2 {
  state BACKUP
  interface eth0
  virtual_router_id 52
  priority 100
  advert_int 0.1
  virtual_ipaddress {
    10.77.0.101/24 dev eth0
  }
}
`;

const inst = (name: string, vrid: number, vip: string, extra: object = {}) => ({
  name,
  interface: 'eth0',
  vrid,
  version: 3,
  priority: 150,
  advertInterval: '100ms',
  vips: [`${vip}/24`],
  ...extra,
});

test('sync group: a member in fault takes the whole group to fault, and back', {
  skip: isRoot() ? false : 'needs root',
  timeout: 60_000,
}, async () => {
  const lan = makeLan('vrsg');
  try {
    lan.lb.ip('link add trk0 type veth peer name trk1');
    lan.lb.ip('link set trk0 up');
    lan.lb.ip('link set trk1 up');
    const a = await startAgent(lan, {
      vrrp: {
        instances: [
          inst('VI_1', 51, '10.77.0.100', { track: { interfaces: [{ name: 'trk0', weight: 'fault' }] } }),
          inst('VI_2', 52, '10.77.0.101'),
        ],
        syncGroups: [{ name: 'G', instances: ['VI_1', 'VI_2'] }],
      },
    });
    await waitFor(() => a.stateOf('VI_1') === 'master' && a.stateOf('VI_2') === 'master', {
      timeoutMs: 3000,
      what: 'both members master',
    });
    const k = await startKeepalived(lan, {
      version: 3,
      priority: 100,
      advertInt: 0.1,
      vips: [],
      rawConf: kaConf,
    });
    const kaMasters = () => k.log().split('Entering MASTER STATE').length - 1;

    lan.lb.ip('link set trk1 down');
    await waitFor(() => a.stateOf('VI_1') === 'fault' && a.stateOf('VI_2') === 'fault', {
      timeoutMs: 3000,
      what: 'both members in fault',
    });
    await waitFor(() => kaMasters() === 2, { timeoutMs: 3000, what: 'keepalived master of both VRIDs' });
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(
      a.stateOf('VI_2'),
      'fault',
      'the healthy member stays in fault with its group (no flapping)',
    );
    assert.ok(!hasVip(lan.lb, '10.77.0.101'), 'no VIP of the group left on lbagent');
    assert.ok(hasVip(lan.ka, '10.77.0.100') && hasVip(lan.ka, '10.77.0.101'));

    lan.lb.ip('link set trk1 up');
    await waitFor(() => a.stateOf('VI_1') === 'master' && a.stateOf('VI_2') === 'master', {
      timeoutMs: 3000,
      what: 'both members master again',
    });
    await a.stop();
  } finally {
    await lan.cleanup();
  }
});
