import { hkdfSync } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { EncryptJWT, jwtDecrypt } from 'jose';
import { LRUCache } from 'lru-cache';
import { GatewayError } from '../errors.js';
import { deleteCookie, parseCookies, readCookie, serializeCookie, type CookieOptions } from '../http/cookies.js';
import type { Clock } from '../lib/clock.js';
import { digest, safeEqual } from '../lib/random.js';
import { fitPending, MAX_PENDING, parseIndex, serializeIndex, type PendingEntry } from './transaction-index.js';
import type { LoginTransaction } from './types.js';

/**
 * The login transaction (state, nonce, PKCE verifier, where to return) lives in the browser
 * that started the login, in a short-lived cookie encrypted with a key derived from
 * cookie.secret for this purpose alone. One cookie per transaction, named after its state, so
 * several tabs can log in at once. Path=/.portcullis/callback keeps it off every other request;
 * SameSite=Lax lets it ride the IdP's top-level redirect back. Usable once: the callback deletes
 * it, and consumed states are remembered so a replayed cookie is refused on this replica too.
 * How many a browser may hold is bounded when a login starts (see transaction-index.ts).
 */
export const CALLBACK_PATH = '/.portcullis/callback';
const HKDF_INFO = 'portcullis login transaction v1';
/** cookies looked at on one callback (bounded work for garbage cookie headers) */
const MAX_INSPECTED = 24;
const MAX_STATE_LENGTH = 512;

export interface TransactionCookiesOptions {
  /** the gateway cookie name; transaction cookies are `<name>_tx_<hash of state>` */
  cookieName: string;
  secret: string;
  /** cookie.domain ("" = host-only) */
  domain: string;
  secure: boolean;
  loginTimeoutMs: number;
  clock: Clock;
}

export interface TakenTransaction {
  transaction: LoginTransaction;
  /** Set-Cookie deletions: this transaction's cookie and any expired or surplus ones */
  setCookies: string[];
}

export interface TransactionCookies {
  /** A Set-Cookie header carrying the transaction. */
  issue(transaction: LoginTransaction): Promise<string>;
  /**
   * The Set-Cookie headers that start a login from `req`: the transaction's cookie, deletions of
   * the oldest pending ones beyond the bound, and the updated index of pending sign-ins.
   */
  begin(req: IncomingMessage, transaction: LoginTransaction): Promise<string[]>;
  /**
   * Finds, verifies and consumes the transaction for `state`. Unknown, expired, tampered or
   * reused → GatewayError BAD_CALLBACK (deletions to send are in `cleanup(req)`).
   */
  take(req: IncomingMessage, state: unknown): Promise<TakenTransaction>;
  /**
   * Deletions for every transaction cookie on the request that is expired, broken, for `state`, or
   * beyond the bound, and the index of the pending sign-ins that remain.
   */
  cleanup(req: IncomingMessage, state?: unknown): Promise<string[]>;
  nameFor(state: string): string;
}

