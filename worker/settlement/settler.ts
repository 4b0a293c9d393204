// The settler turns accepted vouchers into tokens: it claims a channel when its unclaimed value passes the
// threshold, when that value grows old, as soon as the buyer requests a close and again at the last safe moment
// (the watchtower role), and on shutdown. Several due channels go into one claimMany. Only ECDSA-verified
// vouchers are ever claimed: deferred ones are verified first.
import { encodeFunctionData, type Hex } from "viem";
import { paymentChannelsAbi } from "@edgepay/protocol/generated/contracts";
import type { ChainReader } from "../chain.ts";
import type { Channel, Ledger } from "../ledger.ts";
import type { Metrics } from "../metrics.ts";
import type { TxSender } from "./sender.ts";
import type { Anchorer } from "../recorder/anchorer.ts";

export interface SettlerOptions {
  claimThreshold: bigint;
  maxAgeSeconds: number;
  closeSafetySeconds: number;
  minBatch: number;
  pollIntervalMs: number;
  /** Largest number of channels in one claimMany. */
  maxBatch?: number;
  now: () => number;
  log: (msg: string) => void;
}

export type DueReason = "threshold" | "age" | "close_requested" | "close_deadline" | "shutdown" | "requested";

/** What a round sent: the channels claimed and the transaction, or null when nothing was due. */
export interface ClaimResult {
  channels: number;
  txHash: Hex | null;
}

interface Due {
  ch: Channel;
  amount: bigint;
  signature: Hex;
  reason: DueReason;
}

export class Settler {
  readonly #ledger: Ledger;
  readonly #chain: ChainReader;
  readonly #sender: TxSender;
  readonly #metrics: Metrics;
  readonly #opts: SettlerOptions;
  /** Flight recorder: claims carry the anchor of new receipts (claimAndAnchor); idle rounds anchor on interval. */
  readonly #anchorer: Anchorer | undefined;
  /** Channels claimed since their close was requested (the early watchtower claim is done). */
  readonly #closeClaimed = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #kicked = false;
  #stopped = false;
  #failures = 0;
  #nextAttempt = 0;

  constructor(args: { ledger: Ledger; chain: ChainReader; sender: TxSender; metrics: Metrics; options: SettlerOptions; anchorer?: Anchorer }) {
    this.#anchorer = args.anchorer;
    this.#ledger = args.ledger;
    this.#chain = args.chain;
    this.#sender = args.sender;
    this.#metrics = args.metrics;
    this.#opts = args.options;
  }

  start() {
    const loop = () => {
      if (this.#stopped) return;
      this.#timer = setTimeout(() => {
        void this.tick().finally(loop);
      }, this.#opts.pollIntervalMs);
    };
    loop();
  }

