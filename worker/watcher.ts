// Keeps the ledger fresh from PaymentChannels events (opens to this device, top-ups, claims, close requests,
// settlements) and keeps the chain clock. The block cursor is stored, so a restart misses nothing.
import type { Address, Hex } from "viem";
import type { ChannelTerms } from "@edgepay/protocol/terms";
import { paymentChannelsAbi } from "@edgepay/protocol/generated/contracts";
import type { ChainReader } from "./chain.ts";
import type { Ledger } from "./ledger.ts";
import type { GroupCommitter } from "./store/committer.ts";
import type { Store } from "./store/db.ts";
import { withRetries } from "./chain/channel-index.ts";

const CURSOR_KEY = "watcher.block";

/** Chain time: the latest block's timestamp plus wall-clock time since it was read. */
export class ChainClock {
  #blockTime = Math.floor(Date.now() / 1000);
  #readAt = Date.now();

  set(blockTimestamp: number) {
    this.#blockTime = blockTimestamp;
    this.#readAt = Date.now();
  }

  now(): number {
    return this.#blockTime + Math.floor((Date.now() - this.#readAt) / 1000);
  }
}

export interface WatcherEvents {
  closeRequested(channelId: Hex, closesAt: number): void;
}

export class ChainWatcher {
  readonly #chain: ChainReader;
  readonly #ledger: Ledger;
  readonly #store: Store;
  readonly #device: Address;
  readonly clock = new ChainClock();
  readonly #events: WatcherEvents;
  readonly #committer: GroupCommitter;
  #cursor: bigint | undefined;
  readonly #range: bigint;
  readonly #retries: number;
  lastBlock = 0n;

  constructor(args: {
    chain: ChainReader;
    ledger: Ledger;
    store: Store;
    committer: GroupCommitter;
    device: Address;
    events: WatcherEvents;
    /** Blocks per eth_getLogs and retries of a failed range (config `index`). */
    getLogsRange?: number;
    getLogsRetries?: number;
  }) {
    this.#range = BigInt(args.getLogsRange ?? 5_000);
    this.#retries = args.getLogsRetries ?? 3;
    this.#committer = args.committer;
    this.#chain = args.chain;
    this.#ledger = args.ledger;
    this.#store = args.store;
    this.#device = args.device;
    this.#events = args.events;
  }

  /** One poll: new blocks' events applied in order, cursor advanced after they are. */
  async poll() {
    const block = await this.#chain.client.getBlock({ blockTag: "latest" });
    this.clock.set(Number(block.timestamp));
    const head = block.number;
    if (this.#cursor === undefined) {
      const stored = this.#store.getMeta(CURSOR_KEY);
      this.#cursor = stored !== undefined ? BigInt(stored) : this.#chain.fromBlock - 1n;
    }
    let from = this.#cursor + 1n;
    while (from <= head) {
      const to = from + this.#range - 1n < head ? from + this.#range - 1n : head;
      const logs = await withRetries(this.#retries, () =>
        this.#chain.client.getContractEvents({
          address: this.#chain.contracts.paymentChannels,
          abi: paymentChannelsAbi,
          fromBlock: from,
          toBlock: to,
        }),
      );
      for (const log of logs) this.#apply({ eventName: log.eventName, args: log.args as unknown as Record<string, unknown> });
      // Queued behind the channel updates these events caused, so a stored cursor never runs ahead of them.
      this.#committer.enqueue({ op: "setMeta", key: CURSOR_KEY, value: to.toString() });
      this.#cursor = to;
      from = to + 1n;
    }
    this.lastBlock = head;
  }

  #apply(log: { eventName: string; args: Record<string, unknown> }) {
    const args = log.args;
    const id = typeof args.channelId === "string" ? (args.channelId.toLowerCase() as Hex) : undefined;
    if (!id) return;
    switch (log.eventName) {
      case "ChannelOpened": {
        if ((args.device as string).toLowerCase() !== this.#device.toLowerCase()) return;
        const t = args.terms as ChannelTerms;
        const ch = this.#ledger.known(id);
        if (!ch) {
          this.#ledger.adopt(
            id,
            { ...t, price: BigInt(t.price), royaltyBps: Number(t.royaltyBps) },
            { deposit: args.deposit as bigint, claimed: 0n, closesAt: 0, settled: false },
          );
        }
        return;
      }
      case "ChannelToppedUp": {
        const ch = this.#ledger.known(id);
        if (ch) this.#ledger.applyChainState(ch, { deposit: args.deposit as bigint });
        return;
      }
      case "Claimed": {
        const ch = this.#ledger.known(id);
        if (ch) this.#ledger.applyChainState(ch, { claimed: args.cumulativeAmount as bigint });
        return;
      }
      case "CloseRequested": {
        const ch = this.#ledger.known(id);
        if (ch) {
          const closesAt = Number(args.closesAt as bigint);
          this.#ledger.applyChainState(ch, { closesAt });
          this.#events.closeRequested(id, closesAt);
        }
        return;
      }
      case "ChannelSettled": {
        const ch = this.#ledger.known(id);
        if (ch) this.#ledger.applyChainState(ch, { settled: true, claimed: args.claimed as bigint });
        return;
      }
    }
  }
}
