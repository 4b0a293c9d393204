// Anchoring: the Merkle root of the receipts not yet anchored goes on-chain with their sequence range, inside the
// settler's claim transaction (FlightRecorder.claimAndAnchor) when there is one, else as a plain `anchor` once the
// interval has passed or the worker stops. The chain is the truth: at start and before every anchor the worker
// reads its anchored sequence and the `Anchored` events it is missing, and checks their roots against its own log.
// It also defends the device: an omission challenge against a receipt in its log is answered with the proof.
import { encodeFunctionData, type Address, type Hex, type PublicClient, type TransactionReceipt } from "viem";
import type { ChannelTerms } from "@edgepay/protocol/terms";
import { flightRecorderAbi } from "@edgepay/protocol/generated/contracts";
import { anchorBatch, type AnchorBatch } from "@edgepay/protocol/audit";
import { getContractEventsPaged } from "@edgepay/protocol/paged-logs";
import type { TxSender } from "../settlement/sender.ts";
import type { RecorderLog } from "./log.ts";
import type { ProofCache } from "./proofs.ts";

export interface AnchorerOptions {
  anchorIntervalSeconds: number;
  maxAnchorReceipts: number;
  fromBlock: bigint;
  /** Blocks per eth_getLogs in its scans (config index.getLogsRange). */
  getLogsRange?: number;
  /** Answer omission challenges against this device automatically (default true). */
  answerChallenges: boolean;
  log: (msg: string) => void;
}

/** A claim in the shape PaymentChannels.claimMany takes. */
export interface ClaimArg {
  terms: ChannelTerms;
  cumulativeAmount: bigint;
  signature: Hex;
}

export class Anchorer {
  readonly flightRecorder: Address;
  readonly #client: PublicClient;
  readonly #log: RecorderLog;
  readonly #proofs: ProofCache;
  readonly #sender: TxSender;
  readonly #device: Address;
  readonly #opts: AnchorerOptions;
  #lastAnchorAt = Date.now();
  #eventsFrom: bigint;
  #challengesFrom: bigint;

  constructor(args: { client: PublicClient; flightRecorder: Address; log: RecorderLog; proofs: ProofCache; sender: TxSender; device: Address; options: AnchorerOptions }) {
    this.#client = args.client;
    this.flightRecorder = args.flightRecorder;
    this.#log = args.log;
    this.#proofs = args.proofs;
    this.#sender = args.sender;
    this.#device = args.device;
    this.#opts = args.options;
    this.#eventsFrom = args.options.fromBlock;
    this.#challengesFrom = args.options.fromBlock;
  }

  /** Checks that the contract at `flightRecorder` records receipts of `paymentChannels` (wrong config fails at start). */
  async checkDeployment(paymentChannels: Address) {
    const pc = await this.#client
      .readContract({ address: this.flightRecorder, abi: flightRecorderAbi, functionName: "paymentChannels" })
      .catch((e: unknown) => {
        throw new Error(`no FlightRecorder at ${this.flightRecorder}: ${(e as Error).message.split("\n")[0]}`);
      });
    if (pc.toLowerCase() !== paymentChannels.toLowerCase()) {
      throw new Error(`FlightRecorder ${this.flightRecorder} records receipts of PaymentChannels ${pc}, not ${paymentChannels}`);
    }
  }

  /** On-chain anchored sequence of the device. */
  async chainAnchoredSeq(): Promise<bigint> {
    const log = await this.#client.readContract({ address: this.flightRecorder, abi: flightRecorderAbi, functionName: "deviceLog", args: [this.#device] });
    return BigInt(log.anchoredSeq);
  }

