import t from 'tap';
import { createAddressMatcher } from '../../../src/lib/address-ranges.js';
import { clientFromForwardedFor } from '../../../src/server/request-context.js';

t.test('the client is the rightmost hop that is not a trusted proxy', async (t) => {
  const trusted = createAddressMatcher(['10.0.0.0/8']);
  // a client behind a trusted proxy that appends cannot name another address by writing its own XFF
  t.equal(clientFromForwardedFor('1.2.3.4, 203.0.113.9', trusted), '203.0.113.9');
  t.equal(clientFromForwardedFor('1.2.3.4, 203.0.113.9, 10.0.0.7', trusted), '203.0.113.9', 'trusted hops are skipped');
  t.equal(clientFromForwardedFor(['1.2.3.4', '203.0.113.9'], trusted), '203.0.113.9', 'repeated headers are one list');
  t.equal(clientFromForwardedFor('10.0.0.2, 10.0.0.7', trusted), '10.0.0.2', 'all trusted: the leftmost');
  t.equal(clientFromForwardedFor('203.0.113.9', trusted), '203.0.113.9');
  t.equal(clientFromForwardedFor('evil, 203.0.113.9', trusted), '203.0.113.9');
  t.equal(clientFromForwardedFor('203.0.113.9, evil', trusted), undefined, 'garbage appended: fall back to the peer');
  t.equal(clientFromForwardedFor(undefined, trusted), undefined);
  t.equal(clientFromForwardedFor('', trusted), undefined);
});

t.test('trust_forwarded_headers: true keeps the leftmost hop', async (t) => {
  t.equal(clientFromForwardedFor('1.2.3.4, 203.0.113.9', createAddressMatcher(true)), '1.2.3.4');
});
