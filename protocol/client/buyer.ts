// The buyer client: channels on-chain, and pay-per-call inference against one or more workers.
//
// Payment rules, so that a retry never pays twice for one answer:
// - A voucher's amount is fixed before the request is sent and recorded (`signed`) before it leaves the process.
// - A network failure re-sends the *same* voucher header (same amount, same signature, same MAC). The worker either
//   never saw it (it is accepted now), or it already accepted it and answers the stored answer and receipt again
//   (worker/ replays an identical voucher with identical inputs), so one amount buys one answer.
// - A 402 carries the worker's `lastAccepted` and `required`; the client moves its counter to `lastAccepted` only
//   when that is at most what it signed, and never pays more than the request's cost above it.
// - Metered pricing: the cost of a request is units x the channel's price per unit, units counted from the input
//   shapes by the model's published unit rule (protocol/units.ts) before anything is sent.
// - A request whose answer is lost after it may have reached the device is *in doubt*: it is kept in the store,
//   never sent to another device (that would pay twice for one answer), and `recover()` re-sends it unchanged to
//   the same device, which replays the paid answer. No new voucher is signed on that channel meanwhile.
// - Requests on one channel are serialised in this process; cumulative vouchers need an order.
import type { Reputation } from "../reputation.ts";
import { BuyerReputation, type BuyerReputationOptions, type FeedbackSent } from "./reputation.ts";
import { listChannels, type ChannelSource } from "./indexed-channels.ts";
import { isAddressEqual, recoverTypedDataAddress, type Address, type Hex, type PublicClient } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { closeTypes, channelsDomain } from "../eip712.ts";
import type { SignedReceipt } from "../receipt.ts";
import { bodyHash, closePath, inferPath, requestMac, sessionKey, type MacRequest } from "../session.ts";
import { hashTensors, tensorFromWire, tensorToWire, type Tensor, type TensorMapWire } from "../tensors.ts";
import { channelIdOf, type ChannelTerms } from "../terms.ts";
import { encodeVoucherHeader, signVoucher, type Voucher } from "../voucher.ts";
import { costOf, UnitError, unitsOf, type UnitRule } from "../units.ts";
import type { OfferingsWire, PaymentRequirementsWire } from "../wire.ts";
import {
  closeChannelCooperatively,
  listChannelsOf,
  openChannel,
  readChannel,
  readModelHash,
  readOfferingTerms,
  readRegistries,
  readTolerance,
  requestCloseChannel,
  topUpChannel,
  withdrawChannel,
  type Approval,
  type BuyerWallet,
  type ChainContext,
  type ChannelListing,
  type Registries,
} from "./chain.ts";
import { EdgepayClientError, type ClientErrorCode } from "./errors.ts";
import { randomUint256 } from "./keys.ts";
import { MemoryBuyerStore, type BuyerStore, type ChannelRecord, type InDoubtRequest, type ReceiptRecord } from "./store.ts";
import { verifyReceipt } from "./verify.ts";
import { checkSpotCheckOptions, drawSpotCheck, inconclusive, judge, SpotCheckUnavailable, type CheckedCall, type Reference, type SpotCheckOptions } from "./spot-check.ts";
import type { QuarantineRecord, SpotCheckRecord } from "./spot-check-records.ts";
import { disputeSpotCheck, reviewDisputedQuarantines, type BuyerDisputeOptions, type QuarantineReview } from "./buyer-disputes.ts";
import type { OpenedDispute } from "./answer-dispute.ts";
import type { Tolerance } from "../tolerance.ts";
import { checkOfferedKey, checkRegistered } from "./identity.ts";
import { sealBody, type SealedCall } from "./sealed-call.ts";
import { channelSealKeys, type SealKeys } from "../sealed.ts";
import { decodeVoucherHeader } from "../voucher.ts";
import {
  CLOSE_BODY,
  encodeInferRequest,
  fetchChannelInfo,
  inferBody,
  fetchOfferings,
  postInfer,
  requestCloseSignature,
  type HttpOptions,
  type InferAnswer,
  type InferEncoding,
  type InferOk,
  type InferRequestBody,
} from "./worker-api.ts";

export interface AutoOpen {
  /** Deposit of a channel opened automatically when no channel with credit exists for the chosen device. */
  deposit: bigint;
  approval?: Approval;
}

export interface BuyerOptions {
  publicClient: PublicClient;
  /** The payer's wallet; needed to open, top up and close, not to pay on an existing channel. */
  wallet?: BuyerWallet;
  paymentChannels: Address;
  store?: BuyerStore;
  http?: HttpOptions;
  /** Times a request is re-sent unchanged after a network failure before the device counts as down. */
  retries?: number;
  retryDelayMs?: number;
  /** Seconds an offerings answer is reused. */
  offeringsTtlSeconds?: number;
  /** Seconds a worker that stopped answering is tried only after the others (default 30). */
  downSeconds?: number;
  autoOpen?: AutoOpen;
  /** Progress events (opening a channel, failing over, ...) for UIs and logs. */
  onEvent?: (event: BuyerEvent) => void;
  /**
   * Seal paid requests and require sealed answers (protocol/sealed.ts; default true): a relay then sees neither
   * inputs nor outputs and cannot alter them. `false` sends the body in clear (in `http.encoding`), for workers that predate sealing.
   */
  sealing?: boolean;
  /**
   * Re-check a random share of paid calls with a verifier (protocol/client/spot-check.ts) under the model's on-chain
   * tolerance; a device that fails is quarantined (no new vouchers to it). Off when not given.
   */
  spotCheck?: SpotCheckOptions;
  /**
   * Route by price and reputation (protocol/reputation.ts) and post spot-check outcomes as feedback to
   * DeviceReputation (README, "Reputation"). Off when not given: workers are tried in the caller's order.
   */
  reputation?: BuyerReputationOptions;
  /** Where `channels()` lists from: the indexer when given and answering, else a paged scan of the chain. */
  channelSource?: ChannelSource;
  /** Disputes about wrong answers (protocol/client/buyer-disputes.ts): the contract, and whether a failed check opens one. */
  disputes?: BuyerDisputeOptions;
}

export type BuyerEvent =
  | { type: "channel_opening"; endpoint?: string; device: Address; modelId: bigint; deposit: bigint }
  | { type: "channel_opened"; channelId: Hex }
  | { type: "resync"; channelId: Hex; lastAccepted: bigint; code: string }
  | { type: "retry"; endpoint: string; attempt: number; error: string }
  | { type: "failover"; from: string; error: string }
  | { type: "in_doubt"; endpoint: string; channelId: Hex; amount: bigint; error: string }
  | { type: "recovered"; endpoint: string; channelId: Hex; amount: bigint; outcome: RecoveryOutcome["status"] }
  | { type: "spot_check"; check: SpotCheckRecord }
  | { type: "quarantined"; quarantine: QuarantineRecord }
  | { type: "feedback"; feedback: FeedbackSent }
  | { type: "feedback_failed"; device: Address; error: string };

/** What `recover()` found out about a request in doubt. */
export type RecoveryOutcome =
  /** The device answered the paid request again: the answer and its receipt. */
  | { status: "recovered"; channelId: Hex; amount: bigint; result: InferResult }
  /** The device accepted the voucher but cannot replay the answer: paid, no answer. */
  | { status: "paid_unanswered"; channelId: Hex; amount: bigint; message: string }
  /** The device never accepted the voucher: nothing was paid for it. */
  | { status: "not_accepted"; channelId: Hex; amount: bigint; message: string }
  /** The device cannot be reached yet: still in doubt (still claimable by the device). */
  | { status: "still_in_doubt"; channelId: Hex; amount: bigint; message: string };

export interface InferOptions {
  /** Workers offering the model, tried in order: the next one is used when one stops answering. */
  workers: string[];
  autoOpen?: AutoOpen;
  /**
   * Pay from exactly this channel (its session key must be in the store). Without it the client picks the newest
   * channel with credit to the worker's device for the model; with it, it never pays from another channel and
   * never opens one (a UI that shows "pays from X" must pass X).
   */
  channelId?: Hex;
  /**
   * Asked before this call locks money: before a channel is opened for it and before each voucher is signed.
   * Throwing refuses it (nothing is deposited or signed); a spending cap (e.g. an agent's budget) lives here.
   */
  authorize?: (intent: SpendIntent) => Promise<void> | void;
  /**
   * The device the caller means (e.g. picked from the DeviceRegistry): a worker whose key is another device's is
   * refused (device_key_mismatch) before anything is sent. With `channelId` the channel's device is required anyway.
   */
  device?: Address;
}

