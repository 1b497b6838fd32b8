import { runInNewContext } from 'node:vm';
import { Worker } from 'node:worker_threads';
import t from 'tap';
import { eventually } from '../../support/eventually.js';
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
  // V8 sweeps dead buffers on a background thread: freed soon after the collection, not within it
  const freed = await eventually(() => process.memoryUsage().arrayBuffers < held - 2 * 1024 * 1024, 5_000).catch(() => false);
  t.ok(freed, 'dead young buffers freed after one young collection');
  t.notOk('gc' in globalThis, 'nothing new on the global object');
  t.equal(runInNewContext('typeof gc'), 'undefined', 'nor in a vm context made later');
  const inWorker = await new Promise((resolve, reject) => {
    const worker = new Worker("require('node:worker_threads').parentPort.postMessage(typeof gc)", { eval: true });
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  t.equal(inWorker, 'undefined', 'nor in a worker started later');
});

t.test('the default reclaimer takes a stream of chunks without complaint', async (t) => {
  const reclaimer = createBufferReclaimer();
  for (let i = 0; i < 3 * (RECLAIM_EVERY_BYTES / (64 * 1024)); i++) reclaimer.passed(64 * 1024);
  t.pass();
});
