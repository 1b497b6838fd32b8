/**
 * A binary min-heap of keys ordered by due time, with a key → position index so that
 * schedule, reschedule and cancel are O(log n). The refresh scheduler keeps every session
 * in one of these and arms a single timer for the head — never a timer per session.
 */
export interface HeapEntry<V> {
  readonly key: string;
  readonly due: number;
  readonly value: V;
}

export interface DueHeap<V> {
  size(): number;
  has(key: string): boolean;
  get(key: string): HeapEntry<V> | undefined;
  /** Inserts, or moves an existing key to its new due time (replacing its value). */
  set(key: string, due: number, value: V): void;
  /** Removes a key; false when it was not there. */
  delete(key: string): boolean;
  /** The entry due first, without removing it. */
  peek(): HeapEntry<V> | undefined;
  /** Removes and returns the entry due first. */
  pop(): HeapEntry<V> | undefined;
  keys(): IterableIterator<string>;
  clear(): void;
}

interface Node<V> {
  key: string;
  due: number;
  value: V;
}

export function createDueHeap<V>(): DueHeap<V> {
  const nodes: Node<V>[] = [];
  const index = new Map<string, number>();

  const at = (i: number): Node<V> => nodes[i] as Node<V>;

  function place(i: number, node: Node<V>): void {
    nodes[i] = node;
    index.set(node.key, i);
  }

  function up(i: number): void {
    const node = at(i);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = at(parent);
      if (p.due <= node.due) break;
      place(i, p);
      i = parent;
    }
    place(i, node);
  }

  function down(i: number): void {
    const node = at(i);
    const n = nodes.length;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && at(right).due < at(left).due ? right : left;
      const c = at(child);
      if (c.due >= node.due) break;
      place(i, c);
      i = child;
    }
    place(i, node);
  }

  function removeAt(i: number): Node<V> {
    const node = at(i);
    index.delete(node.key);
    const last = nodes.pop() as Node<V>;
    if (i < nodes.length) {
      // move the last node into the hole, then restore order in whichever direction it needs
      nodes[i] = last;
      index.set(last.key, i);
      if (i > 0 && at((i - 1) >> 1).due > last.due) up(i);
      else down(i);
    }
    return node;
  }

  const view = (node: Node<V>): HeapEntry<V> => ({ key: node.key, due: node.due, value: node.value });

  return {
    size: () => nodes.length,
    has: (key) => index.has(key),
    get(key) {
      const i = index.get(key);
      return i === undefined ? undefined : view(at(i));
    },
    set(key, due, value) {
      const i = index.get(key);
      if (i === undefined) {
        nodes.push({ key, due, value });
        up(nodes.length - 1);
        return;
      }
      const node = at(i);
      const earlier = due < node.due;
      node.due = due;
      node.value = value;
      if (earlier) up(i);
      else down(i);
    },
    delete(key) {
      const i = index.get(key);
      if (i === undefined) return false;
      removeAt(i);
      return true;
    },
    peek() {
      const head = nodes[0];
      return head === undefined ? undefined : view(head);
    },
    pop() {
      return nodes.length === 0 ? undefined : view(removeAt(0));
    },
    keys: () => index.keys(),
    clear() {
      nodes.length = 0;
      index.clear();
    },
  };
}
