// The ledger of channels this device serves: lookup in its own index (memory, persisted in SQLite, fed by the chain
// watcher; never a chain read per request), request authentication (request MAC, ECDSA for a first voucher) before
// any lock, voucher checks with stable reasons, per-channel serialisation, and deferred ECDSA verification.
import type { Hex } from "viem";
import type { Voucher } from "@edgepay/protocol/voucher";
import { createVoucherHasher } from "./receipts.ts";
import type { ErrorCode } from "@edgepay/protocol/wire";
import type { ChainReader, OnchainChannel } from "./chain.ts";
import { macMatches, recoverDigest, type DigestSigner, type Recovered } from "./crypto.ts";
import type { GroupCommitter } from "./store/committer.ts";
import type { ChannelRow, Store } from "./store/db.ts";

/** A channel in memory: the durable row plus what only lives while the worker runs. */
export interface Channel extends ChannelRow {
  sessionKey: Buffer | null;
  lock: ChannelLock;
  lastDepositRead: number;
  /** A deferred verification in progress (background timer and settler share it). */
  verifying: Promise<boolean> | null;
}

export type Check = { valid: true; verified: boolean; signerPubkey: Hex | null } | { valid: false; reason: ErrorCode; message: string };

export interface LedgerEvents {
  /** A voucher was rejected (metrics label). */
  rejected(reason: string): void;
  /** A deferred ECDSA check failed: the channel is blocked for good. */
  deferredFailure(channelId: Hex): void;
  /** ECDSA recoveries done (inline or background). */
  recovered(kind: "inline" | "background"): void;
}

/** FIFO mutex with a bounded queue. */
export class ChannelLock {
  #busy = false;
  #waiters: (() => void)[] = [];

  get busy() {
    return this.#busy;
  }