  /** Runs a round soon (a close request was seen). */
  kick() {
    this.#kicked = true;
    this.#nextAttempt = 0;
    if (!this.#running && !this.#stopped) void this.tick();
  }

  /** One round; rounds never overlap. */
  tick(): Promise<void> {
    if (this.#running) {
      this.#kicked = true;
      return this.#running;
    }
    this.#running = (async () => {
      do {
        this.#kicked = false;
        if (Date.now() < this.#nextAttempt) break;
        try {
          await this.#round("poll");
          this.#failures = 0;
        } catch (error) {
          this.#failures++;
          // Backoff: 1 s, 2 s, 4 s ... capped at one minute.
          this.#nextAttempt = Date.now() + Math.min(60_000, 1000 * 2 ** (this.#failures - 1));
          this.#opts.log(`settler: ${(error as Error).message.split("\n")[0]}`);
        }
      } while (this.#kicked && !this.#stopped);
    })().finally(() => (this.#running = undefined));
    return this.#running;
  }

  /**
   * Claims every channel with verified unclaimed value now (the provider asked, POST /v1/settle), whatever the
   * threshold, through the same round as the loop; resolves once the claim is mined. Waits for a running round
   * rather than overlapping it, and ignores the failure backoff because a person is waiting for the answer.
   */
  async claimNow(): Promise<ClaimResult> {
    while (this.#running) await this.#running;
    if (this.#stopped) throw new Error("the worker is stopping; its final settlement claims everything");
    const round = this.#round("requested");
    this.#running = round.then(
      () => undefined,
      () => undefined,
    ).finally(() => (this.#running = undefined));
    return round;
  }

  /** Stops the loop and claims everything claimable (final settlement). */
  async shutdown(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
    await this.#round("final");
  }

  /** What is due now and why (exposed for tests and /healthz). */
  async due(final: boolean, requested = false): Promise<Due[]> {
    const now = this.#opts.now();
    const out: Due[] = [];
    for (const ch of this.#ledger.all()) {
      if (ch.settled) continue;
      if (ch.closesAt !== 0 && now >= ch.closesAt) continue; // too late: the contract refuses claims now
      if (ch.acceptedAmount <= ch.claimed) continue;
      // Deferred vouchers are verified by the background pass (verification.backgroundMs); here only a channel that
      // would be claimed now is verified first, so that a claim never carries an unverified voucher.
      if (!this.#reason(ch, ch.acceptedAmount, now, final, requested)) continue;
      if (ch.acceptedAmount > ch.verifiedAmount && !ch.blocked) await this.#ledger.verifyDeferred(ch, "background");
      if (ch.verifiedAmount <= ch.claimed || !ch.verifiedSig) continue;
      const reason = this.#reason(ch, ch.verifiedAmount, now, final, requested);
      if (reason) out.push({ ch, amount: ch.verifiedAmount, signature: ch.verifiedSig, reason });
    }
    return out;
  }

  /** Why `ch` is due at `amount` (its verified amount, or the accepted one to decide whether to verify first). */
  #reason(ch: Channel, amount: bigint, now: number, final: boolean, requested: boolean): DueReason | undefined {
    const unclaimed = amount - ch.claimed;
    if (final) return "shutdown";
    if (ch.closesAt !== 0 && now >= ch.closesAt - this.#opts.closeSafetySeconds) return "close_deadline";
    if (ch.closesAt !== 0 && !this.#closeClaimed.has(ch.id)) return "close_requested";
    if (unclaimed >= this.#opts.claimThreshold) return "threshold";
    if (ch.firstUnclaimedAt !== null && Date.now() - ch.firstUnclaimedAt >= this.#opts.maxAgeSeconds * 1000) return "age";
    if (requested) return "requested";
    return undefined;
  }

  async #round(mode: "poll" | "requested" | "final"): Promise<ClaimResult> {
    const final = mode === "final";
    const nothing: ClaimResult = { channels: 0, txHash: null };
    let due = await this.due(final, mode === "requested");
    if (due.length === 0) return this.#anchorer?.idle(final).then(() => nothing) ?? nothing;
    const urgent = due.some((d) => d.reason !== "threshold");
    if (!final && !urgent && due.length < this.#opts.minBatch) return this.#anchorer?.idle(false).then(() => nothing) ?? nothing;
    const max = this.#opts.maxBatch ?? 100;
    // Most urgent first: deadlines, then the largest amounts.
    due.sort((a, b) => rank(a.reason) - rank(b.reason) || (b.amount - b.ch.claimed > a.amount - a.ch.claimed ? 1 : -1));
    due = due.slice(0, max);
    due = await this.#dropFailing(due);
    if (due.length === 0) return this.#anchorer?.idle(final).then(() => nothing) ?? nothing;
    return { channels: due.length, txHash: await this.#claim(due) };
  }

  /** Simulates each claim alone when the batch as a whole would revert (e.g. a channel settled meanwhile). */
  async #dropFailing(due: Due[]): Promise<Due[]> {
    try {
      await this.#chain.client.estimateGas({ account: this.#sender.address, to: this.#chain.contracts.paymentChannels, data: calldata(due) });
      return due;
    } catch {
      const kept: Due[] = [];
      let firstError: Error | undefined;
      for (const d of due) {
        try {
          await this.#chain.client.estimateGas({ account: this.#sender.address, to: this.#chain.contracts.paymentChannels, data: calldata([d]) });
          kept.push(d);
        } catch (error) {
          firstError ??= error as Error;
          this.#opts.log(`settler: claim of ${d.ch.id} at ${d.amount} would revert: ${(error as Error).message.split("\n")[0]}`);
          this.#ledger.applyChainState(d.ch, await this.#chain.channel(d.ch.id));
        }
      }
      // Nothing can be sent (e.g. the device key has no ETH for gas): fail the round so the backoff applies.
      if (kept.length === 0 && firstError) throw new Error(`no claim can be sent: ${firstError.message.split("\n")[0]}`);
      return kept;
    }
  }

  /**
   * The claims as FlightRecorder.claimAndAnchor with the unanchored receipts, when there are any and the call
   * simulates; otherwise undefined (plain claims: the anchor must never hold up a payment).
   */
  async #withAnchor(due: Due[]): Promise<AnchoredClaim | undefined> {
    const anchorer = this.#anchorer;
    if (!anchorer) return undefined;
    try {
      const batch = await anchorer.pending();
      if (!batch) return undefined;
      const data = anchorer.claimAndAnchorData(
        due.map((d) => ({ terms: d.ch.terms, cumulativeAmount: d.amount, signature: d.signature })),
        batch,
      );
      await this.#chain.client.estimateGas({ account: this.#sender.address, to: anchorer.flightRecorder, data });
      return { request: { kind: "claimAndAnchor", to: anchorer.flightRecorder, data, claims: due.map((d) => ({ channelId: d.ch.id, amount: d.amount.toString() })) }, batch };
    } catch (error) {
      this.#opts.log(`settler: claiming without an anchor: ${(error as Error).message.split("\n")[0]}`);
      return undefined;
    }
  }

  async #claim(due: Due[]): Promise<Hex> {
    const claims = due.map((d) => ({ channelId: d.ch.id, amount: d.amount.toString() }));
    this.#opts.log(`settler: claiming ${due.length} channel(s) (${[...new Set(due.map((d) => d.reason))].join(", ")})`);
    try {
      const anchored = await this.#withAnchor(due);
      const sent = await this.#sender.send(
        anchored?.request ?? { kind: due.length === 1 ? "claim" : "claimMany", to: this.#chain.contracts.paymentChannels, data: calldata(due), claims },
      );
      if (anchored) this.#anchorer!.mined(anchored.batch, sent.receipt);
      this.#metrics.claims.inc({ outcome: "mined" });
      this.#opts.log(`settler: claimed in ${sent.hash} (gas ${sent.receipt.gasUsed})`);
      return sent.hash;
    } catch (error) {
      this.#metrics.claims.inc({ outcome: "failed" });
      throw error;
    } finally {
      // Whatever happened, the chain is the truth: re-read the channels involved.
      for (const d of due) {
        const before = d.ch.claimed;
        this.#ledger.applyChainState(d.ch, await this.#chain.channel(d.ch.id));
        if (d.ch.claimed > before) this.#metrics.claimedValue.inc(Number(d.ch.claimed - before));
        if (d.ch.closesAt !== 0 && d.ch.claimed >= d.amount) this.#closeClaimed.add(d.ch.id);
      }
    }
  }
}

export interface AnchoredClaim {
  request: { kind: string; to: `0x${string}`; data: Hex; claims: { channelId: Hex; amount: string }[] };
  batch: NonNullable<Awaited<ReturnType<Anchorer["pending"]>>>;
}

function rank(reason: DueReason): number {
  return { close_deadline: 0, close_requested: 1, shutdown: 2, age: 3, threshold: 4, requested: 5 }[reason];
}

function calldata(due: Due[]): Hex {
  if (due.length === 1) {
    const d = due[0]!;
    return encodeFunctionData({ abi: paymentChannelsAbi, functionName: "claim", args: [d.ch.terms, d.amount, d.signature] });
  }
  return encodeFunctionData({
    abi: paymentChannelsAbi,
    functionName: "claimMany",
    args: [due.map((d) => ({ terms: d.ch.terms, cumulativeAmount: d.amount, signature: d.signature }))],
  });
}
