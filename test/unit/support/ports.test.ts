import t from 'tap';
import { freePort, freePorts, portSlice } from '../../support/ports.js';

t.test("ports come from this test file's job slice, and none twice", async (t) => {
  const { low, size } = portSlice();
  const seen = new Set<number>();
  for (let i = 0; i < 20; i++) {
    for (const port of [await freePort(), ...(await freePorts(3))]) {
      t.notOk(seen.has(port), `port ${port} not handed out before`);
      t.ok(port >= low && port < low + size, `port ${port} in this job's slice ${low}–${low + size - 1}`);
      seen.add(port);
    }
  }
});

t.test('the slices of jobs running at once do not overlap', async (t) => {
  const slices = [0, 1, 2, 3].map((job) => portSlice(job));
  for (let i = 1; i < slices.length; i++) t.ok(slices[i]!.low >= slices[i - 1]!.low + slices[i - 1]!.size, `job ${i} starts after job ${i - 1} ends`);
  t.ok(slices[0]!.size > 1000, `each slice has room: ${slices[0]!.size} ports`);
  t.same(portSlice(5), portSlice(1), 'more jobs than slices share by remainder');
  t.same(portSlice(Number.NaN), portSlice(0), 'outside tap: the first slice');
});
