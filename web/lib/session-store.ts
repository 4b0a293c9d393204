// The browser's buyer store: channel session keys and receipts in localStorage, per chain and contract.
// A session key only ever signs vouchers for its own channel, so what it can lose is bounded by that deposit;
// it never leaves this browser (no server sees it).
import type { Address, Hex } from "viem";
import {
  channelRecordFromJson,
  channelRecordToJson,
  receiptRecordFromJson,
  receiptRecordToJson,
  type BuyerStore,
  type ChannelRecord,
  type ChannelRecordJson,
  type ReceiptRecord,
  type ReceiptRecordJson,
} from "../../protocol/client/store.ts";

export class LocalStorageBuyerStore implements BuyerStore {
  readonly #prefix: string;

  constructor(chainId: number, paymentChannels: Address) {
    this.#prefix = `edgepay.v1.${chainId}.${paymentChannels.toLowerCase()}`;
  }

  async getChannel(channelId: Hex): Promise<ChannelRecord | undefined> {
    return this.getChannelSync(channelId);
  }

  getChannelSync(channelId: Hex): ChannelRecord | undefined {
    const raw = window.localStorage.getItem(`${this.#prefix}.channel.${channelId.toLowerCase()}`);
    return raw ? channelRecordFromJson(JSON.parse(raw) as ChannelRecordJson) : undefined;
  }

  async putChannel(record: ChannelRecord): Promise<void> {
    // localStorage writes are synchronous: the key is stored before the open transaction is even sent.
    window.localStorage.setItem(`${this.#prefix}.channel.${record.channelId.toLowerCase()}`, JSON.stringify(channelRecordToJson(record)));
  }

  async listChannels(): Promise<ChannelRecord[]> {
    const out: ChannelRecord[] = [];
    for (let i = 0; i < window.localStorage.length; i++) {
      const key = window.localStorage.key(i);
      if (key?.startsWith(`${this.#prefix}.channel.`)) {
        out.push(channelRecordFromJson(JSON.parse(window.localStorage.getItem(key)!) as ChannelRecordJson));
      }
    }
    return out;
  }

  async addReceipt(record: ReceiptRecord): Promise<void> {
    const key = `${this.#prefix}.receipts.${record.receipt.channelId.toLowerCase()}`;
    const list = JSON.parse(window.localStorage.getItem(key) ?? "[]") as ReceiptRecordJson[];
    list.push(receiptRecordToJson(record));
    // Keep the newest 500 per channel: enough to audit a session without filling the origin's quota.
    window.localStorage.setItem(key, JSON.stringify(list.slice(-500)));
  }

  async listReceipts(filter: { channelId?: Hex } = {}): Promise<ReceiptRecord[]> {
    const keys: string[] = [];
    for (let i = 0; i < window.localStorage.length; i++) {
      const key = window.localStorage.key(i);
      if (!key?.startsWith(`${this.#prefix}.receipts.`)) continue;
      if (filter.channelId && !key.endsWith(filter.channelId.toLowerCase())) continue;
      keys.push(key);
    }
    return keys.flatMap((k) => (JSON.parse(window.localStorage.getItem(k)!) as ReceiptRecordJson[]).map(receiptRecordFromJson));
  }
}
