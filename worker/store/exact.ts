// The exact_payments table (schema in db.ts): one row per x402 `exact` authorization this worker accepted, written
// on the request thread (like the tx log) before the model runs, so a crash or a retry never settles it twice and
// an auditor can match each receipt to its on-chain transfer.
import type { Statement } from "better-sqlite3";
import type { Address, Hex } from "viem";
import type { Store } from "./db.ts";

/** `accepted`: stored, model running or settlement pending; `settled`: mined; `failed`: settlement reverted. */
export type ExactState = "accepted" | "settled" | "failed";

export interface ExactPaymentRow {
  payer: Address;
  nonce: Hex;
  receiver: Address;
  token: Address;
  modelId: bigint;
  value: bigint;
  validAfter: bigint;
  validBefore: bigint;
  signature: Hex;
  bodyHash: Hex;
  state: ExactState;
  txHash: Hex | null;
  error: string | null;
}

interface RawExact {
  payer: string;
  nonce: string;
  receiver: string;
  token: string;
  model_id: string;
  value: string;
  valid_after: string;
  valid_before: string;
  signature: string;
  body_hash: string;
  state: string;
  tx_hash: string | null;
  error: string | null;
}

export class ExactPayments {
  readonly #get: Statement<[string, string], RawExact>;
  readonly #insert: Statement;
  readonly #retry: Statement;
  readonly #setState: Statement;

  constructor(store: Store) {
    const db = store.db;
    this.#get = db.prepare<[string, string], RawExact>("SELECT * FROM exact_payments WHERE payer = ? AND nonce = ?");
    this.#insert = db.prepare(
      `INSERT INTO exact_payments (payer, nonce, receiver, token, model_id, value, valid_after, valid_before, signature, body_hash, state,
         created_at, updated_at)
       VALUES (@payer, @nonce, @receiver, @token, @model_id, @value, @valid_after, @valid_before, @signature, @body_hash, 'accepted', @now, @now)`,
    );
    // A failed settlement, or one a crash interrupted (its answer was never sent), may be tried again by a retry of the
    // identical request: the caller checked the nonce is still unused on-chain.
    this.#retry = db.prepare("UPDATE exact_payments SET state = 'accepted', error = NULL, updated_at = @now WHERE payer = @payer AND nonce = @nonce AND state IN ('failed', 'accepted')");
    this.#setState = db.prepare(
      "UPDATE exact_payments SET state = @state, tx_hash = @tx_hash, error = @error, updated_at = @now WHERE payer = @payer AND nonce = @nonce",
    );
  }

  get(payer: Address, nonce: Hex): ExactPaymentRow | undefined {
    const r = this.#get.get(payer.toLowerCase(), nonce.toLowerCase());
    return r ? fromRaw(r) : undefined;
  }

  /** Stores a new authorization (state `accepted`), or re-arms a failed one; throws if it exists in another state. */
  accept(row: Omit<ExactPaymentRow, "state" | "txHash" | "error">) {
    const key = { payer: row.payer.toLowerCase(), nonce: row.nonce.toLowerCase(), now: Date.now() };
    if (this.#retry.run(key).changes === 1) return;
    this.#insert.run({
      ...key,
      receiver: row.receiver.toLowerCase(),
      token: row.token.toLowerCase(),
      model_id: row.modelId.toString(),
      value: row.value.toString(),
      valid_after: row.validAfter.toString(),
      valid_before: row.validBefore.toString(),
      signature: row.signature,
      body_hash: row.bodyHash.toLowerCase(),
    });
  }

  settled(payer: Address, nonce: Hex, txHash: Hex) {
    this.#setState.run({ payer: payer.toLowerCase(), nonce: nonce.toLowerCase(), state: "settled", tx_hash: txHash, error: null, now: Date.now() });
  }

  failed(payer: Address, nonce: Hex, error: string) {
    this.#setState.run({ payer: payer.toLowerCase(), nonce: nonce.toLowerCase(), state: "failed", tx_hash: null, error: error.slice(0, 500), now: Date.now() });
  }
}

function fromRaw(r: RawExact): ExactPaymentRow {
  return {
    payer: r.payer as Address,
    nonce: r.nonce as Hex,
    receiver: r.receiver as Address,
    token: r.token as Address,
    modelId: BigInt(r.model_id),
    value: BigInt(r.value),
    validAfter: BigInt(r.valid_after),
    validBefore: BigInt(r.valid_before),
    signature: r.signature as Hex,
    bodyHash: r.body_hash as Hex,
    state: r.state as ExactState,
    txHash: r.tx_hash as Hex | null,
    error: r.error,
  };
}
