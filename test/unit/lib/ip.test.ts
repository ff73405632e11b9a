import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePrefix, prefixContains } from '../../../agent/lib/ip.js';

describe('prefixContains', () => {
  it('matches by the prefix bits only, never across families', () => {
    assert.equal(prefixContains({ address: '192.0.2.0', length: 24 }, '192.0.2.77'), true);
    assert.equal(prefixContains({ address: '192.0.2.0', length: 25 }, '192.0.2.200'), false);
    assert.equal(prefixContains({ address: '0.0.0.0', length: 0 }, '203.0.113.9'), true);
    assert.equal(prefixContains({ address: '2001:db8::', length: 32 }, '2001:db8:ffff::1'), true);
    assert.equal(prefixContains({ address: '2001:db8::', length: 33 }, '2001:db8:ffff::1'), false);
    assert.equal(prefixContains({ address: '::', length: 0 }, '192.0.2.1'), false);
    const p = parsePrefix('10.1.0.0/16');
    assert.ok(typeof p !== 'string' && prefixContains(p, '10.1.255.255'));
  });
});
