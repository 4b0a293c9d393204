// Group commit: writes queued during one turn of the event loop share one SQLite transaction (one fsync), and each
// caller's promise resolves only once that transaction is durable. An answer is never sent before its write.
import type { Store } from "./db.ts";

interface Pending {
  write: () => void;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export class GroupCommitter {
  readonly #store: Store;
  #queue: Pending[] = [];
  #scheduled = false;
  /** Observes batch sizes (metrics). */
  onFlush?: (size: number, ms: number) => void;

  constructor(store: Store) {
    this.#store = store;
  }

  /** Queues `write` for the next group transaction; resolves when it is durable. */
  commit(write: () => void): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ write, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Commits everything queued now (also used on shutdown). */
  flush() {
    this.#scheduled = false;
    const batch = this.#queue;
    if (batch.length === 0) return;
    this.#queue = [];
    const started = performance.now();
    try {
      this.#store.transaction(() => {
        for (const p of batch) p.write();
      });
    } catch (error) {
      // The whole group rolled back: nobody's write is durable, so everybody hears about it.
      for (const p of batch) p.reject(error);
      return;
    }
    this.onFlush?.(batch.length, performance.now() - started);
    for (const p of batch) p.resolve();
  }
}
