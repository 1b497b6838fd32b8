import type { Clock } from '../lib/clock.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { SessionStore, StoreEvent } from './store.js';
import type { Tombstone, TombstoneReason } from './types.js';

/**
 * The audit trail: every session start and end is exactly one structured log line, written by
 * the process that caused it (it alone knows why). Lines name the session by its public handle,
 * never the cookie's id or a token.
 */
export type AuditKind = 'login' | 'rp' | 'backchannel' | 'frontchannel' | 'user' | 'operator' | 'revoked' | 'expired' | 'replaced';
export type AuditInitiator = 'user' | 'idp' | 'operator' | 'gateway';

const KIND_OF: Record<TombstoneReason, AuditKind> = {
  logout: 'rp',
  backchannel: 'backchannel',
  frontchannel: 'frontchannel',
  user: 'user',
  operator: 'operator',
  revoked: 'revoked',
  expired: 'expired',
  replaced: 'replaced',
};

const INITIATOR: Record<AuditKind, AuditInitiator> = {
  login: 'user',
  rp: 'user',
  user: 'user',
  // a new sign-in in the same browser ends the session it replaces
  replaced: 'user',
  backchannel: 'idp',
  frontchannel: 'idp',
  revoked: 'idp',
  operator: 'operator',
  expired: 'gateway',
};

export interface SessionAudit {
  started(session: { handle: string; sub: string }): void;
  ended(session: { handle: string; sub?: string | undefined }, kind: AuditKind): void;
}

export function auditKindOf(reason: TombstoneReason): AuditKind {
  return KIND_OF[reason];
}

export function createSessionAudit(deps: { logger: Logger; replica: string; clock: Clock }): SessionAudit {
  const log = deps.logger.child({ part: 'audit' });
  const line = (event: 'session_started' | 'session_ended', session: { handle: string; sub?: string | undefined }, kind: AuditKind) => ({
    event,
    session: session.handle,
    ...(session.sub ? { user: session.sub } : {}),
    kind,
    initiator: INITIATOR[kind],
    replica: deps.replica,
    at: new Date(deps.clock.now()).toISOString(),
  });
  return {
    started: (session) => log.info(line('session_started', session, 'login'), 'session started'),
    ended: (session, kind) => log.info(line('session_ended', session, kind), 'session ended'),
  };
}

/**
 * The store as callers use it: a create that succeeded is a session started; every tombstone a
 * removal returns is a session this call ended (the store hands a tombstone back only to the one
 * caller whose deletion took effect), so each end is logged once, here.
 */
export function withAudit(store: SessionStore, audit: SessionAudit): SessionStore {
  const ended = (tombstones: Tombstone[]): Tombstone[] => {
    for (const t of tombstones) audit.ended({ handle: t.handle, sub: t.sub }, auditKindOf(t.reason));
    return tombstones;
  };
  return {
    ...store,
    async create(record) {
      await store.create(record);
      audit.started({ handle: record.handle, sub: record.user.sub });
    },
    async remove(handle, reason) {
      const tombstone = await store.remove(handle, reason);
      if (tombstone) ended([tombstone]);
      return tombstone;
    },
    removeBySub: async (sub, reason) => ended(await store.removeBySub(sub, reason)),
    removeByIdpSid: async (idpSid, reason, options) => ended(await store.removeByIdpSid(idpSid, reason, options)),
  };
}

/** how long a replica's claim on logging an end lasts; a handle never comes back, so this only bounds storage */
const CLAIM_TTL_MS = 15 * 60_000;

/**
 * Ends no replica initiates: expiry (the store's TTL ran out, or the memory store's sweep), and an
 * operator's `sessions revoke` (the CLI wrote its own audit line, but only a gateway has metrics).
 * Every replica hears of them; the one that claims the handle first logs and counts.
 */
export function createEndWitness(deps: { store: SessionStore; audit: SessionAudit; metrics: Metrics; logger: Logger }) {
  const claim = async (handle: string, then: () => void): Promise<void> => {
    try {
      if (await deps.store.claimOnce(`session-end\0${handle}`, CLAIM_TTL_MS)) then();
    } catch (error) {
      deps.logger.debug({ err: error, session: handle }, 'could not claim a session end for the audit trail');
    }
  };
  return function onStoreEvent(event: StoreEvent): void {
    if (event.kind === 'expired') {
      void claim(event.handle, () => {
        deps.audit.ended({ handle: event.handle, sub: event.sub }, 'expired');
        deps.metrics.logouts.inc({ kind: 'expired' });
      });
    } else if (event.kind === 'tombstone' && event.tombstone.reason === 'operator') {
      void claim(event.tombstone.handle, () => deps.metrics.logouts.inc({ kind: 'operator' }));
    }
  };
}
