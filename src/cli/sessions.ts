import { hostname } from 'node:os';
import type { Config } from '../config/index.js';
import { systemClock } from '../lib/clock.js';
import { withTimeout } from '../lib/settle.js';
import type { Logger } from '../observability/logger.js';
import { createMetrics } from '../observability/metrics.js';
import { createSessionAudit, withAudit } from '../session/audit.js';
import { createSessionStore } from '../session/create-store.js';
import type { Session } from '../session/types.js';

/** `portcullis sessions list|revoke`: operators act on the shared (Redis) store directly. */
export async function runSessionsCommand(
  config: Config,
  command: { action: 'list' | 'revoke'; user?: string; id?: string; all: boolean },
  deps: {
    logger: Logger;
    out: (line: string) => void;
    /** where the audit line of each revoked session goes (info level); default `logger` */
    auditLogger?: Logger;
  },
): Promise<number> {
  if (config.session.store !== 'redis') {
    deps.out('sessions commands need session.store: redis (the memory store lives inside one gateway process)');
    return 1;
  }
  // the operator ends these sessions, so this process writes their audit lines (replicas count them)
  const audit = createSessionAudit({ logger: deps.auditLogger ?? deps.logger, replica: `cli-${hostname()}-${process.pid}`, clock: systemClock });
  const store = withAudit(
    createSessionStore(config, { clock: systemClock, logger: deps.logger, metrics: createMetrics({ defaultMetrics: false }) }),
    audit,
  );
  try {
    await withTimeout(store.start(), 15_000, 'the session store did not become ready within 15s');
    const selected: Session[] = [];
    if (command.user) selected.push(...(await store.listBySub(command.user)));
    else if (command.id) {
      const one = await store.get(command.id);
      if (one) selected.push(one);
    } else for await (const session of store.list()) selected.push(session);

    if (command.action === 'list') {
      deps.out(['ID', 'USER', 'EMAIL', 'CREATED', 'LAST SEEN', 'EXPIRES'].join('\t'));
      for (const s of selected) {
        deps.out([s.handle, s.user.sub, s.user.email ?? '-', iso(s.createdAt), iso(s.lastSeenAt), iso(s.expiresAt)].join('\t'));
      }
      deps.out(`${selected.length} session(s)`);
      return 0;
    }
    let revoked = 0;
    if (command.user) revoked = (await store.removeBySub(command.user, 'operator')).length;
    else for (const s of selected) if (await store.remove(s.handle, 'operator')) revoked++;
    deps.out(`revoked ${revoked} session(s)`);
    return 0;
  } finally {
    await store.close();
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

