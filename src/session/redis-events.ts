import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { createEventHub, type EventHub } from './event-hub.js';
import type { StoreEvent } from './store.js';

/**
 * The shared event hub (asynchronous delivery, a copy per listener, a throwing listener cannot
 * stop the others), plus this store's metrics: sync events by kind and the mirror's size.
 */
const COUNTED = new Set<StoreEvent['kind']>(['set', 'tombstone', 'expired', 'resync']);

export function createStoreEvents(options: { logger: Logger; metrics?: Metrics; mirrorSize(): number }): EventHub {
  const hub = createEventHub((error) => options.logger.error({ err: error }, 'session store listener failed'));
  return {
    ...hub,
    emit(event) {
      if (COUNTED.has(event.kind)) options.metrics?.syncEvents.inc({ event: event.kind });
      options.metrics?.sessionsActive.set(options.mirrorSize());
      hub.emit(event);
    },
  };
}
