// Group commit with pipelining: writes queue up while the previous group transaction is being made durable by the
// writer thread, then all go in the next one (one fsync for many requests, none on the event loop). Each caller's
// promise resolves only once its transaction is durable: an answer is never sent before its write.
import { Worker } from "node:worker_threads";
import type { Hex } from "viem";
import type { WriteOp } from "./db.ts";
import { encodeOp } from "./wire-ops.ts";
import type { IssuedWire, WriterInit, WriterPhases, WriterRequest, WriterResponse } from "./writer-thread.ts";

/** `.ts` from the source tree, `.js` in the built @edgepay/worker package (a URL string is not rewritten by tsc). */
const WRITER_THREAD = new URL(`./writer-thread${import.meta.url.slice(import.meta.url.lastIndexOf("."))}`, import.meta.url);

/** What the writer thread filled in for an issueReceipt op. */
export interface IssuedReceipt {
  sequence: bigint;
  previous: Hex;
  digest: Hex;
  signature: Hex;
}

interface Pending {
  ops: WriteOp[];
  /** Number of issueReceipt ops among `ops`. */
  issues: number;
  resolve: (issued: IssuedReceipt[]) => void;
  reject: (error: Error) => void;
}

export class GroupCommitter {
  readonly #worker: Worker;
  #queue: Pending[] = [];
  #inFlight: { seq: number; batch: Pending[]; started: number; encodeMs: number; ops: number } | undefined;
  #seq = 0;
  #scheduled = false;
  #closed = false;
  #idle: (() => void)[] = [];
  /** Observes batch sizes, the transaction's time in the writer and the whole round trip (metrics). */
  onFlush?: (size: number, writerMs: number, roundTripMs: number) => void;
  /**
   * Where one durable group's time went (the benchmark's breakdown): main-thread encoding, the writer's phases, and
   * the thread hops (round trip minus the writer's own time).
   */
  onGroup?: (g: { ops: number; encodeMs: number; phases: WriterPhases; hopMs: number; writerCpuUs: number }) => void;
  /** Called once per failed group, after its callers were rejected. */
  onFailure?: (error: Error) => void;

  /** Receipts: the writer signs with this key, so it lives in the writer thread too (same process, same trust). */
  constructor(init: WriterInit) {
    this.#worker = new Worker(WRITER_THREAD, { workerData: init });
    this.#worker.on("message", (msg: WriterResponse | "closed") => {
      if (msg !== "closed") this.#settle(msg);
    });
    this.#worker.on("error", (error) => this.#fail(error));
    // Referenced only while a write is in flight: pending durability keeps the process alive, an idle writer not.
    this.#worker.unref();
  }

  /**
   * Queues `ops` for the next group transaction; resolves when they are durable, with the chain fields and
   * signatures of the receipts they issued (in order).
   */
  commit(...ops: WriteOp[]): Promise<IssuedReceipt[]> {
    if (this.#closed) return Promise.reject(new Error("the database writer is closed"));
    return new Promise((resolve, reject) => {
      let issues = 0;
      for (const op of ops) if (op.op === "issueReceipt") issues++;
      this.#queue.push({ ops, issues, resolve, reject });
      if (!this.#scheduled && !this.#inFlight) {
        this.#scheduled = true;
        // Let the rest of this turn's requests join the group.
        setImmediate(() => {
          this.#scheduled = false;
          this.#send();
        });
      }
    });
  }

  /** Queues `ops` without waiting (chain-state mirrors; ordering with later writes is still FIFO). */
  enqueue(...ops: WriteOp[]) {
    this.commit(...ops).catch(() => undefined);
  }

  #send() {
    if (this.#inFlight || this.#queue.length === 0) {
      if (!this.#inFlight && this.#queue.length === 0) for (const f of this.#idle.splice(0)) f();
      return;
    }
    const batch = this.#queue;
    this.#queue = [];
    const seq = ++this.#seq;
    const started = performance.now();
    this.#worker.ref();
    const encoded: unknown[] = [];
    const texts: string[] = [];
    for (const p of batch) for (const op of p.ops) encoded.push(encodeOp(op, texts));
    const request: WriterRequest = { seq, ops: JSON.stringify(encoded), texts };
    const encodedAt = performance.now();
    this.#inFlight = { seq, batch, started, encodeMs: encodedAt - started, ops: encoded.length };
    this.#worker.postMessage(request);
  }

  #settle(msg: WriterResponse) {
    const flight = this.#inFlight;
    if (!flight || flight.seq !== msg.seq) return;
    this.#inFlight = undefined;
    this.#worker.unref();
    if (msg.ok) {
      const roundTrip = performance.now() - flight.started;
      this.onFlush?.(flight.batch.length, msg.ms, roundTrip);
      this.onGroup?.({ ops: flight.ops, encodeMs: flight.encodeMs, phases: msg.phases, hopMs: roundTrip - flight.encodeMs - msg.ms, writerCpuUs: msg.cpuUs });
      let i = 0;
      for (const p of flight.batch) {
        const mine: IssuedWire[] = msg.issued.slice(i, i + p.issues);
        i += p.issues;
        p.resolve(mine.map(([sequence, previous, digest, signature]) => ({ sequence: BigInt(sequence), previous, digest, signature })));
      }
      this.#send();
    } else {
      // The whole group rolled back (and the writer's receipt chain did not advance): its callers hear so, and
      // the groups queued behind it go ahead on their own.
      const error = new Error(`database write failed: ${msg.error}`);
      for (const p of flight.batch) p.reject(error);
      this.onFailure?.(error);
      this.#send();
    }
  }

  #fail(error: Error) {
    this.#closed = true;
    const all = [...(this.#inFlight?.batch ?? []), ...this.#queue];
    this.#inFlight = undefined;
    this.#queue = [];
    for (const p of all) p.reject(error);
    this.onFailure?.(error);
    for (const f of this.#idle.splice(0)) f();
  }

  /** Resolves once everything queued so far is durable (or failed). */
  drain(): Promise<void> {
    if (!this.#inFlight && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#idle.push(resolve);
      if (!this.#inFlight && !this.#scheduled) this.#send();
    });
  }

  /** Drains, then closes the writer's connection and ends the thread. */
  async close() {
    await this.drain();
    if (this.#closed) return;
    this.#closed = true;
    await new Promise<void>((resolve) => {
      this.#worker.once("message", () => resolve());
      this.#worker.postMessage("close");
    });
    await this.#worker.terminate();
  }
}
