import t from 'tap';
import { closeFrame, FrameBoundary, goingAwayFrame } from '../../../src/proxy/ws-frames.js';

/** Frame boundaries across every way a relay can cut a byte stream into chunks. */
function frame(payloadLength: number, masked: boolean): Buffer {
  const ext = payloadLength < 126 ? [] : payloadLength < 65536 ? [0, 0] : [0, 0, 0, 0, 0, 0, 0, 0];
  const len7 = payloadLength < 126 ? payloadLength : payloadLength < 65536 ? 126 : 127;
  const head = Buffer.from([0x82, (masked ? 0x80 : 0) | len7, ...ext]);
  if (len7 === 126) head.writeUInt16BE(payloadLength, 2);
  if (len7 === 127) head.writeBigUInt64BE(BigInt(payloadLength), 2);
  return Buffer.concat([head, masked ? Buffer.from([1, 2, 3, 4]) : Buffer.alloc(0), Buffer.alloc(payloadLength, 7)]);
}

t.test('any chunking of a frame sequence ends at a boundary only where a frame ends', async (t) => {
  const frames = [frame(0, false), frame(5, true), frame(300, false), frame(70_000, true), frame(125, false)];
  const stream = Buffer.concat(frames);
  const ends = new Set<number>();
  let at = 0;
  for (const f of frames) ends.add((at += f.length));
  for (const size of [1, 3, 7, 64, 4096, stream.length]) {
    const tracker = new FrameBoundary();
    for (let offset = 0; offset < stream.length; offset += size) {
      const end = Math.min(offset + size, stream.length);
      const result = tracker.consume(stream.subarray(offset, end));
      if (result !== undefined) t.ok(ends.has(end), `chunk size ${size}: boundary at ${end} is a frame end`);
      if (ends.has(end)) t.equal(result, end - offset, `chunk size ${size}: frame end at ${end} seen`);
    }
  }
});

t.test('stopAtBoundary returns the bytes that finish the frame in progress', async (t) => {
  const first = frame(10, true);
  const second = frame(3, true);
  const tracker = new FrameBoundary();
  t.equal(tracker.consume(first.subarray(0, 8)), undefined, 'mid-frame');
  t.equal(tracker.consume(Buffer.concat([first.subarray(8), second]), true), first.length - 8, 'stops where the first frame ends');
  t.ok(tracker.atBoundary);
  t.equal(new FrameBoundary().consume(second, true), 0, 'already between frames: nothing more to relay');
});

t.test('the 1001 Close frame, unmasked to clients and masked to servers', async (t) => {
  t.same([...goingAwayFrame(false)], [0x88, 0x02, 0x03, 0xe9]);
  const masked = goingAwayFrame(true);
  t.equal(masked[1], 0x82, 'mask bit and length 2');
  const key = masked.subarray(2, 6);
  t.same([masked[6]! ^ key[0]!, masked[7]! ^ key[1]!], [0x03, 0xe9]);
});

t.test('a 1008 Close frame with a reason; data frames counted, control frames not', async (t) => {
  const plain = closeFrame(1008, 'session ended', false);
  t.same([...plain.subarray(0, 4)], [0x88, 2 + 13, 0x03, 0xf0]);
  t.equal(plain.subarray(4).toString(), 'session ended');
  const masked = closeFrame(1008, 'policy', true);
  const key = masked.subarray(2, 6);
  const body = Buffer.from(masked.subarray(6).map((b, i) => b ^ key[i % 4]!));
  t.equal(masked[1], 0x80 | 8);
  t.equal(body.readUInt16BE(0), 1008);
  t.equal(body.subarray(2).toString(), 'policy');
  t.ok(closeFrame(1008, 'x'.repeat(400), false).length <= 2 + 125, 'a control frame stays within 125 bytes');

  const tracker = new FrameBoundary();
  const pong = Buffer.from([0x8a, 0x80, 1, 2, 3, 4]);
  tracker.consume(Buffer.concat([pong, frame(5, true), pong]));
  t.equal(tracker.dataFrames, 1, 'a pong is no sign of a user; a binary frame is');
});
