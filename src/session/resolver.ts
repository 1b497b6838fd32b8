import type { IncomingMessage } from 'node:http';
import type { Clock } from '../lib/clock.js';
import { isLive } from './lifecycle.js';
import type { SessionCookies } from './session-cookies.js';
import type { SessionStore } from './store.js';
import type { Session } from './types.js';

export interface ResolvedSession {
  id: string;
  handle: string;
  /** when the cookie was issued (ms) */
  issuedAt: number;
  session: Session;
}

/**
 * Cookie → id → handle → live session. A missing, garbage, tampered or dead cookie is not an
 * error: it resolves to `{ session: undefined, hadCookie }`.
 */
export function createSessionResolver(deps: {
  store: SessionStore;
  sessionCookies: SessionCookies;
  clock: Clock;
  idleTimeoutMs: number;
}) {
  return async function resolve(
    req: IncomingMessage,
  ): Promise<ResolvedSession | { session: undefined; hadCookie: boolean; conflict?: true }> {
    // two session cookies: which one is the user's cannot be told, so neither is trusted
    if (deps.sessionCookies.conflicting(req)) return { session: undefined, hadCookie: true, conflict: true };
    const cookie = deps.sessionCookies.read(req);
    if (!cookie) {
      return { session: undefined, hadCookie: req.headers.cookie?.includes(`${deps.sessionCookies.name}=`) ?? false };
    }
    const handle = cookie.handle;
    const session = deps.store.peek(handle) ?? (await deps.store.get(handle));
    if (!session || !isLive(session, deps.clock.now(), deps.idleTimeoutMs)) return { session: undefined, hadCookie: true };
    return { id: cookie.id, handle, issuedAt: cookie.issuedAt, session };
  };
}

export type SessionResolver = ReturnType<typeof createSessionResolver>;
