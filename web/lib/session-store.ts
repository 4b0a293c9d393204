// The browser's buyer store, per chain and contract: channel session keys in localStorage (small, and written
// synchronously before a voucher leaves), receipts in IndexedDB (about 800 bytes each: localStorage's few MB
// would fill up and fail a run after a call was paid).
// A session key only ever signs vouchers for its own channel, so what it can lose is bounded by that deposit;
// it never leaves this browser (no server sees it).
import type { Address, Hex } from "viem";
import { listScope, putAll } from "./idb.ts";
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
import {
  quarantineRecordFromJson,
  quarantineRecordToJson,
  spotCheckRecordFromJson,
  spotCheckRecordToJson,
  type QuarantineRecord,
  type QuarantineRecordJson,
  type SpotCheckRecord,
  type SpotCheckRecordJson,
} from "../../protocol/client/spot-check-records.ts";

const RECEIPTS = { db: "edgepay-receipts", store: "receipts" };

interface StoredReceipt {
  key: string;
  scope: string;
  channelId: string;
  json: ReceiptRecordJson;
}

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

  // Spot checks and quarantines are few (a check is a sampled call) and must be read synchronously before a voucher
  // is signed: localStorage.
  async addSpotCheck(record: SpotCheckRecord): Promise<void> {
    const key = `${this.#prefix}.spotchecks`;
    const list = JSON.parse(window.localStorage.getItem(key) ?? "[]") as SpotCheckRecordJson[];
    list.push(spotCheckRecordToJson(record));
    window.localStorage.setItem(key, JSON.stringify(list));
  }

  async listSpotChecks(filter: { device?: Address } = {}): Promise<SpotCheckRecord[]> {
    const d = filter.device?.toLowerCase();
    const list = JSON.parse(window.localStorage.getItem(`${this.#prefix}.spotchecks`) ?? "[]") as SpotCheckRecordJson[];
    return list.map(spotCheckRecordFromJson).filter((c) => !d || c.device.toLowerCase() === d);
  }

  async getQuarantine(device: Address): Promise<QuarantineRecord | undefined> {
    const raw = window.localStorage.getItem(`${this.#prefix}.quarantine.${device.toLowerCase()}`);
    return raw ? quarantineRecordFromJson(JSON.parse(raw) as QuarantineRecordJson) : undefined;
  }

  async putQuarantine(record: QuarantineRecord): Promise<void> {
    window.localStorage.setItem(`${this.#prefix}.quarantine.${record.device.toLowerCase()}`, JSON.stringify(quarantineRecordToJson(record)));
  }

  async deleteQuarantine(device: Address): Promise<void> {
    window.localStorage.removeItem(`${this.#prefix}.quarantine.${device.toLowerCase()}`);
  }

  async listQuarantines(): Promise<QuarantineRecord[]> {
    const out: QuarantineRecord[] = [];
    for (let i = 0; i < window.localStorage.length; i++) {
      const key = window.localStorage.key(i);
      if (key?.startsWith(`${this.#prefix}.quarantine.`)) out.push(quarantineRecordFromJson(JSON.parse(window.localStorage.getItem(key)!) as QuarantineRecordJson));
    }
    return out;
  }

  /** Receipts that could not be stored (quota): kept in this tab so a paid answer is never lost, and reported. */
  readonly unsaved: ReceiptRecord[] = [];

  /**
   * Never throws: the call it records is already paid. When IndexedDB refuses (quota), the receipt stays in this
   * tab's memory (listed with the others) and `unsaved` tells the page to warn.
   */
  async addReceipt(record: ReceiptRecord): Promise<void> {
    const channelId = record.receipt.channelId.toLowerCase();
    try {
      await putAll(RECEIPTS, [{ key: `${this.#prefix}.${channelId}.${record.receipt.sequence}`, scope: this.#prefix, channelId, json: receiptRecordToJson(record) }]);
    } catch (error) {
      console.warn("receipt kept in memory only:", error);
      this.unsaved.push(record);
    }
  }

  async listReceipts(filter: { channelId?: Hex } = {}): Promise<ReceiptRecord[]> {
    const id = filter.channelId?.toLowerCase();
    const stored = await listScope<StoredReceipt>(RECEIPTS, this.#prefix).catch(() => [] as StoredReceipt[]);
    const out = stored.filter((r) => !id || r.channelId === id).map((r) => receiptRecordFromJson(r.json));
    out.push(...this.unsaved.filter((r) => !id || r.receipt.channelId.toLowerCase() === id));
    return [...out, ...this.#legacyReceipts(filter)];
  }

  /**
   * Whether a run can record what it pays for, checked before paying: a small probe write to localStorage (channel
   * records) and the origin's remaining quota (receipts). Resolves to a sentence when it cannot.
   */
  async storageProblem(calls: number): Promise<string | undefined> {
    const probe = `${this.#prefix}.probe`;
    try {
      window.localStorage.setItem(probe, "x".repeat(2048));
      window.localStorage.removeItem(probe);
    } catch {
      return "This browser's localStorage for the dashboard is full: the channel's paid amount could not be saved. Free some space (e.g. export and remove old data) before paying. Nothing was paid.";
    }
    const estimate = await navigator.storage?.estimate?.().catch(() => undefined);
    if (estimate?.quota !== undefined && estimate.usage !== undefined && estimate.quota - estimate.usage < calls * 4096) {
      return `This browser's storage quota is almost used up (${Math.round((estimate.quota - estimate.usage) / 1024)} kB left): the receipts of ${calls} calls may not fit. Nothing was paid.`;
    }
    return undefined;
  }

  /** Receipts older versions kept in localStorage, still listed (read-only). */
  #legacyReceipts(filter: { channelId?: Hex }): ReceiptRecord[] {
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
