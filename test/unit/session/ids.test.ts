import t from 'tap';
import { createHash } from 'node:crypto';
import { handleOf, isSessionHandle, isSessionId, newSessionId } from '../../../src/session/ids.js';

t.test('new ids are 32 random bytes in canonical base64url', async (t) => {
  const ids = new Set(Array.from({ length: 200 }, () => newSessionId()));
  t.equal(ids.size, 200, 'no repeats');
  for (const id of ids) {
    t.equal(Buffer.from(id, 'base64url').length, 32);
    t.equal(Buffer.from(id, 'base64url').toString('base64url'), id, 'canonical');
    if (!isSessionId(id)) t.fail(`not accepted: ${id}`);
  }
});

t.test('handleOf is the sha256 of the id, 22 base64url chars', async (t) => {
  const id = newSessionId();
  const handle = handleOf(id);
  t.equal(handle.length, 22);
  t.equal(handle, createHash('sha256').update(id).digest('base64url').slice(0, 22));
  t.equal(handleOf(id), handle, 'deterministic');
  t.not(handleOf(newSessionId()), handle);
  t.ok(isSessionHandle(handle));
  t.notOk(isSessionId(handle), 'a handle is not an id');
});

t.test('isSessionId refuses anything else', async (t) => {
  const id = newSessionId();
  const cases: Array<[string, unknown]> = [
    ['empty', ''],
    ['too short', id.slice(1)],
    ['too long', id + 'A'],
    ['padding', id.slice(0, 42) + '='],
    ['standard base64 chars', '+' + id.slice(1)],
    ['space', ' ' + id.slice(1)],
    ['non-canonical last char', id.slice(0, 42) + 'B'],
    ['non-ascii', 'é' + id.slice(1)],
    ['not a string', 42],
    ['undefined', undefined],
  ];
  for (const [name, value] of cases) t.notOk(isSessionId(value), name);
});

t.test('isSessionHandle', async (t) => {
  t.ok(isSessionHandle('A'.repeat(22)));
  t.notOk(isSessionHandle('A'.repeat(21)));
  t.notOk(isSessionHandle('A'.repeat(23)));
  t.notOk(isSessionHandle('A'.repeat(21) + '/'));
  t.notOk(isSessionHandle(null));
});
