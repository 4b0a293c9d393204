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
  /** SQLite `synchronous` of the write connection: FULL (default) or NORMAL (config durability "os-buffered"). */
  synchronous?: "full" | "normal";
}

export interface WriterRequest {
  seq: number;
  /** JSON array of encoded ops (wire-ops.ts). */
  ops: string;
  /** Large strings the ops refer to by index (stored answers' outputs). */
  texts: string[];
}

/** One issued receipt's chain fields and signature, in the order of the batch's issueReceipt ops. */
export type IssuedWire = [sequence: string, previous: Hex, digest: Hex, signature: Hex];

/**
 * Where the writer's time on one group went, in ms: decoding the ops, the SQL statements, receipt digests, receipt
 * signatures, and the COMMIT (WAL append, and its fsync unless durability is relaxed).
 */
export type WriterPhases = [decode: number, statements: number, hash: number, sign: number, commit: number];

/** `ms`: time the transaction took in the writer (fsync included), without the hops between threads. */
export type WriterResponse =
  | { seq: number; ok: true; ms: number; issued: IssuedWire[]; phases: WriterPhases; /** this thread's CPU so far, µs */ cpuUs: number }
  | { seq: number; ok: false; error: string };

const init = workerData as WriterInit;
const store = new Store(init.dataDir);
// Only this connection commits the request path's writes; its setting decides whether a COMMIT waits for an fsync.
if (init.synchronous === "normal") store.db.exec("PRAGMA synchronous = NORMAL");
// Read back, never assumed: an answer's durability rests on it (FULL is 2, NORMAL 1).
const synchronous = (store.db.prepare("PRAGMA synchronous").get() as { synchronous: number }).synchronous;
if (synchronous !== (init.synchronous === "normal" ? 1 : 2)) throw new Error(`the writer's SQLite synchronous is ${synchronous}, not ${init.synchronous ?? "full"}`);
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
  // Phase clock (a few performance.now() calls per group; the benchmark's breakdown reads them).
  let decode = 0;
  let hashing = 0;
  let signing = 0;
  let bodyEnd = 0;
  let bodyStart = 0;
  let parsed = 0;
  try {
    const ops = JSON.parse(msg.ops) as Parameters<typeof decodeOp>[0][];
    parsed = decode = performance.now() - started;
    store.transaction(() => {
      bodyStart = performance.now();
      for (const encoded of ops) {
        const t0 = performance.now();
        const op = decodeOp(encoded, msg.texts);
        decode += performance.now() - t0;
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
        const t1 = performance.now();
        const digestBytes = hash(fields);
        const digest = `0x${Buffer.from(digestBytes).toString("hex")}` as Hex;
        const t2 = performance.now();
        const signature = signer.sign(digestBytes);
        const t3 = performance.now();
        hashing += t2 - t1;
        signing += t3 - t2;
        store.insertReceipt({ ...fields, amount: r.amount, voucherSig: r.voucherSig, digest, signature });
        issued.push([fields.sequence.toString(), fields.previous, digest, signature]);
        next = { sequence: fields.sequence, digest };
      }
      bodyEnd = performance.now();
    });
    const ended = performance.now();
    head = next;
    const statements = bodyEnd - bodyStart - hashing - signing - (decode - parsed);
    const phases: WriterPhases = [decode, statements, hashing, signing, ended - bodyEnd];
    const cpu = process.threadCpuUsage();
    port.postMessage({ seq: msg.seq, ok: true, ms: ended - started, issued, phases, cpuUs: cpu.user + cpu.system } satisfies WriterResponse);
  } catch (error) {
    port.postMessage({ seq: msg.seq, ok: false, error: (error as Error).message } satisfies WriterResponse);
  }
});
