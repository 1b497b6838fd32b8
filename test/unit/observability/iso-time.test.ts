import fc from 'fast-check';
import t from 'tap';
import { isoTimeCached } from '../../../src/observability/logger.js';

/** The cached formatter must print exactly what pino's isoTime prints, whatever order times come in. */
t.test('isoTimeCached matches Date#toISOString for every millisecond', async (t) => {
  let now = 0;
  const time = isoTimeCached(() => now);
  const expected = (ms: number) => `,"time":"${new Date(ms).toISOString()}"`;
  for (const ms of [0, 1, 9, 10, 99, 100, 999, 1000, 1001, 1_764_650_000_000, 1_764_650_000_999, 1_764_650_001_000, 1_764_650_000_005]) {
    now = ms;
    t.equal(time(), expected(ms), `at ${ms}`);
  }
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 4_102_444_800_000 }), { minLength: 1, maxLength: 20 }), (times) => {
      for (const ms of times) {
        now = ms;
        if (time() !== expected(ms)) return false;
      }
      return true;
    }),
  );
});
