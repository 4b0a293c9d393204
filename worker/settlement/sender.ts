// Sends the device account's transactions one at a time with managed nonces. Each transaction is signed locally and
// recorded in SQLite (state `signed`, with its raw bytes and hash) BEFORE it is broadcast; a retry rebroadcasts the
// same bytes, a fee bump reuses the nonce, and a restart reconciles by receipt. So nothing is ever sent twice.
import {
  keccak256,
  type Address,
  type Hex,
  type PublicClient,
  type TransactionReceipt,
} from "viem";
import type { PrivateKeyAccount } from "viem/accounts";
import type { Store, TxRow } from "../store/db.ts";

export interface SendRequest {
  kind: string;
  to: Address;
  data: Hex;
  claims: TxRow["claims"];
}

export interface SentTx {
  hash: Hex;
  receipt: TransactionReceipt;
}

export interface SenderOptions {
  chainId: number;
  pollMs: number;
  stuckAfterMs: number;
  /** Gives up waiting for one transaction after this long (it stays recorded and is reconciled later). */
  timeoutMs: number;
  log: (msg: string) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class TxSender {
  readonly #client: PublicClient;
  readonly #account: PrivateKeyAccount;
  readonly #store: Store;
  readonly #opts: SenderOptions;
  #busy: Promise<unknown> = Promise.resolve();

  constructor(client: PublicClient, account: PrivateKeyAccount, store: Store, options: SenderOptions) {
    this.#client = client;
    this.#account = account;
    this.#store = store;
    this.#opts = options;
  }

  get address(): Address {
    return this.#account.address;
  }

  /** Serialises `fn` with every other send of this account. */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#busy.then(fn, fn);
    this.#busy = run.catch(() => undefined);
    return run;
  }

  /**
   * Resolves transactions left `signed`/`sent` by a previous run: mined ones are recorded, pending ones are
   * rebroadcast (same bytes) and awaited, ones whose nonce was used by another are marked dropped.
   */
  reconcile(): Promise<TxRow[]> {
    return this.#exclusive(() => this.#reconcileOpen());
  }

