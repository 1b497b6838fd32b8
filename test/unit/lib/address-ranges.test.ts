import t from 'tap';
import { createAddressMatcher, parseAddressRange } from '../../../src/lib/address-ranges.js';

t.test('parseAddressRange: addresses and CIDR ranges of both families', async (t) => {
  t.strictSame(parseAddressRange('127.0.0.1'), { address: '127.0.0.1', prefix: 32, family: 'ipv4' });
  t.strictSame(parseAddressRange('10.0.0.0/8'), { address: '10.0.0.0', prefix: 8, family: 'ipv4' });
  t.strictSame(parseAddressRange('::1'), { address: '::1', prefix: 128, family: 'ipv6' });
  t.strictSame(parseAddressRange('fd00::/8'), { address: 'fd00::', prefix: 8, family: 'ipv6' });
  for (const junk of ['', 'localhost', '10.0.0.0/33', '::/129', '10.0.0.0/', '10.0.0.0/+8', '10.0.0.0/08x', '1.2.3', '1.2.3.4 ', '[::1]', '10.0.0.0/8/8']) {
    t.equal(parseAddressRange(junk), undefined, JSON.stringify(junk));
  }
});

t.test('createAddressMatcher: true, false, or the listed ranges', async (t) => {
  t.equal(createAddressMatcher(true)('203.0.113.1'), true);
  t.equal(createAddressMatcher(false)('127.0.0.1'), false);
  const trusted = createAddressMatcher(['127.0.0.1', '10.0.0.0/8', '::1', 'fd00::/8']);
  const cases: Array<[string | undefined, boolean]> = [
    ['127.0.0.1', true],
    ['127.0.0.2', false],
    ['10.255.0.1', true],
    ['11.0.0.1', false],
    ['::ffff:10.1.2.3', true],
    ['::ffff:127.0.0.2', false],
    ['::1', true],
    ['0:0:0:0:0:0:0:1', true],
    ['fd12::1', true],
    ['fe80::1', false],
    ['', false],
    [undefined, false],
    ['not-an-ip', false],
  ];
  for (const [ip, expected] of cases) t.equal(trusted(ip), expected, String(ip));
  t.equal(createAddressMatcher([])('127.0.0.1'), false, 'an empty list trusts nobody');
});
