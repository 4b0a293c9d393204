// What a buyer must remember between calls: its channels (terms, session key, how much it has paid) and the
// receipts it got. The store is pluggable: in memory here, a JSON file in protocol/node/, localStorage in a browser.
import type { Address, Hex } from "viem";
import type { ChannelTerms } from "../terms.ts";
import type { SignedReceipt } from "../receipt.ts";
import type { TensorMapWire } from "../tensors.ts";
import type { QuarantineRecord, SpotCheckRecord } from "./spot-check-records.ts";

/**
 * A paid request whose answer never came back (the connection dropped after the request may have reached the
 * device): the device may hold the voucher and claim it. It is kept until `Buyer.recover` re-sends the identical
 * voucher and inputs to the same device, which answers the paid answer again (or says it never accepted it).
 * No new voucher is signed on the channel while one is in doubt, and no other device is paid for the same request.
 */
export interface InDoubtRequest {
  /** Cumulative amount of the voucher sent. */
  amount: bigint;
  /** Units of work and their cost (amount - the channel's paid amount before the request). */
  units: number;
  cost: bigint;
  modelId: bigint;
  /** The exact voucher header and MAC sent. */
  voucher: string;
  mac?: string;
  inputs: TensorMapWire;
  /** "binary" when the request was sent as the binary frame (re-made from `inputs`, byte for byte); else JSON. */
  encoding?: "binary";
  endpoint: string;
  at: number;
  /** Sent sealed (protocol/sealed.ts): the re-send seals the same inputs again, to the same bytes. */
  sealed?: boolean;
}

export interface ChannelRecord {
  channelId: Hex;
  chainId: number;
  paymentChannels: Address;
  terms: ChannelTerms;
  /**
   * Private key of the channel's signer: a session key made for this channel only, so what it can sign is
   * bounded by the channel's deposit and no wallet prompt is needed per inference.
   */
  signerKey: Hex;
  /** Highest cumulative amount the device answered for (a valid receipt) or reported as accepted. */
  paid: bigint;
  /** Highest cumulative amount this client ever signed on the channel (the most the device can claim). */
  signed: bigint;
  /** Deposit last seen on-chain. */
  deposit: bigint;
  /** Set once a close was requested or the channel was settled: no new vouchers. */
  closing: boolean;
  /** Worker URL the channel was opened for (a hint for cooperative close). */
  endpoint?: string;
  openedAt: number;
  /**
   * The model's unit rule as first paid by on this channel (canonical JSON). Only the price is snapshotted on-chain,
   * so the client pins the rule: a device that later bills by another rule is refused, never paid more per request.
   */
  unitRule?: string;
  /** A paid request without an answer yet (see InDoubtRequest). */
  inDoubt?: InDoubtRequest;
}

export interface ReceiptRecord {
  receipt: SignedReceipt;
  /** Device that answered and the URL it was reached at. */
  device: Address;
  endpoint: string;
  /** Price per unit of work; the answer cost price x receipt.units. */
  price: bigint;
  /** Outcome of the client's check of the receipt. */
  verification: { valid: true } | { valid: false; reason: string };
  receivedAt: number;
}

/** Storage of channels and receipts. Implementations must make `putChannel` durable before resolving. */
export interface BuyerStore {
  getChannel(channelId: Hex): Promise<ChannelRecord | undefined>;
  putChannel(record: ChannelRecord): Promise<void>;
  listChannels(): Promise<ChannelRecord[]>;
  addReceipt(record: ReceiptRecord): Promise<void>;
  listReceipts(filter?: { channelId?: Hex }): Promise<ReceiptRecord[]>;
  /** Spot checks (protocol/client/spot-check.ts), oldest first. */
  addSpotCheck(record: SpotCheckRecord): Promise<void>;
  listSpotChecks(filter?: { device?: Address }): Promise<SpotCheckRecord[]>;
  /** Quarantined devices, one record per device; `putQuarantine` must be durable before resolving. */
  getQuarantine(device: Address): Promise<QuarantineRecord | undefined>;
  putQuarantine(record: QuarantineRecord): Promise<void>;
  deleteQuarantine(device: Address): Promise<void>;
  listQuarantines(): Promise<QuarantineRecord[]>;
}

/** Keeps everything in memory (tests, short scripts, a browser tab that persists elsewhere). */
export class MemoryBuyerStore implements BuyerStore {
  readonly #channels = new Map<string, ChannelRecord>();
  readonly #receipts: ReceiptRecord[] = [];

