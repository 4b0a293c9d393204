// Bulk transactions on a local Hardhat node for the scale rehearsal: automine off, transactions from impersonated
// accounts sent as JSON-RPC batches (no local signing, explicit gas so the node does not estimate), then blocks
// mined until the pool is empty. A failed transaction stops the run with its reason: seeding must be exact.
import type { Address, Hex } from "viem";

interface RpcResponse<T> {
  id: number;
  result?: T;
  error?: { message: string; data?: unknown };
}

/** Methods that change the node's state: never retried blindly. */
const WRITES = new Set(["eth_sendTransaction", "eth_sendRawTransaction", "evm_mine", "hardhat_mine"]);

export interface BulkTx {
  from: Address;
  to: Address;
  data: Hex;
  gas: bigint;
}

export class BulkRpc {
  readonly url: string;
  #id = 0;
  /** Transactions sent so far (mined and checked). */
  sent = 0;

  constructor(url: string) {
    this.url = url;
  }

  async call<T>(method: string, params: unknown[] = []): Promise<T> {
    const [r] = await this.batch<T>([{ method, params }]);
    return r as T;
  }

  async batch<T>(calls: { method: string; params: unknown[] }[]): Promise<T[]> {
    if (calls.length === 0) return [];
    // A keep-alive connection the node closed while we were busy signing fails the next request before the node
    // read it: reads are retried; sends are not (a retry could send twice), so send() wakes the connection first.
    const readOnly = calls.every((c) => !WRITES.has(c.method));
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#batchOnce<T>(calls);
      } catch (error) {
        if (!readOnly || attempt >= 3 || !(error instanceof TypeError)) throw error;
        await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
      }
    }
  }

  async #batchOnce<T>(calls: { method: string; params: unknown[] }[]): Promise<T[]> {
    const body = calls.map((c) => ({ jsonrpc: "2.0", id: ++this.#id, method: c.method, params: c.params }));
    const res = await fetch(this.url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const out = (await res.json()) as RpcResponse<T>[] | RpcResponse<T>;
    const list = Array.isArray(out) ? out : [out];
    const byId = new Map(list.map((r) => [r.id, r]));
    return body.map((b) => {
      const r = byId.get(b.id);
      if (!r) throw new Error(`${b.method}: no answer in the batch`);
      if (r.error) throw new Error(`${b.method}: ${r.error.message}`);
      return r.result as T;
    });
  }

  /** Lets the node send from `accounts` without their keys and gives each `eth` ether for gas. */
  async impersonate(accounts: readonly Address[], eth = 10n ** 21n) {
    for (let i = 0; i < accounts.length; i += 500) {
      const chunk = accounts.slice(i, i + 500);
      await this.batch([
        ...chunk.map((a) => ({ method: "hardhat_impersonateAccount", params: [a] })),
        ...chunk.map((a) => ({ method: "hardhat_setBalance", params: [a, `0x${eth.toString(16)}`] })),
      ]);
    }
  }

  async setAutomine(on: boolean) {
    await this.call("evm_setAutomine", [on]);
  }

  /**
   * Sends `txs` (in order per sender: the node assigns nonces) in batches of `batchSize`, mines until every one is in
   * a block, and checks each receipt's status. Returns the gas used in total.
   */
  async send(txs: readonly BulkTx[], options: { batchSize?: number; onProgress?: (done: number) => void } = {}): Promise<bigint> {
    const batchSize = options.batchSize ?? 400;
    let gasUsed = 0n;
    await this.blockNumber();
    for (let i = 0; i < txs.length; i += batchSize) {
      const chunk = txs.slice(i, i + batchSize);
      const hashes = await this.batch<Hex>(
        chunk.map((t) => ({ method: "eth_sendTransaction", params: [{ from: t.from, to: t.to, data: t.data, gas: `0x${t.gas.toString(16)}` }] })),
      );
      // Mine until the last of the chunk is in (a block holds what its gas limit allows).
      for (let guard = 0; ; guard++) {
        await this.call("evm_mine");
        const last = await this.call<{ status: Hex } | null>("eth_getTransactionReceipt", [hashes[hashes.length - 1]]);
        if (last) break;
        if (guard > 10_000) throw new Error("transactions are not being mined");
      }
      const receipts = await this.batch<{ status: Hex; gasUsed: Hex } | null>(hashes.map((h) => ({ method: "eth_getTransactionReceipt", params: [h] })));
      receipts.forEach((r, k) => {
        if (!r) throw new Error(`transaction ${hashes[k]} was not mined`);
        if (r.status !== "0x1") throw new Error(`transaction ${hashes[k]} (${chunk[k]!.data.slice(0, 10)} from ${chunk[k]!.from}) reverted`);
        gasUsed += BigInt(r.gasUsed);
      });
      this.sent += chunk.length;
      options.onProgress?.(Math.min(i + batchSize, txs.length));
    }
    return gasUsed;
  }

  /** Adds `blocks` empty blocks at once (hardhat_mine), e.g. to spread events over a long chain. */
  async padBlocks(blocks: number) {
    if (blocks > 0) await this.call("hardhat_mine", [`0x${blocks.toString(16)}`]);
  }

  async blockNumber(): Promise<bigint> {
    return BigInt(await this.call<Hex>("eth_blockNumber"));
  }
}