  async #reconcileOpen(): Promise<TxRow[]> {
    const done: TxRow[] = [];
    const byNonce = new Map<number, TxRow[]>();
    for (const t of this.#store.openTxs()) byNonce.set(t.nonce, [...(byNonce.get(t.nonce) ?? []), t]);
    for (const [, group] of byNonce) {
      const result = await this.#await(group).catch((e: unknown) => {
        this.#opts.log(`reconcile: ${(e as Error).message}`);
        return "failed" as const;
      });
      if (result) done.push(...group);
    }
    return done;
  }

  /** Signs, records, broadcasts and waits for one transaction. Throws on a revert in simulation or on-chain. */
  send(req: SendRequest): Promise<SentTx> {
    return this.#exclusive(async () => {
      // Anything from before must be settled first, or the nonce below could collide with it.
      await this.#reconcileOpen();
      if (this.#store.openTxs().length > 0) throw new Error("an earlier transaction of the device account is still pending");
      const nonce = await this.#client.getTransactionCount({ address: this.#account.address, blockTag: "pending" });
      const gas = await this.#client.estimateGas({ account: this.#account.address, to: req.to, data: req.data });
      const fees = await this.#client.estimateFeesPerGas();
      const row = await this.#signAndRecord(req, nonce, (gas * 12n) / 10n, fees.maxFeePerGas, fees.maxPriorityFeePerGas);
      const result = await this.#await([row], req);
      if (!result) throw new Error(`transaction ${row.hash} not mined after ${this.#opts.timeoutMs} ms (recorded; reconciled later)`);
      return result;
    });
  }

  async #signAndRecord(req: SendRequest, nonce: number, gas: bigint, maxFeePerGas: bigint, maxPriorityFeePerGas: bigint): Promise<TxRow> {
    const raw = await this.#account.signTransaction({
      type: "eip1559",
      chainId: this.#opts.chainId,
      nonce,
      to: req.to,
      data: req.data,
      gas,
      maxFeePerGas,
      maxPriorityFeePerGas,
    });
    const hash = keccak256(raw);
    const id = this.#store.insertTx({ kind: req.kind, nonce, hash, raw, claims: req.claims, state: "signed" });
    return { id, kind: req.kind, nonce, hash, raw, claims: req.claims, state: "signed", error: null, block: null, gasUsed: null, createdAt: Date.now(), updatedAt: Date.now() };
  }

  async #broadcast(row: TxRow) {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#client.sendRawTransaction({ serializedTransaction: row.raw });
        if (row.state === "signed") {
          this.#store.setTxState(row.id, "sent");
          row.state = "sent";
        }
        return;
      } catch (error) {
        const msg = (error as Error).message.toLowerCase();
        // Already in the pool or mined: the same bytes were sent before, which is fine.
        if (msg.includes("already known") || msg.includes("known transaction") || msg.includes("nonce too low") || msg.includes("already imported")) {
          if (row.state === "signed") {
            this.#store.setTxState(row.id, "sent");
            row.state = "sent";
          }
          return;
        }
        if (attempt >= 4) throw error;
        await sleep(250 * 2 ** attempt);
      }
    }
  }

  /**
   * Waits until one of `group` (same nonce) is mined. Rebroadcasts; after `stuckAfterMs` signs a replacement with
   * 30% higher fees (same nonce and call, recorded first). Returns undefined on timeout.
   */
  async #await(group: TxRow[], req?: SendRequest): Promise<SentTx | undefined> {
    const started = Date.now();
    let lastBump = Date.now();
    for (const t of group) await this.#broadcast(t).catch((e: unknown) => this.#opts.log(`broadcast ${t.hash}: ${(e as Error).message}`));
    for (;;) {
      for (const t of group) {
        const receipt = await this.#client.getTransactionReceipt({ hash: t.hash }).catch(() => undefined);
        if (!receipt) continue;
        const state = receipt.status === "success" ? "mined" : "reverted";
        this.#store.setTxState(t.id, state, { block: Number(receipt.blockNumber), gasUsed: receipt.gasUsed, error: state === "reverted" ? "reverted on-chain" : undefined });
        for (const other of group) if (other.id !== t.id) this.#store.setTxState(other.id, "replaced");
        if (state === "reverted") throw new Error(`transaction ${t.hash} reverted on-chain`);
        return { hash: t.hash, receipt };
      }
      const mined = await this.#client.getTransactionCount({ address: this.#account.address, blockTag: "latest" });
      if (mined > group[0]!.nonce) {
        // The nonce was used but by none of ours we know of: give one more look for a late receipt, then drop.
        await sleep(this.#opts.pollMs);
        const late = await Promise.all(group.map((t) => this.#client.getTransactionReceipt({ hash: t.hash }).catch(() => undefined)));
        if (late.some(Boolean)) continue;
        for (const t of group) this.#store.setTxState(t.id, "dropped", { error: `nonce ${t.nonce} used by another transaction` });
        throw new Error(`transaction nonce ${group[0]!.nonce} was used by another transaction`);
      }
      if (Date.now() - started > this.#opts.timeoutMs) return undefined;
      if (req && Date.now() - lastBump > this.#opts.stuckAfterMs) {
        lastBump = Date.now();
        const prev = group[group.length - 1]!;
        const fees = await this.#client.estimateFeesPerGas();
        const decoded = await this.#client.getTransaction({ hash: prev.hash }).catch(() => undefined);
        const bump = (x: bigint | undefined, floor: bigint) => {
          const b = ((x ?? floor) * 13n) / 10n + 1n;
          return b > floor ? b : floor;
        };
        const replacement = await this.#signAndRecord(
          req,
          prev.nonce,
          decoded?.gas ?? 1_000_000n,
          bump(decoded?.maxFeePerGas ?? undefined, fees.maxFeePerGas),
          bump(decoded?.maxPriorityFeePerGas ?? undefined, fees.maxPriorityFeePerGas),
        );
        this.#opts.log(`tx ${prev.hash} stuck; replaced by ${replacement.hash} (nonce ${prev.nonce})`);
        group.push(replacement);
        await this.#broadcast(replacement).catch((e: unknown) => this.#opts.log(`broadcast ${replacement.hash}: ${(e as Error).message}`));
      }
      await sleep(this.#opts.pollMs);
    }
  }
}
