// The worker's own index of the channels opened to its device. The ChainWatcher follows PaymentChannels events
// block range by block range (eth_getLogs in chunks of `index.getLogsRange`, retried) and adopts every
// ChannelOpened to this device into the ledger, which persists it in SQLite; the block cursor is stored too, so a
// restart catches up from where it stopped. Requests never read the chain to find a channel: a voucher for a
// channel that is not in the index waits for the next poll to complete (the poll it waits for started after the
// request arrived, so a channel mined before the request is in the index by then), shared by every concurrent miss
// and bounded in time and in number of waiters. A miss therefore costs no RPC call at all, whatever its id.
import type { ResolvedConfig } from "../config.ts";

interface Waiter {
  since: number;
  resolve: (fresh: boolean) => void;
}

export class IndexFollower {
  readonly #poll: () => Promise<void>;
  readonly #missWaitMs: number;
  readonly #maxWaiters: number;
  #running: Promise<void> | undefined;
  /** Start time of the newest poll that completed successfully. */
  #freshAsOf = 0;
  #waiters: Waiter[] = [];
  /** Polls started (diagnostics). */
  polls = 0;

  constructor(poll: () => Promise<void>, options: { missWaitMs: number; maxMissWaiters: number }) {
    this.#poll = poll;
    this.#missWaitMs = options.missWaitMs;
    this.#maxWaiters = options.maxMissWaiters;
  }

  /** One poll to head; concurrent callers share it. Called by the worker's poll loop (and at start). */
  poll(): Promise<void> {
    if (this.#running) return this.#running;
    const started = Date.now();
    this.polls++;
    this.#running = this.#poll()
      .then(() => {
        this.#freshAsOf = started;
        this.#wake();
      })
      .finally(() => {
        this.#running = undefined;
      });
    return this.#running;
  }

  /** Whether the index includes every block mined before `since` (ms): true once a poll started at or after it completed. */
  isFresh(since: number): boolean {
    return this.#freshAsOf >= since;
  }

  /**
   * Waits until a poll that started at or after `since` has completed (no RPC of its own). False when the wait
   * would exceed `missWaitMs`, or `maxMissWaiters` requests already wait.
   */
  waitFresh(since: number): Promise<boolean> {
    if (this.isFresh(since)) return Promise.resolve(true);
    if (this.#missWaitMs === 0 || this.#waiters.length >= this.#maxWaiters) return Promise.resolve(false);
    return new Promise((resolve) => {
      const waiter = { since, resolve };
      this.#waiters.push(waiter);
      setTimeout(() => {
        const i = this.#waiters.indexOf(waiter);
        if (i !== -1) {
          this.#waiters.splice(i, 1);
          resolve(false);
        }
      }, this.#missWaitMs).unref();
    });
  }

  get waiting(): number {
    return this.#waiters.length;
  }

  #wake() {
    const still: Waiter[] = [];
    for (const w of this.#waiters) {
      if (this.#freshAsOf >= w.since) w.resolve(true);
      else still.push(w);
    }
    this.#waiters = still;
  }
}

/**
 * Runs `fn` (one eth_getLogs range) with `retries` retries and exponential backoff from 250 ms; the last error
 * is thrown.
 */
export async function withRetries<T>(retries: number, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (attempt >= retries) throw error;
      await new Promise((r) => setTimeout(r, 250 * 2 ** attempt));
    }
  }
}

/**
 * Deployment guard: the worker stops accepting vouchers on a closing channel `closeSafetySeconds` before it closes
 * and must get its last claim mined in that window, so a challenge period shorter than closeSafetySeconds +
 * claimTimeSeconds means a buyer can request a close and withdraw before the device can claim what it served.
 * Returns an error message naming the config keys and the contract value, or undefined when the deployment is safe.
 */
export function challengePeriodProblem(challengePeriod: number, config: Pick<ResolvedConfig, "settlement" | "contracts">): string | undefined {
  const { closeSafetySeconds, claimTimeSeconds } = config.settlement;
  const needed = closeSafetySeconds + claimTimeSeconds;
  if (challengePeriod >= needed) return undefined;
  return (
    `PaymentChannels ${config.contracts.paymentChannels} has challengePeriod() = ${challengePeriod} s, shorter than ` +
    `settlement.closeSafetySeconds (${closeSafetySeconds} s) + settlement.claimTimeSeconds (${claimTimeSeconds} s) = ${needed} s: ` +
    `a buyer could close and withdraw before the device's last claim is mined. Lower settlement.closeSafetySeconds ` +
    `and/or settlement.claimTimeSeconds so that their sum is at most ${challengePeriod}, or serve a PaymentChannels ` +
    `deployment with a challengePeriod of at least ${needed} s; refusing to serve`
  );
}