  /** Resolves with a release function, or undefined at once when `maxQueue` requests already wait. */
  acquire(maxQueue: number): Promise<(() => void) | undefined> {
    if (!this.#busy) {
      this.#busy = true;
      return Promise.resolve(() => this.#release());
    }
    if (this.#waiters.length >= maxQueue) return Promise.resolve(undefined);
    return new Promise((resolve) => this.#waiters.push(() => resolve(() => this.#release())));
  }

  #release() {
    const next = this.#waiters.shift();
    if (next) next();
    else this.#busy = false;
  }
}

export interface LedgerOptions {
  chainId: number;
  closeSafetySeconds: number;
  maxUnverifiedValue?: bigint;
  /**
   * Channels that may carry deferred (MAC-accepted, not yet ECDSA-checked) value at once. Caps what a device can be
   * made to serve unpaid across channels: at most this many x the per-channel budget; beyond it vouchers are
   * recovered inline. Default 16.
   */
  maxDeferredChannels?: number;
  /** Chain time in seconds (block time plus wall-clock time since that block). */
  now: () => number;
}

/** Where channels not yet in the index are waited for (worker/chain/channel-index.ts). */
export interface ChannelIndexWait {
  waitFresh(since: number): Promise<boolean>;
}

/** A request authenticated as the channel signer's (before any lock is taken). */
export interface Authenticated {
  /** mac: the session MAC matched (the voucher's ECDSA check may be deferred); ecdsa: recovered now, and the MAC matched. */
  by: "mac" | "ecdsa";
  /** Signer public key recovered now (first voucher of the channel), to be stored with the accepted voucher. */
  signerPubkey: Hex | null;
}

export type AuthResult = { ok: true; auth: Authenticated } | { ok: false; reason: ErrorCode; message: string };

export class Ledger {
  readonly #store: Store;
  readonly #chain: ChainReader;
  readonly #device: DigestSigner;
  readonly #committer: GroupCommitter;
  readonly #opts: LedgerOptions;
  readonly #events: LedgerEvents;
  readonly #hash: (channelId: Hex, amount: bigint) => Uint8Array;
  readonly #channels = new Map<string, Channel>();
  /** Channels carrying deferred value now (accepted above verified, not blocked): the device-wide cap counts them. */
  readonly #deferred = new Set<Channel>();
  #index: ChannelIndexWait | undefined;

  constructor(args: { store: Store; chain: ChainReader; device: DigestSigner; committer: GroupCommitter; options: LedgerOptions; events: LedgerEvents }) {
    this.#store = args.store;
    this.#chain = args.chain;
    this.#device = args.device;
    this.#committer = args.committer;
    this.#opts = args.options;
    this.#events = args.events;
    this.#hash = createVoucherHasher(args.options.chainId, args.chain.contracts.paymentChannels);
    for (const row of this.#store.channels()) {
      const ch = this.#hydrate(row);
      this.#channels.set(row.id, ch);
      this.#trackDeferred(ch);
    }
  }

  /** Connects the channel index (misses wait for its next poll; without one, a miss is refused at once). */
  useIndex(index: ChannelIndexWait) {
    this.#index = index;
  }

  #hydrate(row: ChannelRow): Channel {
    const ch: Channel = { ...row, sessionKey: null, lock: new ChannelLock(), lastDepositRead: 0, verifying: null };
    // The session key is derived on the channel's first request after a start, not here: loading 10k channels
    // must not cost 10k ECDH operations before the worker serves.
    return ch;
  }

  /** Every channel of this device the worker knows. */
  all(): Channel[] {
    return [...this.#channels.values()];
  }

  /** Known channel of this device, without any chain lookup. */
  known(id: Hex): Channel | undefined {
    return this.#channels.get(id.toLowerCase());
  }

  /**
   * Finds a channel of this device in the index. Never reads the chain: a miss waits (bounded) for the index's next
   * poll that started after `since`, shared with every other miss, then answers from the index again.
   */
  async lookup(id: Hex, since = Date.now()): Promise<Channel | undefined> {
    const key = id.toLowerCase();
    const hit = this.#channels.get(key);
    if (hit || !this.#index) return hit;
    // Fresh or not (timed out, too many waiters), the index is all that is consulted.
    await this.#index.waitFresh(since);
    return this.#channels.get(key);
  }

  /** Adds a channel seen on-chain (lookup or ChannelOpened event). Only this device's channels are stored. */
  adopt(id: Hex, terms: ChannelRow["terms"], state: OnchainChannel): Channel {
    const key = id.toLowerCase() as Hex;
    const existing = this.#channels.get(key);
    if (existing) return existing;
    const row: ChannelRow = {
      id: key,
      terms,
      ...state,
      acceptedAmount: 0n,
      acceptedSig: null,
      verifiedAmount: 0n,
      verifiedSig: null,
      firstUnclaimedAt: null,
      signerPubkey: null,
      blocked: null,
      closeSigned: null,
    };
    const ch = this.#hydrate(row);
    // Only this device's channels enter the index (and the database).
    if (terms.device.toLowerCase() === this.#device.address.toLowerCase()) {
      this.#committer.enqueue({ op: "insertChannel", id: key, terms, state });
      this.#channels.set(key, ch);
    }
    return ch;
  }

  /** Applies on-chain state (events or a re-read) to a known channel and persists it. */
  applyChainState(ch: Channel, state: Partial<OnchainChannel>) {
    // Every field only moves one way on-chain, so replaying an older event never undoes a newer read.
    const next = {
      deposit: state.deposit !== undefined && state.deposit > ch.deposit ? state.deposit : ch.deposit,
      claimed: state.claimed !== undefined && state.claimed > ch.claimed ? state.claimed : ch.claimed,
      closesAt: state.closesAt ? state.closesAt : ch.closesAt,
      settled: ch.settled || state.settled === true,
    };
    if (next.deposit === ch.deposit && next.claimed === ch.claimed && next.closesAt === ch.closesAt && next.settled === ch.settled) return;
    const claimedMore = next.claimed > ch.claimed;
    Object.assign(ch, next);
    if (!this.#channels.has(ch.id)) return;
    this.#committer.enqueue({ op: "updateChainState", id: ch.id, state: next });
    if (claimedMore) {
      // The age clock restarts for whatever is still unclaimed.
      ch.firstUnclaimedAt = ch.acceptedAmount > ch.claimed ? Date.now() : null;
      this.#committer.enqueue({ op: "setFirstUnclaimedAt", id: ch.id, at: ch.firstUnclaimedAt });
    }
  }

  /** The channel's session key, derived once from the signer's public key learnt from its first voucher. */
  #sessionKeyOf(ch: Channel): Buffer | null {
    if (!ch.sessionKey && ch.signerPubkey) ch.sessionKey = this.#device.sessionKey(Buffer.from(ch.signerPubkey.slice(2), "hex"), ch.id);
    return ch.sessionKey;
  }

  /**
   * The signer of `sig` over `digest` when it is the channel's signer, else undefined. Once the signer's public key is
   * known (stored from the channel's first, address-checked voucher) keys are compared byte for byte: the address
   * derivation (keccak, checksum) is a fifth of a recovery, and later recoveries are the budget and cap checks.
   */
  #recoverSigner(ch: Channel, digest: Uint8Array, sig: Hex): Recovered | undefined {
    const recovered = recoverDigest(digest, sig);
    if (!recovered) return undefined;
    if (ch.signerPubkey) return Buffer.from(recovered.publicKey).toString("hex") === ch.signerPubkey.slice(2).toLowerCase() ? recovered : undefined;
    return recovered.address.toLowerCase() === ch.terms.signer.toLowerCase() ? recovered : undefined;
  }

  #maxDeferredChannels(): number {
    return this.#opts.maxDeferredChannels ?? 16;
  }

  #trackDeferred(ch: Channel) {
    if (!ch.blocked && ch.acceptedAmount > ch.verifiedAmount) this.#deferred.add(ch);
    else this.#deferred.delete(ch);
  }

