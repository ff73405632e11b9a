import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderIpvs } from '../../../cli/commands/ipvs.js';

describe('renderIpvs', () => {
  it('prints an ipvsadm -Ln-like table with destinations in kernel list order', () => {
    const out = renderIpvs({
      available: true,
      info: { version: '1.2.1', connTableSize: 4096 },
      services: [
        {
          key: 'tcp:10.0.0.1:80',
          name: 'web',
          owned: true,
          family: 4,
          protocol: 'tcp',
          address: '10.0.0.1',
          port: 80,
          scheduler: 'mh',
          flagNames: ['mh-fallback', 'mh-port'],
          timeout: 0,
          netmask: 0xffffffff,
          dests: [
            {
              family: 4,
              address: '10.1.0.3',
              port: 8080,
              forwarding: 'nat',
              weight: 1,
              activeConns: 2,
              inactConns: 5,
            },
            {
              family: 4,
              address: '10.1.0.2',
              port: 8080,
              forwarding: 'nat',
              weight: 0,
              activeConns: 1,
              inactConns: 0,
            },
          ],
        },
        {
          key: 'udp:[2001:db8::1]:53',
          owned: false,
          family: 6,
          protocol: 'udp',
          address: '2001:db8::1',
          port: 53,
          scheduler: 'sh',
          flagNames: ['persistent'],
          timeout: 300,
          netmask: 64,
          dests: [
            {
              family: 6,
              address: '2001:db8::2',
              port: 53,
              forwarding: 'dr',
              weight: 3,
              activeConns: 0,
              inactConns: 0,
            },
          ],
        },
      ],
      lastReconcile: { at: '2026-01-01T00:00:00.000Z', writes: 0, errors: [] },
    });
    assert.equal(
      out,
      [
        'IP Virtual Server version 1.2.1 (size=4096)',
        'Prot LocalAddress:Port Scheduler Flags',
        '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn',
        'TCP  10.0.0.1:80 mh (mh-fallback,mh-port)  [web]',
        '  -> 10.1.0.3:8080                Masq    1      2          5',
        '  -> 10.1.0.2:8080                Masq    0      1          0',
        'UDP  [2001:db8::1]:53 sh persistent 300 mask 64  [not managed]',
        '  -> [2001:db8::2]:53             Route   3      0          0',
        'last reconcile 2026-01-01T00:00:00.000Z: 0 writes',
        '',
      ].join('\n'),
    );
  });

  it('says plainly when IPVS is unavailable', () => {
    assert.equal(
      renderIpvs({ available: false, reason: 'IPVS is not available in this kernel', services: [] }),
      'IPVS unavailable: IPVS is not available in this kernel\n',
    );
  });
});
