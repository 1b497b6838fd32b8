import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { createEventHub, type EventHub } from './event-hub.js';
import type { StoreEvent } from './store.js';

/**
 * The shared event hub (asynchronous delivery, a copy per listener, a throwing listener cannot
 * stop the others), plus the sync-events metric by kind.
 */
const COUNTED = new Set<StoreEvent['kind']>(['set', 'tombstone', 'expired', 'resync']);

export function createStoreEvents(options: { logger: Logger; metrics?: Metrics }): EventHub {
  const hub = createEventHub((error) => options.logger.error({ err: error }, 'session store listener failed'));
  return {
    ...hub,
    emit(event) {
      if (COUNTED.has(event.kind)) options.metrics?.syncEvents.inc({ event: event.kind });
      hub.emit(event);
    },
  };
}
