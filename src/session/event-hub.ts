import type { StoreEvent, StoreListener } from './store.js';

/**
 * Fan-out of store events to this replica's listeners. Delivery is asynchronous (a microtask
 * per event, in emit order) so a listener never runs inside a store write and cannot re-enter
 * it halfway; each listener gets its own copy of the event, and one that throws is reported
 * to `onListenerError` without keeping the others from theirs.
 */
export interface EventHub {
  subscribe(listener: StoreListener): () => void;
  emit(event: StoreEvent): void;
  /** drops every listener (close) */
  clear(): void;
}

export function createEventHub(onListenerError: (error: unknown) => void = () => {}): EventHub {
  const listeners = new Set<StoreListener>();

  return {
    subscribe(listener) {
      // a wrapper per subscription, so subscribing the same function twice means twice
      const entry: StoreListener = (event) => listener(event);
      listeners.add(entry);
      return () => {
        listeners.delete(entry);
      };
    },

    emit(event) {
      if (listeners.size === 0) return;
      const targets = [...listeners];
      queueMicrotask(() => {
        for (const listener of targets) {
          // unsubscribed between the write and the delivery: it no longer wants to hear
          if (!listeners.has(listener)) continue;
          try {
            listener(structuredClone(event));
          } catch (error) {
            try {
              onListenerError(error);
            } catch {
              // the error reporter itself failed; nothing sensible is left to do with it
            }
          }
        }
      });
    },

    clear() {
      listeners.clear();
    },
  };
}
