import t from 'tap';
import { createBufferReclaimer, RECLAIM_EVERY_BYTES, youngCollection } from '../../../src/lib/buffer-reclaimer.js';

t.test('one collection each time the bytes passed since the last reach the threshold', async (t) => {
  let collections = 0;
  const reclaimer = createBufferReclaimer({ everyBytes: 100, collect: () => collections++ });
  reclaimer.passed(60);
  t.equal(collections, 0);
  reclaimer.passed(40);
  t.equal(collections, 1, 'at exactly the threshold');
  for (let i = 0; i < 9; i++) reclaimer.passed(25);
  t.equal(collections, 3, '225 more bytes: two more, 25 carried');
  reclaimer.passed(1000);
  t.equal(collections, 4, 'one large chunk is one collection, not ten');
});

t.test('the runtime offers a young-generation collection, and it frees dead buffers', async (t) => {
  const collect = youngCollection();
  t.type(collect, 'function', `available on Node ${process.versions.node}`);
  let buffers: Buffer[] | undefined = Array.from({ length: 64 }, () => Buffer.allocUnsafeSlow(64 * 1024));
  const held = process.memoryUsage().arrayBuffers;
  buffers.length = 0;
  buffers = undefined;
  collect!();
  t.ok(process.memoryUsage().arrayBuffers < held - 2 * 1024 * 1024, 'young buffers freed at once');
  t.notOk('gc' in globalThis, 'nothing new on the global object');
});

t.test('the default reclaimer takes a stream of chunks without complaint', async (t) => {
  const reclaimer = createBufferReclaimer();
  for (let i = 0; i < 3 * (RECLAIM_EVERY_BYTES / (64 * 1024)); i++) reclaimer.passed(64 * 1024);
  t.pass();
});