export function createTransactionCookies(options: TransactionCookiesOptions): TransactionCookies {
  const key = new Uint8Array(hkdfSync('sha256', options.secret, '', HKDF_INFO, 32));
  const prefix = `${options.cookieName}_tx_`;
  const cookieOptions: CookieOptions = {
    domain: options.domain,
    path: CALLBACK_PATH,
    secure: options.secure,
    httpOnly: true,
    sameSite: 'lax',
  };
  // the index must reach every URL a login can start from: Path=/, same domain and flags
  const indexName = `${options.cookieName}_txs`;
  const indexOptions: CookieOptions = { ...cookieOptions, path: '/' };
  const consumed = new LRUCache<string, true>({ max: 10_000, ttl: Math.max(1000, options.loginTimeoutMs) });

  const nameFor = (state: string): string => `${prefix}${digest(state, 12)}`;

  async function issue(tx: LoginTransaction): Promise<string> {
    const iat = Math.floor(tx.createdAt / 1000);
    const value = await new EncryptJWT({
      state: tx.state,
      nonce: tx.nonce,
      code_verifier: tx.codeVerifier,
      return_to: tx.returnTo,
      created_at: tx.createdAt,
    })
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
      .setIssuedAt(iat)
      .setExpirationTime(Math.floor((tx.createdAt + options.loginTimeoutMs) / 1000))
      .encrypt(key);
    return serializeCookie(nameFor(tx.state), value, {
      ...cookieOptions,
      maxAgeSeconds: Math.floor(options.loginTimeoutMs / 1000),
    });
  }

  /** A Set-Cookie for the index of pending sign-ins, or its deletion when none remain. */
  function indexCookie(entries: readonly PendingEntry[]): string {
    if (entries.length === 0) return deleteCookie(indexName, indexOptions);
    return serializeCookie(indexName, serializeIndex(entries), { ...indexOptions, maxAgeSeconds: Math.floor(options.loginTimeoutMs / 1000) });
  }

  async function begin(req: IncomingMessage, tx: LoginTransaction): Promise<string[]> {
    const cookie = await issue(tx);
    const id = digest(tx.state, 12);
    // what the cookie adds to a Cookie header: `name=value; `
    const bytes = cookie.indexOf(';') + 2;
    const tracked = parseIndex(readCookie(req.headers.cookie, indexName)).filter((entry) => entry.id !== id);
    const { keep, drop } = fitPending(tracked, MAX_PENDING - 1, bytes);
    const deletions = drop.map((entry) => deleteCookie(`${prefix}${entry.id}`, cookieOptions));
    return [cookie, ...deletions, indexCookie([...keep, { id, bytes }])];
  }

  /** Decrypts one cookie value; undefined when expired, tampered or not ours. */
  async function open(value: string): Promise<LoginTransaction | undefined> {
    if (value.length > 8192) return undefined;
    try {
      const { payload } = await jwtDecrypt(value, key, {
        keyManagementAlgorithms: ['dir'],
        contentEncryptionAlgorithms: ['A256GCM'],
        requiredClaims: ['exp', 'iat'],
        currentDate: new Date(options.clock.now()),
      });
      const { state, nonce, code_verifier: codeVerifier, return_to: returnTo, created_at: createdAt } = payload;
      if (
        typeof state !== 'string' || typeof nonce !== 'string' || typeof codeVerifier !== 'string' ||
        typeof returnTo !== 'string' || typeof createdAt !== 'number'
      ) {
        return undefined;
      }
      return { state, nonce, codeVerifier, returnTo, createdAt };
    } catch {
      return undefined;
    }
  }

  function isState(state: unknown): state is string {
    return typeof state === 'string' && state.length > 0 && state.length <= MAX_STATE_LENGTH;
  }

  /** The transaction cookies on a request (name → value), bounded. */
  function pending(req: IncomingMessage): Array<[string, string]> {
    const found: Array<[string, string]> = [];
    for (const [name, value] of parseCookies(req.headers.cookie)) {
      if (name.startsWith(prefix)) found.push([name, value]);
      if (found.length >= MAX_INSPECTED) break;
    }
    return found;
  }

  async function cleanup(req: IncomingMessage, state?: unknown): Promise<string[]> {
    const own = isState(state) ? nameFor(state) : undefined;
    const deletions: string[] = [];
    const live: Array<PendingEntry & { createdAt: number }> = [];
    for (const [name, value] of pending(req)) {
      const tx = name === own ? undefined : await open(value);
      // a live transaction under another name could never be taken: as good as broken
      if (!tx || name !== nameFor(tx.state)) deletions.push(deleteCookie(name, cookieOptions));
      else live.push({ id: name.slice(prefix.length), bytes: name.length + value.length + 3, createdAt: tx.createdAt });
    }
    // a browser that starts logins and never finishes them must not grow its Cookie header forever
    live.sort((a, b) => a.createdAt - b.createdAt);
    const { keep, drop } = fitPending(live, MAX_PENDING, 0);
    for (const extra of drop) deletions.push(deleteCookie(`${prefix}${extra.id}`, cookieOptions));
    // the callback sees every pending cookie: rebuild the index from them (it may have lost some)
    if (keep.length > 0 || readCookie(req.headers.cookie, indexName) !== undefined) deletions.push(indexCookie(keep));
    return deletions;
  }

  async function take(req: IncomingMessage, state: unknown): Promise<TakenTransaction> {
    if (!isState(state)) throw new GatewayError('BAD_CALLBACK', 'The sign-in response has no valid state. Please sign in again.');
    const stateKey = digest(state);
    if (consumed.has(stateKey)) {
      throw new GatewayError('BAD_CALLBACK', 'This sign-in response was already used. Please sign in again.');
    }
    const value = parseCookies(req.headers.cookie).get(nameFor(state));
    const tx = value === undefined ? undefined : await open(value);
    if (!tx || !safeEqual(tx.state, state)) {
      throw new GatewayError(
        'BAD_CALLBACK',
        'This sign-in attempt is unknown or has expired (it must finish in the browser that started it). Please sign in again.',
      );
    }
    // re-check after the await: two concurrent callbacks with one state must not both pass
    if (consumed.has(stateKey)) {
      throw new GatewayError('BAD_CALLBACK', 'This sign-in response was already used. Please sign in again.');
    }
    consumed.set(stateKey, true);
    return { transaction: tx, setCookies: await cleanup(req, state) };
  }

  return { issue, begin, take, cleanup, nameFor };
}
