// The writer thread: owns the database's write connection, so the fsync of each group transaction
// (synchronous=FULL) happens off the event loop. It also issues receipts: it gives each one the next sequence
// number and the digest of the one before, hashes and signs it with the device key, and stores it in the same
// transaction as its voucher. The chain head advances only when that transaction committed, so a failed group
// leaves no gap and no fork. Batches arrive in order and are answered in order.
import { parentPort, workerData } from "node:worker_threads";
import type { Address, Hex } from "viem";
import { digestSigner } from "../crypto.ts";
import { createReceiptHasher, ZERO_HASH } from "../receipts.ts";
import { applyOp, Store } from "./db.ts";
import { decodeOp } from "./wire-ops.ts";

export interface WriterInit {
  dataDir: string;
  /** Receipt signing (absent: the thread refuses issueReceipt ops). */
  receipts?: { privateKey: Hex; chainId: number; paymentChannels: Address };
}

export interface WriterRequest {
  seq: number;
  /** JSON array of encoded ops (wire-ops.ts). */
  ops: string;
}

/** One issued receipt's chain fields and signature, in the order of the batch's issueReceipt ops. */
export type IssuedWire = [sequence: string, previous: Hex, digest: Hex, signature: Hex];

/** `ms`: time the transaction took in the writer (fsync included), without the hops between threads. */
export type WriterResponse = { seq: number; ok: true; ms: number; issued: IssuedWire[] } | { seq: number; ok: false; error: string };

const init = workerData as WriterInit;
const store = new Store(init.dataDir);
const port = parentPort!;
const signer = init.receipts ? digestSigner(init.receipts.privateKey) : undefined;
const hash = init.receipts ? createReceiptHasher(init.receipts.chainId, init.receipts.paymentChannels) : undefined;
let head = store.lastReceipt() ?? { sequence: 0n, digest: ZERO_HASH };

port.on("message", (msg: WriterRequest | "close") => {
  if (msg === "close") {
    store.close();
    port.postMessage("closed");
    return;
  }
  const started = performance.now();
  const issued: IssuedWire[] = [];
  let next = head;
  try {
    const ops = JSON.parse(msg.ops) as Parameters<typeof decodeOp>[0][];
    store.transaction(() => {
      for (const encoded of ops) {
        const op = decodeOp(encoded);
        if (op.op !== "issueReceipt") {
          applyOp(store, op);
          continue;
        }
        if (!signer || !hash) throw new Error("this writer has no receipt key");
        const r = op.receipt;
        const fields = {
          channelId: r.channelId,
          cumulativeAmount: r.amount,
          units: r.units,
          sequence: next.sequence + 1n,
          modelId: r.modelId,
          modelHash: r.modelHash,
          inputHash: r.inputHash,
          outputHash: r.outputHash,
          previous: next.digest,
          timestamp: r.timestamp,
        };
        const digestBytes = hash(fields);
        const digest = `0x${Buffer.from(digestBytes).toString("hex")}` as Hex;
        const signature = signer.sign(digestBytes);
        store.insertReceipt({ ...fields, amount: r.amount, voucherSig: r.voucherSig, digest, signature });
        issued.push([fields.sequence.toString(), fields.previous, digest, signature]);
        next = { sequence: fields.sequence, digest };
      }
    });
    head = next;
    port.postMessage({ seq: msg.seq, ok: true, ms: performance.now() - started, issued } satisfies WriterResponse);
  } catch (error) {
    port.postMessage({ seq: msg.seq, ok: false, error: (error as Error).message } satisfies WriterResponse);
  }
});