  async getChannel(channelId: Hex) {
    const r = this.#channels.get(channelId.toLowerCase());
    return r && cloneChannel(r);
  }
  async putChannel(record: ChannelRecord) {
    this.#channels.set(record.channelId.toLowerCase(), cloneChannel(record));
  }
  async listChannels() {
    return [...this.#channels.values()].map(cloneChannel);
  }
  async addReceipt(record: ReceiptRecord) {
    this.#receipts.push(record);
  }
  async listReceipts(filter: { channelId?: Hex } = {}) {
    const id = filter.channelId?.toLowerCase();
    return this.#receipts.filter((r) => !id || r.receipt.channelId.toLowerCase() === id);
  }
  readonly #checks: SpotCheckRecord[] = [];
  readonly #quarantine = new Map<string, QuarantineRecord>();
  async addSpotCheck(record: SpotCheckRecord) {
    this.#checks.push(record);
  }
  async listSpotChecks(filter: { device?: Address } = {}) {
    const d = filter.device?.toLowerCase();
    return this.#checks.filter((c) => !d || c.device.toLowerCase() === d);
  }
  async getQuarantine(device: Address) {
    const q = this.#quarantine.get(device.toLowerCase());
    return q && { ...q };
  }
  async putQuarantine(record: QuarantineRecord) {
    this.#quarantine.set(record.device.toLowerCase(), { ...record });
  }
  async deleteQuarantine(device: Address) {
    this.#quarantine.delete(device.toLowerCase());
  }
  async listQuarantines() {
    return [...this.#quarantine.values()].map((q) => ({ ...q }));
  }
}

function cloneChannel(r: ChannelRecord): ChannelRecord {
  return { ...r, terms: { ...r.terms }, ...(r.inDoubt ? { inDoubt: { ...r.inDoubt } } : {}) };
}

// JSON forms (bigints as decimal strings) so any key-value or file store can persist records.

export type ChannelRecordJson = ReturnType<typeof channelRecordToJson>;

export function channelRecordToJson(r: ChannelRecord) {
  return {
    channelId: r.channelId,
    chainId: r.chainId,
    paymentChannels: r.paymentChannels,
    terms: {
      ...r.terms,
      modelId: r.terms.modelId.toString(),
      price: r.terms.price.toString(),
      salt: r.terms.salt.toString(),
    },
    signerKey: r.signerKey,
    paid: r.paid.toString(),
    signed: r.signed.toString(),
    deposit: r.deposit.toString(),
    closing: r.closing,
    endpoint: r.endpoint,
    openedAt: r.openedAt,
    ...(r.unitRule !== undefined ? { unitRule: r.unitRule } : {}),
    ...(r.inDoubt
      ? { inDoubt: { ...r.inDoubt, amount: r.inDoubt.amount.toString(), cost: r.inDoubt.cost.toString(), modelId: r.inDoubt.modelId.toString() } }
      : {}),
  };
}

export function channelRecordFromJson(j: ChannelRecordJson): ChannelRecord {
  const { inDoubt: d, ...rest } = j;
  return {
    ...rest,
    ...(d ? { inDoubt: { ...d, amount: BigInt(d.amount), cost: BigInt(d.cost), modelId: BigInt(d.modelId) } } : {}),
    terms: { ...j.terms, modelId: BigInt(j.terms.modelId), price: BigInt(j.terms.price), salt: BigInt(j.terms.salt) },
    paid: BigInt(j.paid),
    signed: BigInt(j.signed),
    deposit: BigInt(j.deposit),
  };
}

export type ReceiptRecordJson = ReturnType<typeof receiptRecordToJson>;

export function receiptRecordToJson(r: ReceiptRecord) {
  const x = r.receipt;
  return {
    receipt: {
      ...x,
      cumulativeAmount: x.cumulativeAmount.toString(),
      units: x.units.toString(),
      sequence: x.sequence.toString(),
      modelId: x.modelId.toString(),
      timestamp: x.timestamp.toString(),
    },
    device: r.device,
    endpoint: r.endpoint,
    price: r.price.toString(),
    verification: r.verification,
    receivedAt: r.receivedAt,
  };
}

export function receiptRecordFromJson(j: ReceiptRecordJson): ReceiptRecord {
  const x = j.receipt;
  return {
    ...j,
    receipt: {
      ...x,
      cumulativeAmount: BigInt(x.cumulativeAmount),
      // Receipts stored before metered pricing carry no units: each was one unit.
      units: BigInt((x as { units?: string }).units ?? "1"),
      sequence: BigInt(x.sequence),
      modelId: BigInt(x.modelId),
      timestamp: BigInt(x.timestamp),
    },
    price: BigInt(j.price),
  };
}