/** What a paid call is about to do, for `InferOptions.authorize`. */
export type SpendIntent =
  /** Open a channel with this deposit; the call will cost about `units` x `price` (the offered price). */
  | { kind: "open"; device: Address; modelId: bigint; token: Address; deposit: bigint; units: number; price: bigint; cost: bigint }
  /**
   * Sign a voucher for the cumulative `amount`; `signed` is the most ever signed on the channel before it, so
   * amount - signed (when positive) is what the device can newly claim.
   */
  | { kind: "voucher"; channelId: Hex; device: Address; modelId: bigint; token: Address; amount: bigint; signed: bigint; units: number; price: bigint; cost: bigint };

export interface InferResult {
  outputs: Record<string, Tensor>;
  receipt: SignedReceipt;
  /** Price per unit of work on the channel. */
  price: bigint;
  /** Units of work charged (receipt.units) and what the answer cost: units x price. */
  units: bigint;
  cost: bigint;
  channelId: Hex;
  device: Address;
  endpoint: string;
}

export interface OpenArgs {
  device: Address;
  modelId: bigint;
  token: Address;
  deposit: bigint;
  approval?: Approval;
  /** Worker URL, remembered for cooperative close. */
  endpoint?: string;
}

export interface ChannelSummary extends ChannelListing {
  /** deposit - max(claimed on-chain, paid as this client knows it). */
  remaining: bigint;
  /** Paid as this client knows it (receipts and worker reports); undefined when the store has no record. */
  paid?: bigint;
  /** Whether this store holds the channel's session key (it can pay on it). */
  hasKey: boolean;
}

/** Errors after which the next worker in the list is tried. */
const FAILOVER_CODES: readonly ClientErrorCode[] = ["device_quarantined", "worker_unreachable", "bad_worker_response", "model_not_offered", "offering_mismatch", "no_channel", "insufficient_credit", "worker_rejected"];

/** The request itself is wrong: another device would refuse it too. */
const INPUT_ERRORS = ["bad_request", "invalid_json", "body_too_large", "unsupported_media_type", "invalid_tensor"];

function canFailOver(error: EdgepayClientError): boolean {
  if (!FAILOVER_CODES.includes(error.code)) return false;
  return !(error.code === "worker_rejected" && error.workerCode && INPUT_ERRORS.includes(error.workerCode));
}

export class Buyer {
  readonly publicClient: PublicClient;
  readonly wallet?: BuyerWallet;
  readonly paymentChannels: Address;
  readonly store: BuyerStore;
  readonly #opts: BuyerOptions;
  readonly #ctx: ChainContext;
  readonly #channelSource: ChannelSource;
  readonly #spotCheck?: Required<SpotCheckOptions>;
  #chainId?: number;
  #registries?: Promise<Registries>;
  readonly #modelHashes = new Map<string, Promise<Hex>>();
  readonly #offerings = new Map<string, { at: number; value: Promise<VerifiedOfferings> }>();
  readonly #locks = new Map<string, Promise<unknown>>();
  readonly #macKeys = new Map<string, Uint8Array>();
  readonly #sealKeys = new Map<string, SealKeys>();
  readonly #checked = new Set<string>();
  readonly #lastSequence = new Map<string, bigint>();
  /** Workers that stopped answering, until when they go to the back of the list. */
  readonly #down = new Map<string, number>();
  readonly #reputation?: BuyerReputation;

  constructor(options: BuyerOptions) {
    this.#opts = options;
    this.publicClient = options.publicClient;
    this.wallet = options.wallet;
    this.paymentChannels = options.paymentChannels;
    this.store = options.store ?? new MemoryBuyerStore();
    this.#ctx = { publicClient: options.publicClient, paymentChannels: options.paymentChannels };
    this.#channelSource = options.channelSource ?? {};
    if (options.spotCheck) this.#spotCheck = checkSpotCheckOptions(options.spotCheck);
    if (options.reputation) {
      this.#reputation = new BuyerReputation(options.publicClient, async () => (await this.#getRegistries()).deviceRegistry, options.reputation);
    }
  }

  // ------------------------------------------------------------------ channels

