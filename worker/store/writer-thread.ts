// The writer thread: owns the database's write connection, so the fsync of each group transaction
// (synchronous=FULL) happens off the event loop. Batches arrive in order and are answered in order.
import { parentPort, workerData } from "node:worker_threads";
import { applyOp, Store } from "./db.ts";
import { decodeOp } from "./wire-ops.ts";

export interface WriterRequest {
  seq: number;
  /** JSON array of encoded ops (wire-ops.ts). */
  ops: string;
}

/** `ms`: time the transaction took in the writer (fsync included), without the hops between threads. */
export type WriterResponse = { seq: number; ok: true; ms: number } | { seq: number; ok: false; error: string };

const store = new Store((workerData as { dataDir: string }).dataDir);
const port = parentPort!;

port.on("message", (msg: WriterRequest | "close") => {
  if (msg === "close") {
    store.close();
    port.postMessage("closed");
    return;
  }
  const started = performance.now();
  try {
    const ops = JSON.parse(msg.ops) as Parameters<typeof decodeOp>[0][];
    store.transaction(() => {
      for (const op of ops) applyOp(store, decodeOp(op));
    });
    port.postMessage({ seq: msg.seq, ok: true, ms: performance.now() - started } satisfies WriterResponse);
  } catch (error) {
    port.postMessage({ seq: msg.seq, ok: false, error: (error as Error).message } satisfies WriterResponse);
  }
});
