import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';

/**
 * Follows the frame headers of one direction of a relayed WebSocket (RFC 6455 §5.2) without
 * buffering payloads, so the gateway knows where a frame ends and can add its own Close frame
 * there instead of in the middle of someone else's frame.
 */
export class FrameBoundary {
  /** header bytes of the frame being read, until the header is complete */
  private header: number[] = [];
  /** payload bytes of the current frame still to come */
  private payloadLeft = 0;
  /** data frames (text, binary, continuation) begun so far; control frames (ping, pong, close) do not count */
  dataFrames = 0;

  /** true between frames */
  get atBoundary(): boolean {
    return this.payloadLeft === 0 && this.header.length === 0;
  }

  /**
   * Reads `chunk`. With `stopAtBoundary`, stops at the first frame boundary and returns how many
   * bytes belong to frames begun before it (0 when already between frames); returns undefined
   * when the chunk ends inside a frame.
   */
  consume(chunk: Buffer, stopAtBoundary = false): number | undefined {
    let i = 0;
    while (i < chunk.length) {
      if (this.payloadLeft > 0) {
        const n = Math.min(this.payloadLeft, chunk.length - i);
        this.payloadLeft -= n;
        i += n;
        continue;
      }
      if (stopAtBoundary && this.header.length === 0) return i;
      this.header.push(chunk[i]!);
      i += 1;
      this.completeHeader();
    }
    return this.atBoundary ? i : undefined;
  }

  private completeHeader(): void {
    const h = this.header;
    if (h.length < 2) return;
    const len7 = h[1]! & 0x7f;
    const extended = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
    const mask = h[1]! & 0x80 ? 4 : 0;
    if (h.length < 2 + extended + mask) return;
    // opcodes 0x0-0x2 carry data (RFC 6455 §5.2); a browser answers pings by itself, so pongs are no sign of a user
    if ((h[0]! & 0x0f) <= 0x2) this.dataFrames++;
    const bytes = Buffer.from(h);
    this.payloadLeft = extended === 2 ? bytes.readUInt16BE(2) : extended === 8 ? Number(bytes.readBigUInt64BE(2)) : len7;
    this.header = [];
  }
}

/** Close status 1001 "going away" (RFC 6455 §7.4.1): the server is shutting down. */
export const GOING_AWAY = 1001;
/** Close status 1008 "policy violation" (§7.4.1): the session ended, or the policy no longer admits it. */
export const POLICY_VIOLATION = 1008;

/**
 * A Close frame carrying `code` and a short UTF-8 `reason` (a control frame's payload is at most
 * 125 bytes, §5.5); frames towards a server must be masked (§5.3), towards a client not.
 */
export function closeFrame(code: number, reason: string, masked: boolean): Buffer {
  const text = Buffer.from(reason, 'utf8').subarray(0, 123);
  const body = Buffer.alloc(2 + text.length);
  body.writeUInt16BE(code, 0);
  text.copy(body, 2);
  if (!masked) return Buffer.concat([Buffer.from([0x88, body.length]), body]);
  const key = randomBytes(4);
  const payload = Buffer.from(body.map((b, i) => b ^ key[i % 4]!));
  return Buffer.concat([Buffer.from([0x88, 0x80 | payload.length]), key, payload]);
}

/** A Close frame carrying 1001 without a reason (shutdown). */
export function goingAwayFrame(masked: boolean): Buffer {
  return closeFrame(GOING_AWAY, '', masked);
}

/** One direction of a relayed WebSocket: bytes flow `from` → `to` (piped by http-proxy-3). */
export interface RelayDirection {
  from: Socket;
  to: Socket;
  frames: FrameBoundary;
  /** true when `to` is the upstream (a server), whose frames must be masked */
  toServer: boolean;
}

/** Watches every chunk the pipe relays, so the frame boundary is known when the relay must stop. */
export function trackFrames(direction: RelayDirection): () => void {
  const onData = (chunk: Buffer): void => {
    direction.frames.consume(chunk);
  };
  direction.from.on('data', onData);
  return () => direction.from.off('data', onData);
}

/**
 * Stops the pipe, relays the rest of the frame in progress by hand, then sends `to` a Close frame
 * (1001 unless `close` says otherwise); what `from` sends afterwards (its own Close reply) is
 * read and dropped.
 */
export function closeAtBoundary(direction: RelayDirection, untrack: () => void, close: { code: number; reason: string } = { code: GOING_AWAY, reason: '' }): void {
  const { from, to, frames } = direction;
  untrack();
  from.unpipe(to);
  const finish = (): void => {
    from.off('data', relayRest);
    // the Close frame is the last thing this side sends; the peer's reply still arrives (half-close)
    if (to.writable) to.end(closeFrame(close.code, close.reason, direction.toServer));
  };
  const relayRest = (chunk: Buffer): void => {
    const cut = frames.consume(chunk, true);
    if (cut === undefined) {
      to.write(chunk);
      return;
    }
    if (cut > 0) to.write(chunk.subarray(0, cut));
    finish();
  };
  if (frames.atBoundary) finish();
  else from.on('data', relayRest);
  // unpipe paused `from`; it keeps flowing so the rest of its frame (and its end) is read
  from.resume();
}
