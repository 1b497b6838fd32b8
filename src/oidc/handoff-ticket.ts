import { hkdfSync } from 'node:crypto';
import { EncryptJWT, jwtDecrypt } from 'jose';
import type { Clock } from '../lib/clock.js';
import { randomToken } from '../lib/random.js';
import { isSessionId } from '../session/ids.js';

/**
 * The one-time sign-in handoff ticket: an encrypted JWT (dir + A256GCM, a key derived from
 * cookie.secret for this purpose alone) carrying the session id, the origin it is for and the
 * address to return to, valid for seconds. Encryption keeps the session id out of sight in the
 * URL; single use is enforced by the caller through the store's claimOnce on `jti`.
 */
export interface HandoffTicket {
  /** the session id (the secret the target host's cookie will carry) */
  sessionId: string;
  /** scheme://host[:port] the ticket may be redeemed at */
  origin: string;
  returnTo: string;
  /**
   * the value of the browser's handoff nonce cookie on `origin`: redeeming needs that cookie, so a
   * ticket someone obtained for their own session cannot be redeemed by another browser
   */
  nonce: string;
  /** unique per ticket: the single-use claim's name */
  jti: string;
}

export interface HandoffTickets {
  readonly ttlMs: number;
  issue(ticket: Omit<HandoffTicket, 'jti'>): Promise<string>;
  /** undefined for anything expired, tampered, malformed or not ours; never throws */
  open(value: string): Promise<HandoffTicket | undefined>;
}

const HKDF_INFO = 'portcullis sign-in handoff ticket v1';
/** a ticket far longer than any we issue (return addresses are bounded) is not ours */
const MAX_TICKET_LENGTH = 8192;

export function createHandoffTickets(options: { secret: string; clock: Clock; ttlMs?: number }): HandoffTickets {
  const key = new Uint8Array(hkdfSync('sha256', options.secret, '', HKDF_INFO, 32));
  const ttlMs = options.ttlMs ?? 30_000;
  return {
    ttlMs,
    async issue(ticket) {
      const now = options.clock.now();
      return new EncryptJWT({ sid: ticket.sessionId, origin: ticket.origin, rd: ticket.returnTo, nonce: ticket.nonce })
        .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
        .setJti(randomToken(32))
        .setIssuedAt(Math.floor(now / 1000))
        .setExpirationTime(Math.floor((now + ttlMs) / 1000))
        .encrypt(key);
    },
    async open(value) {
      if (value.length === 0 || value.length > MAX_TICKET_LENGTH) return undefined;
      try {
        const { payload } = await jwtDecrypt(value, key, {
          keyManagementAlgorithms: ['dir'],
          contentEncryptionAlgorithms: ['A256GCM'],
          requiredClaims: ['exp', 'iat', 'jti'],
          currentDate: new Date(options.clock.now()),
        });
        const { sid, origin, rd, jti, nonce } = payload;
        if (typeof sid !== 'string' || !isSessionId(sid) || typeof origin !== 'string' || typeof rd !== 'string' || typeof jti !== 'string') {
          return undefined;
        }
        if (typeof nonce !== 'string' || nonce === '') return undefined;
        return { sessionId: sid, origin, returnTo: rd, nonce, jti };
      } catch {
        return undefined;
      }
    },
  };
}

export const HANDOFF_PATH = '/.portcullis/handoff';
export const HANDOFF_COMPLETE_PATH = '/.portcullis/handoff/complete';
export const HANDOFF_CHECK_PATH = '/.portcullis/handoff/check';

/** Where a handoff begins: on the host that will redeem the ticket, which first sets its nonce cookie. */
export function handoffStartUrl(returnTo: URL): string {
  return `${returnTo.origin}${HANDOFF_PATH}?rd=${encodeURIComponent(returnTo.href)}`;
}

/** Where the browser redeems a fresh ticket for `sessionId`: the return address's own host. */
export async function handoffCompleteUrl(tickets: HandoffTickets, sessionId: string, returnTo: URL, nonce: string): Promise<string> {
  const ticket = await tickets.issue({ sessionId, origin: returnTo.origin, returnTo: returnTo.href, nonce });
  // a compact JWE is base64url segments joined by dots: URL-safe as it is
  return `${returnTo.origin}${HANDOFF_COMPLETE_PATH}?ticket=${ticket}`;
}