  /**
   * Records anchors that are on-chain but not in the database (a crash between mining and recording), after
   * checking each root against the local log. Throws when the chain holds an anchor the log cannot reproduce.
   */
  async sync(): Promise<bigint> {
    const onchain = await this.chainAnchoredSeq();
    if (onchain <= this.#log.anchoredSeq()) return onchain;
    const events = await getContractEventsPaged(
      this.#client,
      { address: this.flightRecorder, abi: flightRecorderAbi, eventName: "Anchored", args: { device: this.#device } },
      { fromBlock: this.#eventsFrom, maxRange: this.#opts.getLogsRange },
    );
    for (const ev of events) {
      const { fromSeq, toSeq, root, head } = ev.args as { fromSeq: bigint; toSeq: bigint; root: Hex; head: Hex };
      if (BigInt(fromSeq) !== this.#log.anchoredSeq() + 1n) continue;
      const batch = anchorBatch(this.#device, BigInt(fromSeq), this.#log.digests(BigInt(fromSeq), BigInt(toSeq)));
      if (batch.root !== root.toLowerCase()) {
        throw new Error(`on-chain anchor ${fromSeq}..${toSeq} has root ${root} but the local receipt log gives ${batch.root}`);
      }
      this.#log.insertAnchor({ fromSeq: batch.fromSeq, toSeq: batch.toSeq, root: batch.root, head, txHash: ev.transactionHash, block: ev.blockNumber, anchoredAt: Date.now() });
      this.#opts.log(`recorder: recorded anchor ${fromSeq}..${toSeq} found on-chain (${ev.transactionHash})`);
    }
    if (this.#log.anchoredSeq() !== onchain) throw new Error(`on-chain anchored sequence ${onchain} but the local anchors end at ${this.#log.anchoredSeq()}`);
    return onchain;
  }

  /** The batch of durable receipts after the last anchor, if any (at most maxAnchorReceipts). */
  async pending(): Promise<AnchorBatch | undefined> {
    const anchored = await this.sync();
    const head = this.#log.head();
    if (!head || head.sequence <= anchored) return undefined;
    const to = head.sequence - anchored > BigInt(this.#opts.maxAnchorReceipts) ? anchored + BigInt(this.#opts.maxAnchorReceipts) : head.sequence;
    return anchorBatch(this.#device, anchored + 1n, this.#log.digests(anchored + 1n, to));
  }

  /** `claimMany(claims)` + anchor in one call, for the settler. */
  claimAndAnchorData(claims: ClaimArg[], batch: AnchorBatch): Hex {
    return encodeFunctionData({ abi: flightRecorderAbi, functionName: "claimAndAnchor", args: [claims, batch.root, batch.fromSeq, batch.toSeq, batch.head] });
  }

  anchorData(batch: AnchorBatch): Hex {
    return encodeFunctionData({ abi: flightRecorderAbi, functionName: "anchor", args: [batch.root, batch.fromSeq, batch.toSeq, batch.head] });
  }

  /** Records a mined anchor (claimAndAnchor or anchor). */
  mined(batch: AnchorBatch, receipt: TransactionReceipt) {
    this.#log.insertAnchor({
      fromSeq: batch.fromSeq,
      toSeq: batch.toSeq,
      root: batch.root,
      head: batch.head,
      txHash: receipt.transactionHash,
      block: receipt.blockNumber,
      anchoredAt: Date.now(),
    });
    this.#proofs.remember(batch);
    this.#lastAnchorAt = Date.now();
    this.#opts.log(`recorder: anchored receipts ${batch.fromSeq}..${batch.toSeq} in ${receipt.transactionHash} (gas ${receipt.gasUsed})`);
  }

  /**
   * Called by the settler when it sends no claim this round: anchors on its own when the interval passed (or
   * `force`, at shutdown), and answers omission challenges.
   */
  async idle(force: boolean) {
    await this.answerChallenges();
    if (!force && Date.now() - this.#lastAnchorAt < this.#opts.anchorIntervalSeconds * 1000) return;
    const batch = await this.pending();
    if (!batch) {
      this.#lastAnchorAt = Date.now();
      return;
    }
    const sent = await this.#sender.send({ kind: "anchor", to: this.flightRecorder, data: this.anchorData(batch), claims: [] });
    this.mined(batch, sent.receipt);
  }

  /** Answers open omission challenges against receipts this device logged and anchored. */
  async answerChallenges() {
    if (!this.#opts.answerChallenges) return;
    const latest = await this.#client.getBlockNumber();
    if (latest < this.#challengesFrom) return;
    const events = await getContractEventsPaged(
      this.#client,
      { address: this.flightRecorder, abi: flightRecorderAbi, eventName: "OmissionChallenged", args: { device: this.#device } },
      { fromBlock: this.#challengesFrom, toBlock: latest, maxRange: this.#opts.getLogsRange },
    );
    this.#challengesFrom = latest + 1n;
    for (const ev of events) {
      const digest = ev.args.digest as Hex;
      const open = await this.#client.readContract({ address: this.flightRecorder, abi: flightRecorderAbi, functionName: "getChallenge", args: [this.#device, digest] });
      // 1 = Open: answered or enforced ones (seen again after a restart) need nothing.
      if (open.status !== 1) continue;
      const seq = this.#log.sequenceOf(digest);
      if (seq === undefined) {
        this.#opts.log(`recorder: omission challenge on ${digest}: no such receipt in the log; cannot answer`);
        continue;
      }
      const proof = this.#proofs.proof(seq);
      if (!proof.ok) {
        this.#opts.log(`recorder: omission challenge on receipt ${seq}: ${proof.message}`);
        continue;
      }
      try {
        const sent = await this.#sender.send({
          kind: "answerOmission",
          to: this.flightRecorder,
          data: encodeFunctionData({ abi: flightRecorderAbi, functionName: "answerOmission", args: [this.#device, digest, proof.value.proof] }),
          claims: [],
        });
        this.#opts.log(`recorder: answered omission challenge on receipt ${seq} in ${sent.hash}`);
      } catch (error) {
        // Someone else (the buyer, the owner) may have answered first: fine.
        this.#opts.log(`recorder: answering the challenge on receipt ${seq} failed: ${(error as Error).message.split("\n")[0]}`);
      }
    }
  }
}