  /** Opens a channel whose signer is a fresh session key kept in the store. */
  async open(args: OpenArgs): Promise<ChannelRecord> {
    const wallet = this.#requireWallet("open a channel");
    if (args.deposit <= 0n) throw new EdgepayClientError("bad_argument", "the deposit must be above 0");
    const registries = await this.#getRegistries();
    const onchain = await readOfferingTerms(this.#ctx, registries, args.device, args.modelId, args.token);
    const signerKey = generatePrivateKey();
    const terms: ChannelTerms = {
      payer: wallet.account.address,
      signer: privateKeyToAccount(signerKey).address,
      device: args.device,
      payee: onchain.payee,
      token: args.token,
      modelId: args.modelId,
      price: onchain.price,
      royaltyBps: onchain.royaltyBps,
      salt: randomUint256(),
    };
    const record: ChannelRecord = {
      channelId: channelIdOf(terms),
      chainId: await this.chainId(),
      paymentChannels: this.paymentChannels,
      terms,
      signerKey,
      paid: 0n,
      signed: 0n,
      deposit: 0n,
      closing: false,
      endpoint: args.endpoint,
      openedAt: Date.now(),
    };
    // Keep the session key before the deposit leaves the wallet: a crash after mining must not strand the channel.
    await this.store.putChannel(record);
    this.#emit({ type: "channel_opening", endpoint: args.endpoint, device: args.device, modelId: args.modelId, deposit: args.deposit });
    const opened = await openChannel(this.#ctx, wallet, terms, args.deposit, args.approval);
    record.deposit = opened.deposit;
    await this.store.putChannel(record);
    this.#checked.add(record.channelId);
    this.#emit({ type: "channel_opened", channelId: record.channelId });
    return record;
  }

  async topUp(channelId: Hex, amount: bigint, approval?: Approval): Promise<Hex> {
    const wallet = this.#requireWallet("top up");
    const terms = await this.#termsOf(channelId);
    const { hash, deposit } = await topUpChannel(this.#ctx, wallet, terms, amount, approval);
    const record = await this.store.getChannel(channelId);
    if (record && deposit > record.deposit) await this.store.putChannel({ ...record, deposit });
    return hash;
  }

  /** Starts the challenge period; the device may still claim until it ends. */
  async requestClose(channelId: Hex): Promise<Hex> {
    const wallet = this.#requireWallet("request a close");
    const hash = await requestCloseChannel(this.#ctx, wallet, await this.#termsOf(channelId));
    await this.#refresh(channelId);
    return hash;
  }

  /** Refunds what the device did not claim, after the challenge period. */
  async withdraw(channelId: Hex): Promise<Hex> {
    const wallet = this.#requireWallet("withdraw");
    const hash = await withdrawChannel(this.#ctx, wallet, await this.#termsOf(channelId));
    await this.#refresh(channelId);
    return hash;
  }

  /**
   * Settles at once: asks the worker for the device's CloseChannel signature (authorised by the channel's latest
   * voucher), checks it, and submits it. The refund arrives in the same transaction.
   */
  async closeCooperatively(channelId: Hex, endpoint?: string): Promise<{ hash: Hex; amount: bigint }> {
    const wallet = this.#requireWallet("close a channel");
    return this.#withLock(channelId, async () => {
      const record = await this.#requireRecord(channelId);
      const url = endpoint ?? record.endpoint;
      if (!url) throw new EdgepayClientError("bad_argument", `no worker URL known for channel ${channelId}; pass one`);
      const offers = await this.offerings(url);
      const closeAt = async (amount: bigint) => {
        const voucher = await this.#sign(record, amount);
        const mac = this.#requestMac(record, offers.devicePublicKey, voucher, record.terms.modelId, closePath(channelId), bodyHash(CLOSE_BODY));
        return requestCloseSignature(url, channelId, encodeVoucherHeader(voucher), mac, this.#opts.http);
      };
      let answer: Awaited<ReturnType<typeof requestCloseSignature>>;
      try {
        answer = await closeAt(record.paid);
      } catch (error) {
        if (!(error instanceof EdgepayClientError) || error.workerCode !== "voucher_stale") throw error;
        // The worker accepted more than this client has receipts for (an answer lost in transit): close at what
        // the worker accepted, as long as this client signed it.
        const info = await fetchChannelInfo(url, channelId, this.#opts.http);
        if (info.lastAccepted > record.signed) {
          throw new EdgepayClientError("worker_overclaims", `${url} reports ${info.lastAccepted} accepted on ${channelId}, but this client signed at most ${record.signed}`);
        }
        answer = await closeAt(info.lastAccepted);
      }
      if (answer.channelId.toLowerCase() !== channelId.toLowerCase()) throw new EdgepayClientError("bad_worker_response", `${url}: close signature is for channel ${answer.channelId}`);
      if (!isAddressEqual(answer.device, record.terms.device)) throw new EdgepayClientError("bad_worker_response", `${url}: close signed by ${answer.device}, not the channel's device`);
      if (answer.cumulativeAmount > record.signed) {
        throw new EdgepayClientError("worker_overclaims", `${url}: wants to close at ${answer.cumulativeAmount} but the client signed at most ${record.signed}`);
      }
      const signer = await recoverTypedDataAddress({
        domain: channelsDomain(record.chainId, record.paymentChannels),
        types: closeTypes,
        primaryType: "CloseChannel",
        message: { channelId, cumulativeAmount: answer.cumulativeAmount },
        signature: answer.signature,
      }).catch(() => undefined);
      if (!signer || !isAddressEqual(signer, record.terms.device)) throw new EdgepayClientError("bad_worker_response", `${url}: the close signature is not the device's`);
      record.closing = true;
      record.paid = answer.cumulativeAmount > record.paid ? answer.cumulativeAmount : record.paid;
      // The close settles whatever was in doubt: paid if the device's close covers it, never accepted otherwise.
      if (record.inDoubt) record.inDoubt = undefined;
      await this.store.putChannel(record);
      const hash = await closeChannelCooperatively(this.#ctx, wallet, record.terms, answer.cumulativeAmount, answer.signature);
      await this.#refresh(channelId);
      return { hash, amount: answer.cumulativeAmount };
    });
  }

  /** Channels `payer` (default: the wallet) opened on-chain, with what is left on each. */
  async channels(payer?: Address, fromBlock?: bigint): Promise<ChannelSummary[]> {
    const who = payer ?? this.wallet?.account.address;
    if (!who) throw new EdgepayClientError("bad_argument", "no payer given and no wallet configured");
    const listed = await listChannels(this.#ctx, who, fromBlock, this.#channelSource);
    return Promise.all(
      listed.map(async (c) => {
        const record = await this.store.getChannel(c.channelId);
        const spent = record && record.paid > c.state.claimed ? record.paid : c.state.claimed;
        const remaining = c.status === "settled" ? 0n : c.state.deposit - spent;
        return { ...c, remaining, paid: record?.paid, hasKey: Boolean(record) };
      }),
    );
  }

  async receipts(filter?: { channelId?: Hex }): Promise<ReceiptRecord[]> {
    return this.store.listReceipts(filter);
  }

  async chainId(): Promise<number> {
    this.#chainId ??= await this.publicClient.getChainId();
    return this.#chainId;
  }

  // ------------------------------------------------------------------ inference

  /**
   * Runs one paid inference. Workers are tried in order; a worker that stops answering (after `retries` re-sends
   * of the same voucher) or cannot serve is skipped for the next, and so is a quarantined device. With `spotCheck`
   * a drawn call is re-checked before it returns; a failed check throws `spot_check_failed` (the answer was paid but
   * is wrong) and quarantines the device.
   */
  async infer(modelId: bigint, inputs: Record<string, Tensor>, options: InferOptions): Promise<InferResult> {
    const result = await this.#route(modelId, inputs, options);
    if (this.#spotCheck && drawSpotCheck(this.#spotCheck.rate)) {
      const call = { device: result.device, endpoint: result.endpoint, modelId, receipt: result.receipt, inputs, outputs: result.outputs };
      const check = await this.#runSpotCheck(this.#spotCheck, call, options.authorize);
      if (check.outcome === "failed") {
        let disputed = "";
        if (this.#opts.disputes?.auto) {
          // The paid answer is wrong either way; a dispute that cannot be opened is reported, not thrown instead.
          disputed = await this.disputeAnswer(check.id).then(
            (d) => `; dispute ${d.id} opened`,
            (e: unknown) => `; no dispute opened: ${(e as Error).message}`,
          );
        }
        throw new EdgepayClientError(
          "spot_check_failed",
          `${result.endpoint}: device ${result.device} answered model ${modelId} wrong (receipt ${check.id}, ${describeMismatch(check)}); it is quarantined and the evidence is kept (Buyer.spotChecks)${disputed}`,
          { reason: check.reason },
        );
      }
    }
    return result;
  }

  // ------------------------------------------------------------------ spot checks and quarantine

  /** Spot checks run so far (oldest first), optionally of one device. */
  async spotChecks(filter?: { device?: Address }): Promise<SpotCheckRecord[]> {
    return this.store.listSpotChecks(filter);
  }

  /** Devices this client signs no new voucher to. */
  async quarantined(): Promise<QuarantineRecord[]> {
    return this.store.listQuarantines();
  }

  /** Lets vouchers go to `device` again by hand (a won dispute does it in reviewQuarantines). Returns what was cleared. */
  async clearQuarantine(device: Address): Promise<QuarantineRecord | undefined> {
    const q = await this.store.getQuarantine(device);
    if (q) await this.store.deleteQuarantine(device);
    return q;
  }

  /** Opens a dispute about failed spot check `checkId` with its kept evidence (options.disputes names the contract). */
  async disputeAnswer(checkId: string): Promise<OpenedDispute> {
    return disputeSpotCheck(this.store, this.#disputeContext(), this.wallet, checkId);
  }

  /** Lifts the quarantine of each device that won its dispute; a device that lost (or not yet resolved) stays out. */
  async reviewQuarantines(): Promise<QuarantineReview[]> {
    return reviewDisputedQuarantines(this.store, this.#disputeContext());
  }

  #disputeContext() {
    const answerDisputes = this.#opts.disputes?.answerDisputes;
    if (!answerDisputes) throw new EdgepayClientError("bad_argument", "no AnswerDisputes contract configured (BuyerOptions.disputes.answerDisputes)");
    return { publicClient: this.publicClient, answerDisputes };
  }

  async #refuseQuarantined(device: Address, endpoint?: string) {
    const q = await this.store.getQuarantine(device);
    if (!q) return;
    throw new EdgepayClientError(
      "device_quarantined",
      `${endpoint ? `${endpoint}: ` : ""}device ${device} is quarantined: it failed a spot check on receipt ${q.checkId} (model ${q.modelId}, ${q.reason}); no voucher is signed to it until Buyer.clearQuarantine`,
    );
  }

  /** Re-runs a paid call's inputs on the verifier and records the verdict; a failed check quarantines the device. */
  async #runSpotCheck(options: Required<SpotCheckOptions>, call: CheckedCall, authorize: InferOptions["authorize"]): Promise<SpotCheckRecord> {
    let tolerance: Tolerance | undefined;
    let check: SpotCheckRecord;
    try {
      // Read at each check: the owner may declare or change it at any time.
      tolerance = await readTolerance(this.#ctx, await this.#getRegistries(), call.modelId);
      check = judge(call, await this.#reference(options, call, authorize), tolerance);
    } catch (error) {
      // No tolerance or no verifier answer: no verdict, and the paid answer is not withheld for it.
      const reason = !tolerance
        ? "tolerance_unreadable"
        : error instanceof SpotCheckUnavailable
          ? error.reason
          : error instanceof EdgepayClientError
            ? `verifier_${error.code}`
            : "verifier_error";
      check = inconclusive(call, tolerance, reason);
    }
    await this.store.addSpotCheck(check);
    this.#emit({ type: "spot_check", check });
    await this.#postSpotCheck(check);
    if (check.outcome === "failed") {
      const quarantine: QuarantineRecord = {
        device: call.device,
        modelId: call.modelId,
        checkId: check.id,
        channelId: check.channelId,
        sequence: check.sequence,
        reason: check.reason!,
        at: check.at,
      };
      await this.store.putQuarantine(quarantine);
      this.#emit({ type: "quarantined", quarantine });
    }
    return check;
  }

  /** Posts a spot check's verdict as on-chain feedback when reputation is on and a wallet is set; never throws. */
  async #postSpotCheck(check: SpotCheckRecord) {
    if (!this.#reputation?.options.deviceReputation || !this.wallet) return;
    const record = await this.store.getChannel(check.channelId);
    if (!record) return;
    try {
      const feedback = await this.#reputation.postSpotCheck(this.wallet, check, record.terms);
      if (feedback) this.#emit({ type: "feedback", feedback });
    } catch (error) {
      this.#emit({ type: "feedback_failed", device: check.device, error: error instanceof Error ? error.message : String(error) });
    }
  }

  /** The verifier's outputs; a paid verifier call goes through the caller's `authorize` (its budget covers checks). */
  async #reference(options: Required<SpotCheckOptions>, call: CheckedCall, authorize: InferOptions["authorize"]): Promise<Reference> {
    const verifier = options.verifier;
    if (verifier.kind === "local") {
      const outputs = await verifier.runner.run(call.modelId, await this.#modelHash(call.modelId), call.inputs);
      return { outputs, verifier: { kind: "local", runner: verifier.runner.name }, cost: 0n };
    }
    // Another device: never the one checked (it would agree with itself).
    const others: string[] = [];
    for (const w of verifier.workers) {
      const offers = await this.offerings(w).catch(() => undefined);
      if (offers && !isAddressEqual(offers.device, call.device)) others.push(w);
    }
    if (others.length === 0) throw new SpotCheckUnavailable("no_verifier", `no verifier other than device ${call.device} is reachable`);
    const r = await this.#route(call.modelId, call.inputs, { workers: others, autoOpen: verifier.autoOpen, authorize });
    return { outputs: r.outputs, verifier: { kind: "device", device: r.device, endpoint: r.endpoint, channelId: r.channelId, sequence: r.receipt.sequence }, cost: r.cost, receipt: r.receipt };
  }

  async #route(modelId: bigint, inputs: Record<string, Tensor>, options: InferOptions): Promise<InferResult> {
    if (options.workers.length === 0) throw new EdgepayClientError("bad_argument", "no worker URL given");
    const encoding = this.#opts.http?.encoding ?? "binary";
    const request: Outgoing = { inputs, encoding, ...encodeInferRequest(inputs, encoding) };
    const inputHash = hashTensors(inputs);
    const failures: string[] = [];
    // A worker that recently stopped answering is tried last, so each call does not wait for it to time out again.
    const now = Date.now();
    const isDown = (w: string) => (this.#down.get(w) ?? 0) > now;
    let ordered = [...options.workers.filter((w) => !isDown(w)), ...options.workers.filter(isDown)];
    // With reputation on, each group (answering, recently down) is ordered by price per reputation point; a channel
    // the caller named fixes the device, so there is nothing to choose.
    if (this.#reputation && !options.channelId && options.workers.length > 1) {
      ordered = [...(await this.#rank(modelId, ordered.filter((w) => !isDown(w)))), ...(await this.#rank(modelId, ordered.filter(isDown)))];
    }
    for (const endpoint of ordered) {
      try {
        const result = options.channelId
          ? await this.#inferOn(endpoint, options.channelId, modelId, request, inputHash, options.authorize)
          : await this.#inferAt(endpoint, modelId, request, inputHash, options.autoOpen ?? this.#opts.autoOpen, options.authorize, options.device);
        this.#down.delete(endpoint);
        this.#reputation?.observe(result.device, true);
        return result;
      } catch (error) {
        if (error instanceof EdgepayClientError && (error.code === "worker_unreachable" || error.code === "answer_in_doubt")) {
          this.#down.set(endpoint, Date.now() + (this.#opts.downSeconds ?? 30) * 1000);
          // Uptime as this buyer saw it: the device behind the endpoint, when its offerings were read before.
          const seen = this.#offerings.get(endpoint)?.value;
          if (this.#reputation && seen) await seen.then((o) => this.#reputation?.observe(o.device, false), () => undefined);
        }
        if (!(error instanceof EdgepayClientError) || !canFailOver(error) || options.workers.length === 1) throw error;
        failures.push(error.message);
        this.#emit({ type: "failover", from: endpoint, error: error.message });
      }
    }
    throw new EdgepayClientError("all_workers_failed", `no worker could serve model ${modelId}:\n  ${failures.join("\n  ")}`);
  }

  /** Workers in price-per-reputation order (protocol/client/reputation.ts BuyerReputation.order). */
  async #rank(modelId: bigint, endpoints: readonly string[]): Promise<string[]> {
    if (!this.#reputation || endpoints.length < 2) return [...endpoints];
    const views = await Promise.all(
      endpoints.map(async (endpoint) => {
        try {
          const offers = await this.offerings(endpoint);
          const offer = offers.models.find((m) => BigInt(m.modelId) === modelId);
          return { endpoint, device: offers.device, price: offer ? BigInt(offer.price) : undefined, quarantined: (await this.store.getQuarantine(offers.device)) !== undefined };
        } catch {
          return { endpoint, quarantined: false };
        }
      }),
    );
    return this.#reputation.order(views);
  }

  /** A device's reputation from the chain (cached; needs BuyerOptions.reputation). */
  async reputation(device: Address): Promise<Reputation> {
    if (!this.#reputation) throw new EdgepayClientError("bad_argument", "reputation is off: pass BuyerOptions.reputation");
    return this.#reputation.of(device);
  }

  /**
   * Posts, per device, the share of requests it answered since the last report (feedback tag "uptime"), against a
   * channel this payer has with it. Batched by design: call it now and then (one transaction per device).
   */
  async reportUptime(): Promise<FeedbackSent[]> {
    if (!this.#reputation) throw new EdgepayClientError("bad_argument", "reputation is off: pass BuyerOptions.reputation");
    const wallet = this.#requireWallet("post uptime feedback");
    const sent = await this.#reputation.reportUptime(wallet, await this.store.listChannels());
    for (const feedback of sent) this.#emit({ type: "feedback", feedback });
    return sent;
  }

  /** Offerings of a worker, checked against the chain (cached for `offeringsTtlSeconds`). */
  async offerings(endpoint: string): Promise<VerifiedOfferings> {
    const cached = this.#offerings.get(endpoint);
    const ttl = (this.#opts.offeringsTtlSeconds ?? 60) * 1000;
    if (cached && Date.now() - cached.at < ttl) return cached.value;
    const value = this.#loadOfferings(endpoint);
    this.#offerings.set(endpoint, { at: Date.now(), value });
    value.catch(() => this.#offerings.delete(endpoint));
    return value;
  }

  async #loadOfferings(endpoint: string): Promise<VerifiedOfferings> {
    const offers = await fetchOfferings(endpoint, this.#opts.http);
    const chainId = await this.chainId();
    if (offers.chainId !== chainId) throw new EdgepayClientError("offering_mismatch", `${endpoint} serves chain ${offers.chainId}, this client is on ${chainId}`);
    if (!isAddressEqual(offers.paymentChannels as Address, this.paymentChannels)) {
      throw new EdgepayClientError("offering_mismatch", `${endpoint} uses PaymentChannels ${offers.paymentChannels}, this client ${this.paymentChannels}`);
    }
    // The identity sealed requests are keyed by: the offered key must be the key of a registered device.
    const identity = checkOfferedKey(endpoint, offers);
    await checkRegistered(this.publicClient, (await this.#getRegistries()).deviceRegistry, endpoint, identity.device);
    return { ...offers, ...identity };
  }

  /** The worker's offering of `modelId`, its model file checked against the registry's content hash. */
  async #offerFor(endpoint: string, modelId: bigint, expectedDevice?: Address) {
    const offers = await this.offerings(endpoint);
    if (expectedDevice) checkOfferedKey(endpoint, offers, expectedDevice);
    const offer = offers.models.find((m) => BigInt(m.modelId) === modelId);
    if (!offer) throw new EdgepayClientError("model_not_offered", `${endpoint} does not offer model ${modelId}`);
    const modelHash = await this.#modelHash(modelId);
    if (offer.modelHash.toLowerCase() !== modelHash.toLowerCase()) {
      throw new EdgepayClientError("offering_mismatch", `${endpoint} serves model ${modelId} with hash ${offer.modelHash}, the registry has ${modelHash}`);
    }
    return { offers, offer, modelHash };
  }

  async #inferAt(endpoint: string, modelId: bigint, request: Outgoing, inputHash: Hex, autoOpen: AutoOpen | undefined, authorize?: InferOptions["authorize"], device?: Address): Promise<InferResult> {
    const { offers, offer, modelHash } = await this.#offerFor(endpoint, modelId, device);
    // Before a channel is opened or a voucher signed.
    await this.#refuseQuarantined(offers.device, endpoint);
    const token = offer.token as Address;
    const units = unitsBeforePaying(endpoint, offer.unit as UnitRule, request.inputs);
    const selectKey = `select:${offers.device}:${modelId}:${token}`.toLowerCase();
    const opening = authorize && { authorize, price: BigInt(offer.price) };
    // One selection at a time per offering, so parallel calls do not each open a channel.
    let record = await this.#withLock(selectKey, () => this.#channelFor(endpoint, offers.device, modelId, token, autoOpen, units, opening));
    try {
      return await this.#withLock(record.channelId, () => this.#pay(endpoint, offers, record.channelId, modelId, modelHash, request, inputHash, units, authorize));
    } catch (error) {
      // Credit ran out or the channel closed meanwhile: open another once if allowed.
      if (error instanceof EdgepayClientError && error.code === "insufficient_credit" && autoOpen && this.wallet) {
        record = await this.#withLock(selectKey, () => this.#channelFor(endpoint, offers.device, modelId, token, autoOpen, units, opening));
        return this.#withLock(record.channelId, () => this.#pay(endpoint, offers, record.channelId, modelId, modelHash, request, inputHash, units, authorize));
      }
      throw error;
    }
  }

  /** Pays on the given channel only: it must be to the worker's device, for this model and the offered token. */
  async #inferOn(endpoint: string, channelId: Hex, modelId: bigint, request: Outgoing, inputHash: Hex, authorize?: InferOptions["authorize"]): Promise<InferResult> {
    const record = await this.#requireRecord(channelId);
    await this.#refuseQuarantined(record.terms.device, endpoint);
    // The channel names the device on-chain: a worker with another key is refused before anything is sent.
    const { offers, offer, modelHash } = await this.#offerFor(endpoint, modelId, record.terms.device);
    if (record.terms.modelId !== modelId || !isAddressEqual(record.terms.token, offer.token as Address)) {
      throw new EdgepayClientError("bad_argument", `channel ${channelId} is for model ${record.terms.modelId}, not model ${modelId} in ${offer.token}`);
    }
    const units = unitsBeforePaying(endpoint, offer.unit as UnitRule, request.inputs);
    if (!this.#checked.has(channelId)) await this.#withLock(channelId, () => this.#refresh(channelId));
    this.#checked.add(channelId);
    return this.#withLock(channelId, () => this.#pay(endpoint, offers, channelId, modelId, modelHash, request, inputHash, units, authorize));
  }

  async #channelFor(
    endpoint: string,
    device: Address,
    modelId: bigint,
    token: Address,
    autoOpen: AutoOpen | undefined,
    units = 1,
    opening?: { authorize: NonNullable<InferOptions["authorize"]>; price: bigint },
  ): Promise<ChannelRecord> {
    const chainId = await this.chainId();
    const payer = this.wallet?.account.address;
    const candidates = (await this.store.listChannels())
      .filter(
        (c) =>
          c.chainId === chainId &&
          isAddressEqual(c.paymentChannels, this.paymentChannels) &&
          isAddressEqual(c.terms.device, device) &&
          c.terms.modelId === modelId &&
          isAddressEqual(c.terms.token, token) &&
          (!payer || isAddressEqual(c.terms.payer, payer)) &&
          !c.closing &&
          c.deposit - c.paid >= costOf(c.terms.price, units),
      )
      .sort((a, b) => b.openedAt - a.openedAt);
    for (const c of candidates) {
      if (!this.#checked.has(c.channelId)) {
        // First use in this process: trust the chain, not the store, about closes and top-ups.
        const state = await readChannel(this.#ctx, c.channelId);
        c.deposit = state.deposit;
        c.closing = state.settled || state.closesAt !== 0n;
        if (state.claimed > c.paid) c.paid = state.claimed;
        await this.store.putChannel(c);
        this.#checked.add(c.channelId);
        if (c.closing || c.deposit - c.paid < costOf(c.terms.price, units)) continue;
      }
      return c;
    }
    if (!autoOpen) {
      throw new EdgepayClientError("no_channel", `no open channel with credit to device ${device} for model ${modelId}; open one first (or enable autoOpen)`);
    }
    if (!this.wallet) throw new EdgepayClientError("no_channel", `no open channel with credit to device ${device}, and no wallet to open one`);
    if (opening) await opening.authorize({ kind: "open", device, modelId, token, deposit: autoOpen.deposit, units, price: opening.price, cost: costOf(opening.price, units) });
    return this.open({ device, modelId, token, deposit: autoOpen.deposit, approval: autoOpen.approval, endpoint });
  }

  async #pay(
    endpoint: string,
    offers: VerifiedOfferings,
    channelId: Hex,
    modelId: bigint,
    modelHash: Hex,
    request: Outgoing,
    inputHash: Hex,
    units: number,
    authorize?: InferOptions["authorize"],
  ): Promise<InferResult> {
    let record = await this.#requireRecord(channelId);
    if (record.inDoubt) {
      // A paid request on this channel has no answer yet: settle it with the device before signing anything new.
      const outcome = await this.#recoverLocked(record);
      if (outcome.status === "still_in_doubt") {
        throw new EdgepayClientError("answer_in_doubt", `channel ${channelId}: the request paid at ${outcome.amount} is still in doubt: ${outcome.message}`);
      }
      record = await this.#requireRecord(channelId);
    }
    const offer = offers.models.find((m) => BigInt(m.modelId) === modelId);
    if (offer) {
      // The rule is pinned at the channel's first paid request: the price per unit is fixed on-chain, the unit
      // is not, so a device that changes what a unit is would otherwise change the price of every request.
      const rule = canonicalRule(offer.unit as UnitRule);
      if (record.unitRule === undefined) {
        record.unitRule = rule;
        await this.store.putChannel(record);
      } else if (record.unitRule !== rule) {
        throw new EdgepayClientError("offering_mismatch", `${endpoint} now bills model ${modelId} by the unit ${rule}, but channel ${channelId} was paid by ${record.unitRule}; open a new channel if the new unit is acceptable`);
      }
    }
    // The last gate before signing: a check that failed while this call waited for the channel's lock counts.
    await this.#refuseQuarantined(record.terms.device, endpoint);
    const price = record.terms.price;
    const cost = costOf(price, units);
    let amount = record.paid + cost;
    // The exact bytes sent (sealed per voucher when sealing, the encoding's media type then the inner type), and
    // their hash for the request MAC (which binds the voucher to these inputs).
    const clear: InferRequestBody = { body: request.body, contentType: request.contentType };
    for (let resyncs = 0; ; resyncs++) {
      if (record.closing) throw new EdgepayClientError("insufficient_credit", `channel ${channelId} is closing`);
      if (amount > record.deposit) {
        throw new EdgepayClientError("insufficient_credit", `channel ${channelId} has ${record.deposit - record.paid} left, the next answer costs ${cost} (${units} x ${price})`);
      }
      if (authorize) {
        const { device, token } = record.terms;
        await authorize({ kind: "voucher", channelId, device, modelId, token, amount, signed: record.signed, units, price, cost });
      }
      const voucher = await this.#sign(record, amount);
      const header = encodeVoucherHeader(voucher);
      if (amount > record.signed) {
        record.signed = amount;
        await this.store.putChannel(record);
      }
      const sealed = this.#sealedCall(record, offers.devicePublicKey, voucher, modelId);
      const wire: InferRequestBody = sealed ? await sealBody(sealed, clear.contentType, clear.body) : clear;
      const mac = this.#requestMac(record, offers.devicePublicKey, voucher, modelId, inferPath(modelId), bodyHash(wire.body));
      let sent: { answer: InferAnswer; resent: boolean };
      try {
        sent = await this.#sendWithRetry(endpoint, modelId, wire, header, mac, sealed);
      } catch (error) {
        const e = error as EdgepayClientError & { mayHaveArrived?: boolean };
        // An answer that does not open was altered on the way (or forged): as good as lost, so the request is kept
        // in doubt like one whose answer never came, and the device's stored answer is recovered from it later.
        const tampered = error instanceof EdgepayClientError && error.code === "sealed_answer_invalid";
        if (!(error instanceof EdgepayClientError) || ((error.code !== "worker_unreachable" || !e.mayHaveArrived) && !tampered)) throw error;
        // The device may have accepted (and may claim) this voucher: keep the request, do not pay anyone else for it.
        record.inDoubt = {
          amount,
          units,
          cost,
          modelId,
          voucher: header,
          mac,
          inputs: wireOf(request.inputs),
          ...(request.encoding === "binary" ? { encoding: "binary" as const } : {}),
          ...(sealed ? { sealed: true } : {}),
          endpoint,
          at: Date.now(),
        };
        await this.store.putChannel(record);
        this.#emit({ type: "in_doubt", endpoint, channelId, amount, error: error.message });
        if (tampered) {
          throw new EdgepayClientError("sealed_answer_invalid", `${error.message}; the request paid at ${amount} on ${channelId} is kept in doubt and its answer will be recovered from the device (Buyer.recover)`, {
            cause: error,
            status: error.status,
          });
        }
        throw new EdgepayClientError(
          "answer_in_doubt",
          `${endpoint}: the request paid at ${amount} on ${channelId} got no answer (${error.message}); it is kept in doubt and will be recovered from that device (Buyer.recover), not paid again elsewhere`,
          { cause: error },
        );
      }
      const { answer, resent } = sent;

      if (answer.kind === "ok") {
        return this.#accept(endpoint, offers, record, amount, modelHash, inputHash, answer.body, BigInt(units));
      }
      if (answer.kind === "error") {
        throw new EdgepayClientError("worker_rejected", `${endpoint}: ${answer.code}: ${answer.message}`, { status: answer.status, workerCode: answer.code });
      }
      // 402: resynchronise from the worker's view of the channel, within what this client signed.
      const p = answer.payment;
      const lastAccepted = BigInt(p.lastAccepted);
      if (p.channelId && p.channelId.toLowerCase() !== channelId.toLowerCase()) {
        throw new EdgepayClientError("bad_worker_response", `${endpoint}: 402 names channel ${p.channelId}, the request used ${channelId}`);
      }
      if (lastAccepted > record.signed) {
        throw new EdgepayClientError("worker_overclaims", `${endpoint} reports ${lastAccepted} accepted on ${channelId}, but this client signed at most ${record.signed}`);
      }
      if (resent && answer.code === "voucher_stale" && lastAccepted === amount && !answer.unauthenticated) {
        // This very request was accepted and answered, and the answer was lost on the way back; the worker did not
        // replay it. Paying again would buy the same answer twice, so stop here and let the caller decide.
        record.paid = amount;
        await this.store.putChannel(record);
        throw new EdgepayClientError("worker_rejected", `${endpoint} accepted the voucher for ${amount} but its answer was lost and the worker did not replay it`, {
          workerCode: answer.code,
          status: answer.status,
        });
      }
      if (lastAccepted > record.paid) record.paid = lastAccepted;
      if (p.deposit !== undefined && BigInt(p.deposit) > record.deposit) record.deposit = BigInt(p.deposit);
      await this.store.putChannel(record);
      this.#emit({ type: "resync", channelId, lastAccepted, code: answer.code });
      if (answer.code === "channel_closing" || answer.code === "channel_settled") {
        record.closing = true;
        await this.store.putChannel(record);
        throw new EdgepayClientError("insufficient_credit", `${endpoint}: ${answer.code}: ${answer.message}`, { workerCode: answer.code, status: answer.status });
      }
      if (answer.code === "amount_exceeds_deposit") {
        // The worker may not have seen a top-up yet; the chain decides.
        const state = await readChannel(this.#ctx, channelId);
        record.deposit = state.deposit;
        await this.store.putChannel(record);
        if (amount > state.deposit || resyncs >= 2) {
          throw new EdgepayClientError("insufficient_credit", `${endpoint}: ${answer.message}`, { workerCode: answer.code, status: answer.status });
        }
        continue;
      }
      const resyncable = answer.code === "payment_required" || answer.code === "voucher_stale" || answer.code === "amount_too_low";
      if (!resyncable || resyncs >= 2) {
        throw new EdgepayClientError("worker_rejected", `${endpoint}: ${answer.code}: ${answer.message}`, { workerCode: answer.code, status: answer.status });
      }
      const next = record.paid + cost;
      if (BigInt(p.required) > next) {
        throw new EdgepayClientError("worker_overclaims", `${endpoint} requires ${p.required} after accepting ${lastAccepted}; this request costs ${cost} (${units} x ${price})`);
      }
      amount = next;
    }
  }

  async #accept(
    endpoint: string,
    offers: VerifiedOfferings,
    record: ChannelRecord,
    amount: bigint,
    modelHash: Hex,
    inputHash: Hex,
    body: Extract<InferAnswer, { kind: "ok" }>["body"],
    units: bigint,
    /** A replayed answer: its sequence is older than receipts received since. */
    replayed = false,
  ): Promise<InferResult> {
    const receipt = body.receipt;
    const outputs = body.outputs;
    const deviceKey = record.terms.device.toLowerCase();
    const verification = await verifyReceipt(
      receipt,
      {
        device: record.terms.device,
        channelId: record.channelId,
        cumulativeAmount: amount,
        units,
        modelId: record.terms.modelId,
        modelHash,
        inputHash,
        outputHash: hashTensors(outputs),
        lastSequence: replayed ? undefined : this.#lastSequence.get(deviceKey),
      },
      { chainId: record.chainId, paymentChannels: record.paymentChannels },
    );
    // The worker accepted this amount whatever the receipt says: count it as paid, keep the evidence.
    if (amount > record.paid) record.paid = amount;
    await this.store.putChannel(record);
    await this.store.addReceipt({ receipt, device: offers.device, endpoint, price: BigInt(body.price), verification, receivedAt: Date.now() });
    if (!verification.valid) {
      throw new EdgepayClientError("receipt_rejected", `${endpoint}: the receipt failed verification (${verification.reason})`, { reason: verification.reason });
    }
    if (!replayed || receipt.sequence > (this.#lastSequence.get(deviceKey) ?? 0n)) this.#lastSequence.set(deviceKey, receipt.sequence);
    const price = record.terms.price;
    return { outputs, receipt, price, units: receipt.units, cost: costOf(price, receipt.units), channelId: record.channelId, device: offers.device, endpoint };
  }

  // ------------------------------------------------------------------ payments sent by another transport (x402)

  /**
   * Signs the payment of one request that another transport sends (x402's PAYMENT-SIGNATURE, protocol/client/
   * x402-scheme.ts): picks or opens a channel as `infer` does, signs voucher and MAC over exactly `body`, and holds
   * the channel's lock until the caller settles the outcome, so the next request signs on top of this one's.
   * `authorize` is asked exactly as `infer` asks it (before a deposit, before the voucher), so a spending cap holds
   * whichever transport carries the payment.
   */
  async preparePayment(
    endpoint: string,
    modelId: bigint,
    inputs: Record<string, Tensor>,
    body: Uint8Array,
    encoding: InferEncoding,
    autoOpen: AutoOpen | undefined,
    authorize?: InferOptions["authorize"],
  ): Promise<PreparedPayment> {
    const { offers, offer, modelHash } = await this.#offerFor(endpoint, modelId);
    const token = offer.token as Address;
    const units = unitsBeforePaying(endpoint, offer.unit as UnitRule, inputs);
    const selectKey = `select:${offers.device}:${modelId}:${token}`.toLowerCase();
    const opening = authorize && { authorize, price: BigInt(offer.price) };
    const record = await this.#withLock(selectKey, () => this.#channelFor(endpoint, offers.device, modelId, token, autoOpen, units, opening));
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    void this.#withLock(record.channelId, () => (entered(), held));
    await inside;
    try {
      const fresh = await this.#requireRecord(record.channelId);
      await this.#refuseQuarantined(fresh.terms.device, endpoint);
      if (fresh.inDoubt) throw new EdgepayClientError("answer_in_doubt", `channel ${fresh.channelId} has a paid request in doubt; run Buyer.recover first`);
      const cost = costOf(fresh.terms.price, units);
      const amount = fresh.paid + cost;
      if (fresh.closing || amount > fresh.deposit) {
        throw new EdgepayClientError("insufficient_credit", `channel ${fresh.channelId} has ${fresh.deposit - fresh.paid} left, the request costs ${cost}`);
      }
      if (authorize) {
        const { device, token: channelToken } = fresh.terms;
        await authorize({ kind: "voucher", channelId: fresh.channelId, device, modelId, token: channelToken, amount, signed: fresh.signed, units, price: fresh.terms.price, cost });
      }
      const voucher = await this.#sign(fresh, amount);
      if (amount > fresh.signed) {
        fresh.signed = amount;
        await this.store.putChannel(fresh);
      }
      const hash = bodyHash(body);
      const mac = this.#requestMac(fresh, offers.devicePublicKey, voucher, modelId, inferPath(modelId), hash);
      const header = encodeVoucherHeader(voucher);
      const inputHash = hashTensors(inputs);
      return {
        channelId: fresh.channelId,
        amount,
        units,
        cost,
        voucher: header,
        mac,
        bodyHash: hash,
        accept: async (answer) => {
          try {
            return await this.#accept(endpoint, offers, fresh, amount, modelHash, inputHash, answer, BigInt(units));
          } finally {
            release();
          }
        },
        refused: async (payment) => {
          try {
            // Resynchronise within what this client signed (as #pay does); a worker claiming more is caught.
            const last = BigInt(payment.lastAccepted);
            if (last > fresh.signed) throw new EdgepayClientError("worker_overclaims", `${endpoint} reports ${last} accepted on ${fresh.channelId}, but this client signed at most ${fresh.signed}`);
            if (last > fresh.paid) fresh.paid = last;
            await this.store.putChannel(fresh);
          } finally {
            release();
          }
        },
        inDoubt: async (error) => {
          try {
            fresh.inDoubt = { amount, units, cost, modelId, voucher: header, mac, inputs: wireOf(inputs), ...(encoding === "binary" ? { encoding: "binary" as const } : {}), endpoint, at: Date.now() };
            await this.store.putChannel(fresh);
            this.#emit({ type: "in_doubt", endpoint, channelId: fresh.channelId, amount, error });
          } finally {
            release();
          }
        },
        release,
      };
    } catch (error) {
      release();
      throw error;
    }
  }

  // ------------------------------------------------------------------ requests in doubt

  /** Requests paid but not answered (ChannelRecord.inDoubt), across the store's channels. */
  async inDoubt(): Promise<(InDoubtRequest & { channelId: Hex })[]> {
    return (await this.store.listChannels()).filter((c) => c.inDoubt).map((c) => ({ ...c.inDoubt!, channelId: c.channelId }));
  }

  /**
   * Settles every request in doubt (or those of one channel) with the device it was sent to: the identical voucher
   * and inputs are sent again; the device replays the paid answer (recovered), says it accepted the voucher but
   * cannot replay (paid_unanswered), or shows it never accepted it (not_accepted). A device still down leaves the
   * request in doubt. Never signs a new voucher.
   */
  async recover(filter: { channelId?: Hex } = {}): Promise<RecoveryOutcome[]> {
    const out: RecoveryOutcome[] = [];
    for (const c of await this.store.listChannels()) {
      if (!c.inDoubt || (filter.channelId && c.channelId.toLowerCase() !== filter.channelId.toLowerCase())) continue;
      out.push(
        await this.#withLock(c.channelId, async () => {
          const record = await this.#requireRecord(c.channelId);
          if (!record.inDoubt) return { status: "not_accepted", channelId: record.channelId, amount: c.inDoubt!.amount, message: "settled meanwhile" } as RecoveryOutcome;
          return this.#recoverLocked(record);
        }),
      );
    }
    return out;
  }

  /** The caller holds the channel's lock. */
  async #recoverLocked(record: ChannelRecord): Promise<RecoveryOutcome> {
    const d = record.inDoubt!;
    const base = { channelId: record.channelId, amount: d.amount };
    const finish = async (outcome: RecoveryOutcome) => {
      if (outcome.status !== "still_in_doubt") {
        const fresh = await this.#requireRecord(record.channelId);
        fresh.inDoubt = undefined;
        if (outcome.status !== "not_accepted" && d.amount > fresh.paid) fresh.paid = d.amount;
        await this.store.putChannel(fresh);
      }
      this.#emit({ type: "recovered", endpoint: d.endpoint, channelId: record.channelId, amount: d.amount, outcome: outcome.status });
      return outcome;
    };
    let offers: VerifiedOfferings;
    let answer: InferAnswer;
    try {
      offers = await this.offerings(d.endpoint);
      // The identical bytes, so the stored MAC still holds: the binary frame is re-made from the stored tensors, and
      // sealing is deterministic (the same voucher and inner bytes seal to the same bytes).
      const clear: InferRequestBody = d.encoding === "binary" ? encodeInferRequest(decodeWire(d.inputs), "binary") : { body: inferBody(d.inputs), contentType: "application/json" };
      const voucher = d.sealed ? decodeVoucherHeader(d.voucher) : undefined;
      const sealed = voucher ? this.#sealedCall(record, offers.devicePublicKey, voucher, d.modelId, true) : undefined;
      const wire: InferRequestBody = sealed ? await sealBody(sealed, clear.contentType, clear.body) : clear;
      answer = await postInfer(d.endpoint, d.modelId, wire, { voucher: d.voucher, mac: d.mac }, this.#opts.http, sealed);
    } catch (error) {
      // An answer altered on the way says nothing about the payment: still in doubt, try again later.
      if (error instanceof EdgepayClientError && error.code === "sealed_answer_invalid") return finish({ ...base, status: "still_in_doubt", message: error.message });
      if (!(error instanceof EdgepayClientError) || error.code !== "worker_unreachable") throw error;
      // The device is down: the chain may already tell. A claim covering the voucher means it was accepted; a
      // settled channel whose claim stays below it means it never was.
      const state = await readChannel(this.#ctx, record.channelId).catch(() => undefined);
      if (state && state.claimed >= d.amount) {
        return finish({ ...base, status: "paid_unanswered", message: `the device claimed ${state.claimed} on-chain but cannot be reached to replay the answer (${error.message})` });
      }
      if (state?.settled) return finish({ ...base, status: "not_accepted", message: `the channel settled with ${state.claimed} claimed, below this voucher` });
      return finish({ ...base, status: "still_in_doubt", message: error.message });
    }
    if (answer.kind === "ok") {
      const inputs = decodeWire(d.inputs);
      let result: InferResult;
      try {
        result = await this.#accept(d.endpoint, offers, record, d.amount, await this.#modelHash(d.modelId), hashTensors(inputs), answer.body, BigInt(d.units), true);
      } catch (error) {
        // Answered, but the receipt does not hold (kept as evidence by #accept): paid, no valid answer. Settled.
        if (error instanceof EdgepayClientError && error.code === "receipt_rejected") await finish({ ...base, status: "paid_unanswered", message: error.message });
        throw error;
      }
      return finish({ ...base, status: "recovered", result });
    }
    if (answer.kind === "payment_required") {
      const lastAccepted = BigInt(answer.payment.lastAccepted);
      if (lastAccepted > record.signed) {
        throw new EdgepayClientError("worker_overclaims", `${d.endpoint} reports ${lastAccepted} accepted on ${record.channelId}, but this client signed at most ${record.signed}`);
      }
      if (lastAccepted >= d.amount) return finish({ ...base, status: "paid_unanswered", message: `${answer.code}: ${answer.message}` });
      return finish({ ...base, status: "not_accepted", message: `${answer.code}: ${answer.message}` });
    }
    // Any other refusal. A refused replay says nothing about the payment (the replay limit may have been used up by
    // whoever saw the request; a busy channel or a 5xx is transient), so the device's own count decides: a
    // lastAccepted at or above this voucher means it was accepted. Only then is "not accepted" concluded.
    const accepted = await fetchChannelInfo(d.endpoint, record.channelId, this.#opts.http).catch(() => undefined);
    if (accepted && accepted.lastAccepted > record.signed) {
      throw new EdgepayClientError("worker_overclaims", `${d.endpoint} reports ${accepted.lastAccepted} accepted on ${record.channelId}, but this client signed at most ${record.signed}`);
    }
    if (accepted && accepted.lastAccepted >= d.amount) {
      return finish({ ...base, status: "paid_unanswered", message: `the device accepted ${accepted.lastAccepted} but did not replay the answer (${answer.code}: ${answer.message})` });
    }
    if (!accepted || answer.code === "channel_busy" || answer.code === "rate_limited" || answer.status >= 500) {
      return finish({ ...base, status: "still_in_doubt", message: `${answer.code}: ${answer.message}` });
    }
    return finish({ ...base, status: "not_accepted", message: `${answer.code}: ${answer.message}` });
  }

  /** Sends one voucher, re-sending it unchanged after network failures; `resent` tells whether it went out twice. */
  async #sendWithRetry(
    endpoint: string,
    modelId: bigint,
    body: InferRequestBody,
    voucher: string,
    mac: string | undefined,
    sealed: SealedCall | undefined,
  ): Promise<{ answer: InferAnswer; resent: boolean }> {
    const retries = this.#opts.retries ?? 2;
    let resent = false;
    let mayHaveArrived = false;
    for (let attempt = 0; ; attempt++) {
      try {
        const answer = await postInfer(endpoint, modelId, body, { voucher, mac }, this.#opts.http, sealed);
        // Another process paying on the same channel holds it: the same voucher is still the right one.
        if (answer.kind === "error" && answer.code === "channel_busy" && attempt < retries) {
          await sleep(this.#opts.retryDelayMs ?? 200);
          continue;
        }
        return { answer, resent };
      } catch (error) {
        if (error instanceof EdgepayClientError && error.code === "sealed_answer_invalid") {
          // Altered on the way: the same request again gets the device's stored answer (a replay), sealed afresh.
          if (attempt >= retries) throw error;
        } else if (error instanceof EdgepayClientError && error.code === "worker_unreachable") {
          mayHaveArrived ||= reachedDevice(error);
          if (attempt >= retries) throw Object.assign(error, { mayHaveArrived });
        } else {
          throw error;
        }
        resent = true;
        this.#emit({ type: "retry", endpoint, attempt: attempt + 1, error: error.message });
        await sleep((this.#opts.retryDelayMs ?? 200) * (attempt + 1));
      }
    }
  }

  // ------------------------------------------------------------------ helpers

  #sign(record: ChannelRecord, cumulativeAmount: bigint) {
    return signVoucher(privateKeyToAccount(record.signerKey), {
      chainId: record.chainId,
      paymentChannels: record.paymentChannels,
      channelId: record.channelId,
      cumulativeAmount,
    });
  }

  /** The request MAC (protocol/session.ts): binds the voucher to chain, contract, model, route and body. */
  #requestMac(record: ChannelRecord, devicePublicKey: Hex, voucher: Voucher, modelId: bigint, path: string, hash: Hex): string {
    return requestMac(this.#macKey(record, devicePublicKey), { ...callContext(record, voucher, modelId, path), bodyHash: hash });
  }

  /** Keys and associated data of a sealed paid request (protocol/sealed.ts); undefined when sealing is off. */
  #sealedCall(record: ChannelRecord, devicePublicKey: Hex, voucher: Voucher, modelId: bigint, force = false): SealedCall | undefined {
    if (!force && this.#opts.sealing === false) return undefined;
    const k = `${record.channelId}:${devicePublicKey}`;
    let keys = this.#sealKeys.get(k);
    if (!keys) {
      keys = channelSealKeys(this.#macKey(record, devicePublicKey));
      this.#sealKeys.set(k, keys);
    }
    return {
      keys,
      ctx: { kind: "channel", ...callContext(record, voucher, modelId, inferPath(modelId)) },
    };
  }

  #macKey(record: ChannelRecord, devicePublicKey: Hex): Uint8Array {
    const k = `${record.channelId}:${devicePublicKey}`;
    let key = this.#macKeys.get(k);
    if (!key) {
      key = sessionKey(record.signerKey, devicePublicKey, record.channelId);
      this.#macKeys.set(k, key);
    }
    return key;
  }

  #modelHash(modelId: bigint): Promise<Hex> {
    const k = modelId.toString();
    let p = this.#modelHashes.get(k);
    if (!p) {
      p = this.#getRegistries().then((r) => readModelHash(this.#ctx, r, modelId));
      this.#modelHashes.set(k, p);
      p.catch(() => this.#modelHashes.delete(k));
    }
    return p;
  }

  #getRegistries(): Promise<Registries> {
    this.#registries ??= readRegistries(this.#ctx);
    return this.#registries;
  }

  async #termsOf(channelId: Hex): Promise<ChannelTerms> {
    const record = await this.store.getChannel(channelId);
    if (record) return record.terms;
    const payer = this.wallet?.account.address;
    const listed = payer ? await listChannelsOf(this.#ctx, payer) : [];
    const found = listed.find((c) => c.channelId.toLowerCase() === channelId.toLowerCase());
    if (!found) throw new EdgepayClientError("bad_argument", `channel ${channelId} is not one of ${payer ?? "this wallet"}'s channels`);
    return found.terms;
  }

  async #requireRecord(channelId: Hex): Promise<ChannelRecord> {
    const record = await this.store.getChannel(channelId);
    if (!record) throw new EdgepayClientError("no_channel", `the store has no session key for channel ${channelId}`);
    return record;
  }

  async #refresh(channelId: Hex) {
    const record = await this.store.getChannel(channelId);
    if (!record) return;
    const state = await readChannel(this.#ctx, channelId);
    record.deposit = state.deposit;
    record.closing = state.settled || state.closesAt !== 0n;
    if (state.claimed > record.paid) record.paid = state.claimed;
    await this.store.putChannel(record);
  }

  #requireWallet(what: string): BuyerWallet {
    if (!this.wallet) throw new EdgepayClientError("bad_argument", `a wallet is needed to ${what}`);
    return this.wallet;
  }

  #withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#locks.get(key) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.#locks.set(key, tail);
    void tail.then(() => {
      if (this.#locks.get(key) === tail) this.#locks.delete(key);
    });
    return run;
  }

  #emit(event: BuyerEvent) {
    this.#opts.onEvent?.(event);
  }
}

/** One signed payment awaiting its outcome (Buyer.preparePayment); exactly one of accept/refused/inDoubt/release ends it. */
export interface PreparedPayment {
  channelId: Hex;
  amount: bigint;
  units: number;
  cost: bigint;
  /** `x-edgepay-voucher` value. */
  voucher: string;
  mac: string;
  bodyHash: Hex;
  /** The paid answer: verifies and stores its receipt (throws receipt_rejected). */
  accept(answer: InferOk): Promise<InferResult>;
  /** A 402 after paying: the voucher was not used; resync from the worker's view. */
  refused(payment: PaymentRequirementsWire): Promise<void>;
  /** No answer: the worker may have accepted the voucher; kept in doubt for Buyer.recover. */
  inDoubt(error: string): Promise<void>;
  /** Nothing was sent. */
  release(): void;
}

export type VerifiedOfferings = Omit<OfferingsWire, "device" | "devicePublicKey"> & { device: Address; devicePublicKey: Hex };

export function createBuyer(options: BuyerOptions): Buyer {
  return new Buyer(options);
}

/**
 * Whether a failed send may have reached the device: anything but a refused connection or an unknown host (the
 * request never left) and an HTTP 5xx answer (the worker said it did not use the voucher).
 */
function reachedDevice(error: EdgepayClientError): boolean {
  // An HTTP answer: the worker's own 503 `unavailable` (and any 4xx) says the voucher was not used. A 5xx without
  // the protocol's error body (a reverse proxy's 502/504) or an `internal_error` may come after the voucher was
  // stored: in doubt, never paid elsewhere.
  if (error.status !== undefined) return error.status >= 500 && error.workerCode !== "unavailable";
  let cause: unknown = error.cause;
  for (let i = 0; i < 4 && cause; i++) {
    const code = (cause as { code?: string }).code;
    if (code === "ECONNREFUSED" || code === "ENOTFOUND" || code === "EAI_AGAIN") return false;
    cause = (cause as { cause?: unknown }).cause;
  }
  return true;
}

function describeMismatch(check: SpotCheckRecord): string {
  const m = check.mismatch;
  if (!m) return check.reason ?? "mismatch";
  if (m.reason === "value_out_of_tolerance") return `${m.reason}: output ${m.output}[${m.index}] is ${m.actual}, the verifier's ${m.expected}, difference ${m.difference} > allowed ${m.allowed}`;
  return `${m.reason}: output ${m.output}${m.expected !== undefined ? ` (expected ${m.expected}, got ${m.actual})` : ""}`;
}

function sleep(ms: number) {
  return new Promise((r) => setTimeout(r, ms));
}

/** Units of work from the model's published rule, counted before anything is paid (cost = units x price). */
function unitsBeforePaying(endpoint: string, rule: UnitRule, inputs: Record<string, { dims: readonly number[] }>): number {
  try {
    return unitsOf(rule, inputs);
  } catch (error) {
    if (error instanceof UnitError) {
      throw new EdgepayClientError("worker_rejected", `${endpoint}: ${error.code}: ${error.message} (the model's unit rule, checked before paying)`, {
        workerCode: error.code,
        status: error.code === "too_many_units" ? 413 : 400,
      });
    }
    throw error;
  }
}

/** A unit rule as canonical JSON (keys sorted at every level), to pin it on a channel. */
function canonicalRule(rule: UnitRule): string {
  const sort = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(sort) : v && typeof v === "object" ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sort((v as Record<string, unknown>)[k])])) : v;
  return JSON.stringify(sort(rule));
}

/** A request's inputs and the exact body that carries them. */
interface Outgoing extends InferRequestBody {
  inputs: Record<string, Tensor>;
  encoding: InferEncoding;
}

function wireOf(inputs: Record<string, Tensor>): TensorMapWire {
  const wire: TensorMapWire = {};
  for (const [name, t] of Object.entries(inputs)) wire[name] = tensorToWire(t);
  return wire;
}

function decodeWire(inputs: TensorMapWire): Record<string, Tensor> {
  return Object.fromEntries(Object.entries(inputs).map(([name, w]) => [name, tensorFromWire(name, w)]));
}

/** What both a paid request's MAC and its seal are bound to, besides the body. */
function callContext(record: ChannelRecord, voucher: Voucher, modelId: bigint, path: string): Omit<MacRequest, "bodyHash"> {
  return {
    chainId: record.chainId,
    paymentChannels: record.paymentChannels,
    channelId: record.channelId,
    cumulativeAmount: voucher.cumulativeAmount,
    signature: voucher.signature,
    modelId,
    method: "POST",
    path,
  };
}