  /** Channels carrying deferred value now (for the device-wide cap; metrics and tests). */
  deferredChannels(): number {
    return this.#deferred.size;
  }

  budget(ch: Channel): bigint {
    return this.#opts.maxUnverifiedValue ?? 4n * ch.terms.price;
  }

  /** Whether `v` is the channel's last accepted voucher itself (a re-sent request whose answer was lost). */
  isLastAccepted(ch: Channel, v: Voucher): boolean {
    return v.cumulativeAmount === ch.acceptedAmount && ch.acceptedSig !== null && ch.acceptedSig.toLowerCase() === v.signature.toLowerCase();
  }

  /**
   * The checks a voucher must pass before its request is even read: channel state and amount against what the
   * worker already knows, no signature, no chain call, no lock. The same checks run again under the lock.
   */
  precheck(ch: Channel, v: Voucher, modelId: bigint): Extract<Check, { valid: false }> | undefined {
    const state = this.#stateCheck(ch, v, modelId);
    if (state) return state;
    if (this.isLastAccepted(ch, v)) return undefined;
    // The body (and so the units) is not read yet: a voucher must add at least one unit's price.
    return this.#amountCheck(ch, v, ch.terms.price);
  }

  #stateCheck(ch: Channel, v: Voucher, modelId: bigint): Extract<Check, { valid: false }> | undefined {
    const reject = (reason: ErrorCode, message: string) => {
      this.#events.rejected(reason);
      return { valid: false as const, reason, message };
    };
    if (ch.terms.device.toLowerCase() !== this.#device.address.toLowerCase()) {
      return reject("wrong_device", `channel ${ch.id} belongs to device ${ch.terms.device}, not ${this.#device.address}`);
    }
    if (ch.terms.modelId !== modelId) return reject("wrong_model", `channel ${ch.id} is for model ${ch.terms.modelId}, not ${modelId}`);
    if (ch.blocked) return reject("channel_blocked", `channel ${ch.id} is blocked: ${ch.blocked}`);
    if (ch.settled) return reject("channel_settled", `channel ${ch.id} is settled`);
    if (ch.closeSigned !== null) return reject("channel_closing", `channel ${ch.id} is closing: the device signed a cooperative close at ${ch.closeSigned}`);
    if (ch.closesAt !== 0 && ch.closesAt - this.#opts.now() < this.#opts.closeSafetySeconds) {
      return reject("channel_closing", `channel ${ch.id} closes at ${ch.closesAt}, too soon to claim safely`);
    }
    return undefined;
  }

  #amountCheck(ch: Channel, v: Voucher, cost: bigint): Extract<Check, { valid: false }> | undefined {
    const reject = (reason: ErrorCode, message: string) => {
      this.#events.rejected(reason);
      return { valid: false as const, reason, message };
    };
    if (v.cumulativeAmount <= ch.acceptedAmount) {
      return reject("voucher_stale", `voucher amount ${v.cumulativeAmount} is not above the last accepted ${ch.acceptedAmount}`);
    }
    const required = ch.acceptedAmount + cost;
    if (v.cumulativeAmount < required) return reject("amount_too_low", `voucher amount ${v.cumulativeAmount} is below the required ${required}`);
    return undefined;
  }

  /**
   * Authenticates a request as the channel signer's, before any lock: the request MAC (`mac` over `message`) is
   * required. With a session key (a voucher of the channel was accepted before) the MAC alone decides; without one
   * the voucher's signature is recovered, must be the channel signer's, and yields the key the MAC must match.
   * Nothing is stored and no channel state changes here.
   */
  authenticate(ch: Channel, v: Voucher, message: string, mac: string | undefined): AuthResult {
    const fail = (reason: ErrorCode, msg: string): AuthResult => {
      this.#events.rejected(reason);
      return { ok: false, reason, message: msg };
    };
    if (mac === undefined || mac === "") {
      return fail("mac_required", `paid requests carry x-edgepay-mac: the HMAC of the request (protocol/session.ts requestMacMessage) under the channel's session key`);
    }
    const known = this.#sessionKeyOf(ch);
    if (known) {
      if (!macMatches(known, message, mac)) return fail("invalid_mac", `x-edgepay-mac does not match this request under channel ${ch.id}'s session key`);
      return { ok: true, auth: { by: "mac", signerPubkey: null } };
    }
    this.#events.recovered("inline");
    const recovered = this.#recoverSigner(ch, this.#hash(v.channelId, v.cumulativeAmount), v.signature);
    if (!recovered) {
      return fail("invalid_signature", `voucher is not signed by the channel's signer ${ch.terms.signer} under chain ${this.#opts.chainId} and contract ${this.#chain.contracts.paymentChannels}`);
    }
    const key = this.#device.sessionKey(recovered.publicKey, ch.id);
    if (!macMatches(key, message, mac)) return fail("invalid_mac", `x-edgepay-mac does not match this request under channel ${ch.id}'s session key`);
    return { ok: true, auth: { by: "ecdsa", signerPubkey: ch.signerPubkey ? null : (`0x${Buffer.from(recovered.publicKey).toString("hex")}` as Hex) } };
  }

  /**
   * Every check of an authenticated voucher for `modelId` on `ch`, in order; the caller holds the channel's lock.
   * `cost` is the request's units x the channel's price per unit: the voucher must add exactly that to the last
   * accepted amount. A MAC-authenticated voucher beyond the channel's unverified budget is recovered now.
   */
  async check(ch: Channel, v: Voucher, modelId: bigint, auth: Authenticated, cost: bigint = ch.terms.price): Promise<Check> {
    const early = this.#stateCheck(ch, v, modelId) ?? this.#amountCheck(ch, v, cost);
    if (early) return early;
    const reject = (reason: ErrorCode, message: string): Check => {
      this.#events.rejected(reason);
      return { valid: false, reason, message };
    };
    if (v.cumulativeAmount > ch.deposit && Date.now() - ch.lastDepositRead > 1_000) {
      // A top-up may have landed since the last event poll: read the deposit once (the request is authenticated).
      ch.lastDepositRead = Date.now();
      this.applyChainState(ch, await this.#chain.channel(ch.id));
      if (ch.settled) return reject("channel_settled", `channel ${ch.id} is settled`);
    }
    if (v.cumulativeAmount > ch.deposit) {
      return reject("amount_exceeds_deposit", `voucher amount ${v.cumulativeAmount} exceeds the deposit ${ch.deposit}`);
    }
    const required = ch.acceptedAmount + cost;
    if (v.cumulativeAmount > required) {
      return reject("amount_too_high", `voucher amount ${v.cumulativeAmount} is above the required ${required} (last accepted ${ch.acceptedAmount} + this request's cost ${cost})`);
    }
    if (auth.by === "ecdsa") return { valid: true, verified: true, signerPubkey: auth.signerPubkey };
    if (v.cumulativeAmount - ch.verifiedAmount <= this.budget(ch) && (this.#deferred.has(ch) || this.#deferred.size < this.#maxDeferredChannels())) {
      return { valid: true, verified: false, signerPubkey: null };
    }
    this.#events.recovered("inline");
    const recovered = this.#recoverSigner(ch, this.#hash(v.channelId, v.cumulativeAmount), v.signature);
    if (!recovered) {
      return reject("invalid_signature", `voucher is not signed by the channel's signer ${ch.terms.signer} under chain ${this.#opts.chainId} and contract ${this.#chain.contracts.paymentChannels}`);
    }
    return { valid: true, verified: true, signerPubkey: null };
  }

  /** The durable state after accepting `v` (written inside the caller's group commit, applied after it). */
  accepted(ch: Channel, v: Voucher, check: Extract<Check, { valid: true }>) {
    return {
      acceptedAmount: v.cumulativeAmount,
      acceptedSig: v.signature,
      verifiedAmount: check.verified ? v.cumulativeAmount : ch.verifiedAmount,
      verifiedSig: check.verified ? v.signature : ch.verifiedSig,
      firstUnclaimedAt: ch.acceptedAmount > ch.claimed && ch.firstUnclaimedAt !== null ? ch.firstUnclaimedAt : Date.now(),
      signerPubkey: ch.signerPubkey ?? check.signerPubkey,
    };
  }

  apply(ch: Channel, next: ReturnType<Ledger["accepted"]>) {
    Object.assign(ch, next);
    this.#trackDeferred(ch);
    if (!ch.sessionKey && next.signerPubkey) ch.sessionKey = this.#device.sessionKey(Buffer.from(next.signerPubkey.slice(2), "hex"), ch.id);
  }

  /** Verifies the newest accepted voucher of `ch` if it was deferred; blocks the channel for good if it is invalid. */
  verifyDeferred(ch: Channel, kind: "inline" | "background" = "background"): Promise<boolean> {
    if (ch.blocked) return Promise.resolve(false);
    if (ch.acceptedAmount <= ch.verifiedAmount || !ch.acceptedSig) return Promise.resolve(true);
    // A pass in flight may be for an older amount (a background pass started before the last request was accepted):
    // the newest is verified after it, which is what every caller waits for.
    if (ch.verifying) return ch.verifying.then((ok) => (ok ? this.verifyDeferred(ch, kind) : false));
    ch.verifying = this.#verifyDeferred(ch, kind).finally(() => (ch.verifying = null));
    return ch.verifying;
  }

  async #verifyDeferred(ch: Channel, kind: "inline" | "background"): Promise<boolean> {
    if (!ch.acceptedSig) return true;
    const amount = ch.acceptedAmount;
    const sig = ch.acceptedSig;
    this.#events.recovered(kind);
    const recovered = this.#recoverSigner(ch, this.#hash(ch.id, amount), sig);
    if (recovered) {
      if (amount > ch.verifiedAmount) {
        await this.#committer.commit({ op: "recordVerified", id: ch.id, amount, sig, signerPubkey: null });
        if (amount > ch.verifiedAmount) {
          ch.verifiedAmount = amount;
          ch.verifiedSig = sig;
        }
      }
      this.#trackDeferred(ch);
      return true;
    }
    const reason = `deferred voucher at ${amount} has an invalid signature`;
    // Blocked in memory at once, so no request slips in while the block is being written.
    ch.blocked = reason;
    this.#trackDeferred(ch);
    this.#events.deferredFailure(ch.id);
    await this.#committer.commit({ op: "block", id: ch.id, reason });
    return false;
  }

  /** Background pass: verifies every channel carrying deferred vouchers. */
  async verifyAllDeferred() {
    for (const ch of this.#channels.values()) {
      if (!ch.blocked && ch.acceptedAmount > ch.verifiedAmount) await this.verifyDeferred(ch);
    }
  }

  /**
   * State check of an authenticated cooperative-close request (under the lock): the voucher must be the channel's
   * latest (amount = last accepted; 0 when none was accepted).
   */
  checkClose(ch: Channel, v: Voucher): Check {
    if (ch.terms.device.toLowerCase() !== this.#device.address.toLowerCase()) {
      return { valid: false, reason: "wrong_device", message: `channel ${ch.id} belongs to device ${ch.terms.device}` };
    }
    if (ch.settled) return { valid: false, reason: "channel_settled", message: `channel ${ch.id} is settled` };
    if (v.cumulativeAmount !== ch.acceptedAmount) {
      return { valid: false, reason: "voucher_stale", message: `a close needs the latest voucher (amount ${ch.acceptedAmount}), got ${v.cumulativeAmount}` };
    }
    return { valid: true, verified: true, signerPubkey: null };
  }

  /**
   * Authenticates a cooperative-close request: the voucher's signature is always recovered (a close ends the
   * service, so it is never deferred) and the request MAC must match under the session key.
   */
  authenticateClose(ch: Channel, v: Voucher, message: string, mac: string | undefined): AuthResult {
    const recovered = this.#recoverSigner(ch, this.#hash(v.channelId, v.cumulativeAmount), v.signature);
    if (!recovered) {
      return { ok: false, reason: "invalid_signature", message: `voucher is not signed by the channel's signer ${ch.terms.signer}` };
    }
    if (mac === undefined || mac === "") return { ok: false, reason: "mac_required", message: "a close request carries x-edgepay-mac (protocol/session.ts requestMacMessage)" };
    const key = this.#sessionKeyOf(ch) ?? this.#device.sessionKey(recovered.publicKey, ch.id);
    if (!macMatches(key, message, mac)) return { ok: false, reason: "invalid_mac", message: `x-edgepay-mac does not match this close request under channel ${ch.id}'s session key` };
    return { ok: true, auth: { by: "ecdsa", signerPubkey: null } };
  }
}
