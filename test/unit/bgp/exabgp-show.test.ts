// Parsing ExaBGP 4.2.21's `show neighbor extensive` / `show adj-rib out extensive` (lines as the
// real ExaBGP printed them in a namespace) and checking announcements against them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  attributeDiff,
  liveTargets,
  parseAdjRibOut,
  parseNeighborExtensive,
  verifyIntent,
} from '../../../agent/bgp/exabgp-show.js';
import type { RouteIntent } from '../../../agent/bgp/policy.js';

const NEIGHBORS = `Neighbor 10.0.1.1

  Session                         Local
   local                       10.0.1.2                                
   state                    ESTABLISHED                                
   up for                       0:00:10                                

  Setup                           Local          Remote
   AS                             65001           65000                
   ID                          10.0.1.2        10.0.1.2                
   hold-time                        180             240                

  Capability                      Local          Remote
   asn4:                        enabled         enabled                
   route-refresh:              disabled         enabled                

  Families                        Local          Remote        Add-Path
   ipv4 unicast:                enabled         enabled        disabled

  Message Statistic                Sent        Received
   open:                              1               1                
   total:                             3               3                
Neighbor 10.0.1.9

  Session                         Local
   local                       10.0.1.2                                
   state                         ACTIVE                                
   down for                     0:00:08                                

  Families                        Local          Remote        Add-Path
   ipv4 unicast:                enabled             n/a        disabled
   ipv6 unicast:                enabled             n/a        disabled
`.split('\n');

const RIB = [
  'neighbor 10.0.1.1 local-ip 10.0.1.2 local-as 65001 peer-as 65000 router-id 10.0.1.2 family-allowed in-open ipv4 unicast 192.0.2.11/32 path-information 0.0.0.7 next-hop 10.0.1.2 as-path [ 65001 65002 ] med 500 local-preference 200 community [ 65000:1 65000:2 ] extended-community target:65000:1 large-community 65000:1:1',
  'neighbor 10.0.1.1 local-ip 10.0.1.2 local-as 65001 peer-as 65000 router-id 10.0.1.2 family-allowed in-open ipv4 unicast 192.0.2.12/32 next-hop self med 100 community no-export',
  'neighbor 10.0.1.9 local-ip 10.0.1.2 local-as 65001 peer-as 65000 router-id 10.0.1.2 family-allowed in-open ipv6 unicast 2001:db8::10/128 next-hop self med 100',
];

const intent = (o: Partial<RouteIntent>): RouteIntent => ({
  key: 'k',
  prefix: '192.0.2.12/32',
  withdraw: false,
  nextHop: 'self',
  med: 100,
  communities: [],
  largeCommunities: [],
  extendedCommunities: [],
  asPath: [],
  neighbors: [],
  ...o,
});

describe('ExaBGP show output', () => {
  const neighbors = parseNeighborExtensive(NEIGHBORS);
  const rib = parseAdjRibOut(RIB);

  it('parses neighbors: state and families (configured, negotiated)', () => {
    assert.deepEqual(neighbors, [
      {
        peer: '10.0.1.1',
        state: 'established',
        families: [{ family: 'ipv4 unicast', local: true, remote: true }],
      },
      {
        peer: '10.0.1.9',
        state: 'active',
        families: [
          { family: 'ipv4 unicast', local: true, remote: null },
          { family: 'ipv6 unicast', local: true, remote: null },
        ],
      },
    ]);
  });

  it('parses adj-rib-out lines with every attribute form', () => {
    assert.equal(rib.length, 3);
    assert.equal(rib[0].prefix, '192.0.2.11/32');
    assert.deepEqual(rib[0].attrs.get('community'), ['65000:1', '65000:2']);
    assert.deepEqual(rib[0].attrs.get('path-information'), ['0.0.0.7']);
    assert.deepEqual(rib[0].attrs.get('large-community'), ['65000:1:1']);
    assert.equal(rib[2].family, 'ipv6 unicast');
  });

  it('matches intents attribute by attribute (named communities, path id as dotted quad)', () => {
    assert.deepEqual(attributeDiff(intent({ communities: ['65535:65281'] }), rib[1]), []);
    assert.deepEqual(
      attributeDiff(
        intent({
          prefix: '192.0.2.11/32',
          nextHop: '10.0.1.2',
          med: 500,
          localPreference: 200,
          communities: ['65000:2', '65000:1'],
          extendedCommunities: ['target:65000:1'],
          largeCommunities: ['65000:1:1'],
          asPath: [65001, 65002],
          pathId: 7,
        }),
        rib[0],
      ),
      [],
    );
    assert.deepEqual(attributeDiff(intent({ med: 500 }), rib[1]), [
      'med 100, want 500',
      'community [no-export], want []',
    ]);
  });

  it('an IPv6 prefix no neighbor carries is rejected; a carried one is checked per neighbor', () => {
    const v4only = [neighbors[0]];
    assert.deepEqual(verifyIntent(intent({ prefix: '2001:db8::10/128' }), v4only, rib), {
      kind: 'rejected',
      detail: 'ipv6 unicast not configured on any neighbor',
    });
    assert.deepEqual(
      verifyIntent(intent({ prefix: '2001:db8::10/128', neighbors: ['10.0.1.1'] }), neighbors, rib),
      {
        kind: 'rejected',
        detail: 'ipv6 unicast not configured on neighbor 10.0.1.1',
      },
    );
    const v6 = verifyIntent(intent({ prefix: '2001:db8:0::10/128' }), neighbors, rib);
    assert.deepEqual(v6, { kind: 'ok', targets: ['10.0.1.9'] });
    // In the RIB, but 10.0.1.9's session is not up: not on the wire.
    assert.deepEqual(liveTargets('ipv6 unicast', ['10.0.1.9'], neighbors), []);
    assert.deepEqual(liveTargets('ipv4 unicast', ['10.0.1.1', '10.0.1.9'], neighbors), ['10.0.1.1']);
  });

  it('a MED the RIB does not hold, a route missing or a withdraw still there is a mismatch', () => {
    const v = verifyIntent(intent({ med: 500 }), neighbors, rib);
    assert.equal(v.kind, 'mismatch');
    assert.match(v.kind === 'mismatch' ? v.detail : '', /10.0.1.1: med 100, want 500/);
    assert.match(v.kind === 'mismatch' ? v.detail : '', /10.0.1.9: not in adj-rib-out/);
    const w = verifyIntent(intent({ withdraw: true, neighbors: ['10.0.1.1'] }), neighbors, rib);
    assert.deepEqual(w, {
      kind: 'mismatch',
      detail: '10.0.1.1: still in adj-rib-out',
      targets: ['10.0.1.1'],
    });
    assert.deepEqual(verifyIntent(intent({ prefix: '192.0.2.99/32', withdraw: true }), neighbors, rib), {
      kind: 'ok',
      targets: ['10.0.1.1', '10.0.1.9'],
    });
  });
});
