// Inclusion proofs of logged receipts: the anchor holding a sequence is found in SQLite, its tree rebuilt from the
// logged digests (and checked against the anchored root) and kept in a small cache, since buyers ask for proofs of
// receipts of the same recent anchors.
import type { Address, Hex } from "viem";
import { anchorBatch, receiptProof, type AnchorBatch, type ReceiptProof } from "@edgepay/protocol/audit";
import { signedReceiptOf } from "../store/db.ts";
import type { RecorderLog } from "./log.ts";

export type ProofFailure = "unknown_receipt" | "receipt_not_anchored";

export type ProofResult = { ok: true; value: ReceiptProof } | { ok: false; code: ProofFailure; message: string };

const CACHE_SIZE = 8;

export class ProofCache {
  readonly #log: RecorderLog;
  readonly #device: Address;
  /** Trees by the anchor's first sequence, least recently used first. */
  readonly #trees = new Map<string, AnchorBatch>();

  constructor(log: RecorderLog, device: Address) {
    this.#log = log;
    this.#device = device;
  }

  remember(batch: AnchorBatch) {
    const key = batch.fromSeq.toString();
    this.#trees.delete(key);
    this.#trees.set(key, batch);
    while (this.#trees.size > CACHE_SIZE) this.#trees.delete(this.#trees.keys().next().value!);
  }

  /** The proof of receipt `sequence`, or why there is none. */
  proof(sequence: bigint): ProofResult {
    const row = this.#log.receipt(sequence);
    if (!row) return { ok: false, code: "unknown_receipt", message: `this device logged no receipt ${sequence} (its log ends at ${this.#log.head()?.sequence ?? 0n})` };
    const anchor = this.#log.anchorFor(sequence);
    if (!anchor) {
      return { ok: false, code: "receipt_not_anchored", message: `receipt ${sequence} is not anchored yet (anchored up to ${this.#log.anchoredSeq()}); it will be with the next claim or anchor` };
    }
    const key = anchor.fromSeq.toString();
    let batch = this.#trees.get(key);
    if (!batch) {
      batch = anchorBatch(this.#device, anchor.fromSeq, this.#log.digests(anchor.fromSeq, anchor.toSeq));
      // The log is append-only, so this can only fail if the database was replaced under the worker.
      if (batch.root !== anchor.root.toLowerCase()) throw new Error(`anchor ${anchor.fromSeq}..${anchor.toSeq}: logged receipts give root ${batch.root}, anchored ${anchor.root}`);
    }
    this.remember(batch);
    return { ok: true, value: receiptProof(batch, signedReceiptOf(row), anchor.txHash as Hex) };
  }
}
