// The buyer's side of reputation (README, "Reputation"): posts its spot-check outcomes and the uptime it saw to
// DeviceReputation (from the payer wallet, against a channel it paid), and orders workers by price and reputation
// (protocol/reputation-score.ts rankOffers). Used by Buyer when BuyerOptions.reputation is given.
import { isAddressEqual, keccak256, toHex, type Address, type Hex, type PublicClient } from "viem";
import { deviceReputationAbi } from "../generated/contracts.ts";
import { rankOffers, readReputation, SPOT_CHECK_TAG, UPTIME_TAG, type Reputation, type ReputationSources } from "../reputation.ts";
import { channelIdOf, type ChannelTerms } from "../terms.ts";
import type { BuyerWallet } from "./chain.ts";
import { describeContractError, EdgepayClientError } from "./errors.ts";
import type { SpotCheckRecord } from "./spot-check-records.ts";

export interface BuyerReputationOptions extends Omit<ReputationSources, "deviceRegistry"> {
  /** First block of the scans (the deployment block on a long chain; default 0). */
  fromBlock?: bigint;
  /** Seconds a device's reputation is reused when routing (default 60). */
  ttlSeconds?: number;
  /** Post passed and failed spot checks as feedback (needs the payer wallet and `deviceReputation`; default true). */
  postSpotChecks?: boolean;
}

/** A feedback transaction this client sent. */
export interface FeedbackSent {
  device: Address;
  tag1: string;
  value: bigint;
  valueDecimals: number;
  channelId: Hex;
  hash: Hex;
}

/** A worker as routing sees it; `device`/`price` are undefined when its offerings could not be read. */
export interface WorkerView {
  endpoint: string;
  device?: Address;
  price?: bigint;
  quarantined: boolean;
}

export class BuyerReputation {
  readonly #cache = new Map<string, { at: number; value: Promise<Reputation> }>();
  /** Requests asked and answered per device since the last uptime report. */
  readonly #seen = new Map<string, { device: Address; asked: number; answered: number }>();

  readonly publicClient: PublicClient;
  readonly deviceRegistry: () => Promise<Address>;
  readonly options: BuyerReputationOptions;

  constructor(publicClient: PublicClient, deviceRegistry: () => Promise<Address>, options: BuyerReputationOptions) {
    this.publicClient = publicClient;
    this.deviceRegistry = deviceRegistry;
    this.options = options;
  }

  /** The device's reputation, cached for `ttlSeconds`. */
  async of(device: Address): Promise<Reputation> {
    const key = device.toLowerCase();
    const cached = this.#cache.get(key);
    if (cached && Date.now() - cached.at < (this.options.ttlSeconds ?? 60) * 1000) return cached.value;
    const value = (async () =>
      readReputation(this.publicClient, { ...this.options, deviceRegistry: await this.deviceRegistry() }, device, { fromBlock: this.options.fromBlock ?? 0n }))();
    this.#cache.set(key, { at: Date.now(), value });
    value.catch(() => this.#cache.delete(key));
    return value;
  }

  /** Drops cached reputations (after this client posted feedback, say). */
  forget(device?: Address) {
    if (device) this.#cache.delete(device.toLowerCase());
    else this.#cache.clear();
  }

  /**
   * Workers in routing order: those with a readable offering by price per reputation point, then quarantined ones
   * (they are refused before any voucher, with the reason), then those whose offerings could not be read.
   */
  async order(workers: readonly WorkerView[]): Promise<string[]> {
    const known = workers.filter((w) => w.device && w.price !== undefined);
    const offers = await Promise.all(
      known.map(async (w) => ({ item: w.endpoint, price: w.price!, quarantined: w.quarantined, score: w.quarantined ? 0 : (await this.of(w.device!)).score })),
    );
    return [...rankOffers(offers), ...known.filter((w) => w.quarantined).map((w) => w.endpoint), ...workers.filter((w) => !known.includes(w)).map((w) => w.endpoint)];
  }

  /** Counts one request to `device`: answered, or the device stopped answering. */
  observe(device: Address, answered: boolean) {
    const key = device.toLowerCase();
    const s = this.#seen.get(key) ?? { device, asked: 0, answered: 0 };
    s.asked++;
    if (answered) s.answered++;
    this.#seen.set(key, s);
  }

  /** Posts a passed (1) or failed (0) spot check against the checked channel; inconclusive checks are not posted. */
  async postSpotCheck(wallet: BuyerWallet, check: SpotCheckRecord, terms: ChannelTerms): Promise<FeedbackSent | undefined> {
    if (check.outcome === "inconclusive" || this.options.postSpotChecks === false) return undefined;
    // The hash commits to the checked receipt (channel and sequence), so the feedback points at evidence the buyer keeps.
    const feedbackHash = keccak256(toHex(check.id));
    return this.#give(wallet, terms, check.outcome === "passed" ? 1n : 0n, 0, SPOT_CHECK_TAG, check.modelId, check.endpoint, feedbackHash);
  }

  /**
   * Posts the share of requests each device answered since the last report (percent, 2 decimals), one transaction
   * per device, against a channel this payer has with it; devices without one are skipped and kept for later.
   */
  async reportUptime(wallet: BuyerWallet, channels: readonly { terms: ChannelTerms; endpoint?: string }[]): Promise<FeedbackSent[]> {
    const sent: FeedbackSent[] = [];
    for (const [key, s] of this.#seen) {
      const channel = channels.find((c) => isAddressEqual(c.terms.device, s.device) && isAddressEqual(c.terms.payer, wallet.account.address));
      if (!channel || s.asked === 0) continue;
      const value = BigInt(Math.floor((s.answered * 10_000) / s.asked));
      sent.push(await this.#give(wallet, channel.terms, value, 2, UPTIME_TAG, channel.terms.modelId, channel.endpoint ?? "", `0x${"00".repeat(32)}`));
      this.#seen.delete(key);
    }
    return sent;
  }

  async #give(wallet: BuyerWallet, terms: ChannelTerms, value: bigint, valueDecimals: number, tag1: string, modelId: bigint, endpoint: string, feedbackHash: Hex): Promise<FeedbackSent> {
    const address = this.options.deviceReputation;
    if (!address) throw new EdgepayClientError("bad_argument", "no DeviceReputation address: feedback cannot be posted");
    let hash: Hex;
    try {
      const { request } = await this.publicClient.simulateContract({
        account: wallet.account,
        address,
        abi: deviceReputationAbi,
        functionName: "giveFeedback",
        args: [terms, value, valueDecimals, tag1, modelId.toString(), endpoint.slice(0, 256), "", feedbackHash],
      });
      hash = await wallet.writeContract(request);
    } catch (error) {
      throw new EdgepayClientError("transaction_failed", `giveFeedback (${tag1}) failed: ${describeContractError(error)}`, { cause: error });
    }
    const receipt = await this.publicClient.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success") throw new EdgepayClientError("transaction_failed", `giveFeedback reverted in transaction ${hash}`);
    this.forget(terms.device);
    return { device: terms.device, tag1, value, valueDecimals, channelId: channelIdOf(terms), hash };
  }
}
