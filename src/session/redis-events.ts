import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { StoreEvent, StoreListener } from './store.js';

/** Delivers store events to this replica's listeners; a throwing listener cannot stop the others. */
export interface EventHub {
  emit(event: StoreEvent): void;
  subscribe(listener: StoreListener): () => void;
}

const COUNTED = new Set<StoreEvent['kind']>(['set', 'tombstone', 'expired', 'resync']);

export function createEventHub(options: { logger: Logger; metrics?: Metrics; mirrorSize(): number }): EventHub {
  const listeners = new Set<StoreListener>();
  return {
    emit(event) {
      if (COUNTED.has(event.kind)) options.metrics?.syncEvents.inc({ event: event.kind });
      options.metrics?.sessionsActive.set(options.mirrorSize());
      for (const listener of [...listeners]) {
        try {
          listener(event);
        } catch (error) {
          options.logger.error({ err: error, event: event.kind }, 'session store listener failed');
        }
      }
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
  };
}
