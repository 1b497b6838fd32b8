import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import type { Socket } from 'node:net';

/** A raw WebSocket client for tests: the handshake, then every received byte kept in order. */
export interface RawWebSocket {
  socket: Socket;
  status: number;
  /** every byte received after the 101 */
  received(): Buffer;
  /** resolves when the connection is closed */
  closed: Promise<void>;
}

export function openWebSocket(url: string, headers: Record<string, string> = {}): Promise<RawWebSocket> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      agent: false,
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-key': randomBytes(16).toString('base64'),
        'sec-websocket-version': '13',
        ...headers,
      },
    });
    req.on('upgrade', (res, socket: Socket, head: Buffer) => {
      let got = Buffer.from(head);
      socket.on('data', (chunk: Buffer) => (got = Buffer.concat([got, chunk])));
      socket.on('error', () => {});
      const closed = new Promise<void>((done) => socket.once('close', () => done()));
      resolve({ socket, status: res.statusCode ?? 0, received: () => got, closed });
    });
    req.on('response', (res) => {
      res.resume();
      reject(new Error(`expected 101, got ${res.statusCode}`));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A client frame (masked, RFC 6455 §5.3) carrying `payload` (< 126 bytes). */
export function clientFrame(payload: Buffer, opcode = 0x1): Buffer {
  const key = randomBytes(4);
  const masked = Buffer.from(payload.map((b, i) => b ^ key[i % 4]!));
  return Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | payload.length]), key, masked]);
}

/** The Close frame a server sends with status 1001 "going away" (unmasked, §5.5.1). */
export const GOING_AWAY_FRAME = Buffer.from([0x88, 0x02, 0x03, 0xe9]);

/** The (first, unmasked) Close frame among the frames received, with its status code and reason, if there is one. */
export function closeFrameIn(received: Buffer): { code: number; reason: string } | undefined {
  let i = 0;
  while (i + 2 <= received.length) {
    const opcode = received[i]! & 0x0f;
    const masked = (received[i + 1]! & 0x80) !== 0; // the test upstream echoes clients' masked frames as they are
    let length = received[i + 1]! & 0x7f;
    let at = i + 2;
    if (length === 126) {
      length = received.readUInt16BE(at);
      at += 2;
    } else if (length === 127) {
      length = Number(received.readBigUInt64BE(at));
      at += 8;
    }
    if (masked) at += 4;
    if (opcode === 0x8) {
      const payload = received.subarray(at, at + length);
      return { code: payload.length >= 2 ? payload.readUInt16BE(0) : 1005, reason: payload.subarray(2).toString('utf8') };
    }
    i = at + length;
  }
  return undefined;
}
