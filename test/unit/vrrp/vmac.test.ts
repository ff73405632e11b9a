import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  adoptProblem,
  inet6AddrGenModeNone,
  macText,
  macvlanLinkInfo,
  parseLinkInfo,
  vmacAddress,
  vmacName,
} from '../../../agent/vrrp/vmac.js';

describe('vmac', () => {
  it('names and MACs as keepalived 2.2.7 (RFC 5798 7.3)', () => {
    assert.equal(vmacName(51), 'vrrp.51');
    assert.equal(vmacName(51, 6), 'vrrp6.51');
    assert.equal(macText(vmacAddress(51)), '00:00:5e:00:01:33');
    assert.equal(macText(vmacAddress(255, 6)), '00:00:5e:00:02:ff');
    assert.throws(() => vmacAddress(0), /VRID 0/);
    assert.throws(() => vmacAddress(256), /VRID 256/);
  });

  it('IFLA_LINKINFO of a private macvlan, golden bytes', () => {
    // kind: len 12, type 1, "macvlan\0"; data: len 12, type 2|NLA_F_NESTED, {len 8, type 1 (mode), 1 (private)}
    const want = Buffer.from('0c0001006d6163766c616e000c0002800800010001000000', 'hex');
    assert.deepEqual(macvlanLinkInfo(), want);
    assert.deepEqual(parseLinkInfo(want), { kind: 'macvlan', macvlanMode: 1 });
    assert.deepEqual(parseLinkInfo(undefined), {});
  });

  it('IFLA_INET6_ADDR_GEN_MODE none, golden bytes', () => {
    assert.deepEqual(inet6AddrGenModeNone(), Buffer.from('0500080001000000', 'hex'));
  });

  it('adopts only a macvlan with the right parent and MAC', () => {
    const mac = vmacAddress(51);
    const ok = { index: 9, mac, kind: 'macvlan', parent: 2 };
    assert.equal(adoptProblem(ok, 2, mac), undefined);
    assert.match(adoptProblem({ ...ok, kind: 'dummy' }, 2, mac) ?? '', /a dummy, not a macvlan/);
    assert.match(adoptProblem({ ...ok, parent: 3 }, 2, mac) ?? '', /parent is ifindex 3, not 2/);
    assert.match(adoptProblem({ ...ok, mac: vmacAddress(52) }, 2, mac) ?? '', /MAC is 00:00:5e:00:01:34/);
  });
});
