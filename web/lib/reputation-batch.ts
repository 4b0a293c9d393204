// Reputation of many devices in one indexer request: a list renders one badge per row, and a request per badge
// would be a request per device (a thousand on a large Market). Lookups asked in the same tick share one query.
import type { Address } from "viem";
import type { IndexerClient } from "../../protocol/indexer/client.ts";
import { MAX_PAGE, reputationsOf, type IndexedReputation } from "../../protocol/indexer/queries.ts";
import { EMPTY_COUNTS, reputationScore } from "../../protocol/reputation-score.ts";
import type { Reputation } from "../../protocol/reputation.ts";

interface Waiter {
  device: Address;
  resolve: (r: Reputation) => void;
  reject: (e: unknown) => void;
}

const queues = new WeakMap<IndexerClient, Waiter[]>();

function toReputation(device: Address, row: IndexedReputation | undefined): Reputation {
  if (!row) return { ...EMPTY_COUNTS, device, score: reputationScore(EMPTY_COUNTS) };
  const { id: _id, ...counts } = row;
  return { ...counts, device };
}

async function flush(indexer: IndexerClient, waiters: Waiter[]): Promise<void> {
  for (let i = 0; i < waiters.length; i += MAX_PAGE) {
    const chunk = waiters.slice(i, i + MAX_PAGE);
    try {
      const rows = await reputationsOf(indexer, [...new Set(chunk.map((w) => w.device))]);
      for (const w of chunk) w.resolve(toReputation(w.device, rows.get(w.device)));
    } catch (error) {
      for (const w of chunk) w.reject(error);
    }
  }
}

/** One device's reputation from the indexer, batched with the other lookups of the same tick. */
export function indexedReputation(indexer: IndexerClient, device: Address): Promise<Reputation> {
  return new Promise((resolve, reject) => {
    let queue = queues.get(indexer);
    if (!queue) {
      const fresh: Waiter[] = [];
      queues.set(indexer, fresh);
      queue = fresh;
      setTimeout(() => {
        queues.delete(indexer);
        void flush(indexer, fresh);
      }, 0);
    }
    queue.push({ device, resolve, reject });
  });
}
