// The worker's durable state: one SQLite file (WAL, synchronous=FULL). Amounts are decimal TEXT because uint96
// does not fit SQLite's 64-bit integers. Every write of the request path goes through the group committer.
import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import path from "node:path";
import type { Address, Hex } from "viem";
import type { ChannelTerms } from "@edgepay/protocol/terms";
import type { SignedReceipt } from "@edgepay/protocol/receipt";

export const DB_FILE = "worker.sqlite";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS channels (
  id TEXT PRIMARY KEY,
  payer TEXT NOT NULL, signer TEXT NOT NULL, device TEXT NOT NULL, payee TEXT NOT NULL, token TEXT NOT NULL,
  model_id TEXT NOT NULL, price TEXT NOT NULL, royalty_bps INTEGER NOT NULL, salt TEXT NOT NULL,
  deposit TEXT NOT NULL, claimed TEXT NOT NULL, closes_at INTEGER NOT NULL, settled INTEGER NOT NULL,
  accepted_amount TEXT NOT NULL DEFAULT '0', accepted_sig TEXT,
  verified_amount TEXT NOT NULL DEFAULT '0', verified_sig TEXT,
  first_unclaimed_at INTEGER,
  signer_pubkey TEXT,
  blocked TEXT,
  close_signed TEXT,
  updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS receipts (
  sequence INTEGER PRIMARY KEY,
  channel_id TEXT NOT NULL,
  amount TEXT NOT NULL,
  units TEXT NOT NULL DEFAULT '1',
  voucher_sig TEXT NOT NULL,
  model_id TEXT NOT NULL,
  model_hash TEXT NOT NULL,
  input_hash TEXT NOT NULL,
  output_hash TEXT NOT NULL,
  previous TEXT NOT NULL,
  timestamp INTEGER NOT NULL,
  digest TEXT NOT NULL,
  signature TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS receipts_channel ON receipts (channel_id, sequence);
CREATE TABLE IF NOT EXISTS txs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  nonce INTEGER NOT NULL,
  hash TEXT NOT NULL UNIQUE,
  raw TEXT NOT NULL,
  claims TEXT NOT NULL,
  state TEXT NOT NULL,
  error TEXT,
  block INTEGER,
  gas_used TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS txs_state ON txs (state);
-- x402 exact payments (worker/store/exact.ts): stored before the inference runs, like an accepted voucher. Created
-- on first open by CREATE TABLE IF NOT EXISTS, so databases from before x402 exact gain it without a migration step.
CREATE TABLE IF NOT EXISTS exact_payments (
  payer TEXT NOT NULL,
  nonce TEXT NOT NULL,
  receiver TEXT NOT NULL,
  token TEXT NOT NULL,
  model_id TEXT NOT NULL,
  value TEXT NOT NULL,
  valid_after TEXT NOT NULL,
  valid_before TEXT NOT NULL,
  signature TEXT NOT NULL,
  body_hash TEXT NOT NULL,
  state TEXT NOT NULL,
  tx_hash TEXT,
  error TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (payer, nonce)
);
CREATE TABLE IF NOT EXISTS answers (
  channel_id TEXT PRIMARY KEY,
  amount TEXT NOT NULL,
  body_hash TEXT NOT NULL,
  outputs TEXT NOT NULL
);
`;

export interface ChannelRow {
  id: Hex;
  terms: ChannelTerms;
  deposit: bigint;
  claimed: bigint;
  closesAt: number;
  settled: boolean;
  acceptedAmount: bigint;
  acceptedSig: Hex | null;
  verifiedAmount: bigint;
  verifiedSig: Hex | null;
  firstUnclaimedAt: number | null;
  signerPubkey: Hex | null;
  blocked: string | null;
  closeSigned: bigint | null;
}

export interface ReceiptRow {
  sequence: bigint;
  channelId: Hex;
  amount: bigint;
  /** Units of work the answer was charged for (signed in the receipt). */
  units: bigint;
  voucherSig: Hex;
  modelId: bigint;
  modelHash: Hex;
  inputHash: Hex;
  outputHash: Hex;
  previous: Hex;
  timestamp: bigint;
  digest: Hex;
  signature: Hex;
}

/** A logged receipt as the device signed it (the row stores the cumulative amount as `amount`). */
export function signedReceiptOf(r: ReceiptRow): SignedReceipt {
  return {
    channelId: r.channelId,
    cumulativeAmount: r.amount,
    units: r.units,
    sequence: r.sequence,
    modelId: r.modelId,
    modelHash: r.modelHash,
    inputHash: r.inputHash,
    outputHash: r.outputHash,
    previous: r.previous,
    timestamp: r.timestamp,
    signature: r.signature,
  };
}

/** Transaction states: `signed` is recorded before the first broadcast, so a restart can never send a second one. */
export type TxState = "signed" | "sent" | "mined" | "reverted" | "replaced" | "dropped";

export interface TxRow {
  id: number;
  kind: string;
  nonce: number;
  hash: Hex;
  raw: Hex;
  claims: { channelId: Hex; amount: string }[];
  state: TxState;
  error: string | null;
  block: number | null;
  gasUsed: bigint | null;
  createdAt: number;
  updatedAt: number;
}

interface RawChannel {
  id: string;
  payer: string;
  signer: string;
  device: string;
  payee: string;
  token: string;
  model_id: string;
  price: string;
  royalty_bps: number;
  salt: string;
  deposit: string;
  claimed: string;
  closes_at: number;
  settled: number;
  accepted_amount: string;
  accepted_sig: string | null;
  verified_amount: string;
  verified_sig: string | null;
  first_unclaimed_at: number | null;
  signer_pubkey: string | null;
  blocked: string | null;
  close_signed: string | null;
}

interface RawTx {
  id: number;
  kind: string;
  nonce: number;
  hash: string;
  raw: string;
  claims: string;
  state: TxState;
  error: string | null;
  block: number | null;
  gas_used: string | null;
  created_at: number;
  updated_at: number;
}

function channelFromRaw(r: RawChannel): ChannelRow {
  return {
    id: r.id as Hex,
    terms: {
      payer: r.payer as Address,
      signer: r.signer as Address,
      device: r.device as Address,
      payee: r.payee as Address,
      token: r.token as Address,
      modelId: BigInt(r.model_id),
      price: BigInt(r.price),
      royaltyBps: r.royalty_bps,
      salt: BigInt(r.salt),
    },
    deposit: BigInt(r.deposit),
    claimed: BigInt(r.claimed),
    closesAt: r.closes_at,
    settled: r.settled === 1,
    acceptedAmount: BigInt(r.accepted_amount),
    acceptedSig: r.accepted_sig as Hex | null,
    verifiedAmount: BigInt(r.verified_amount),
    verifiedSig: r.verified_sig as Hex | null,
    firstUnclaimedAt: r.first_unclaimed_at,
    signerPubkey: r.signer_pubkey as Hex | null,
    blocked: r.blocked,
    closeSigned: r.close_signed === null ? null : BigInt(r.close_signed),
  };
}

function txFromRaw(r: RawTx): TxRow {
  return {
    id: r.id,
    kind: r.kind,
    nonce: r.nonce,
    hash: r.hash as Hex,
    raw: r.raw as Hex,
    claims: JSON.parse(r.claims) as TxRow["claims"],
    state: r.state,
    error: r.error,
    block: r.block,
    gasUsed: r.gas_used === null ? null : BigInt(r.gas_used),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** A `receipts` row as SQLite returns it -> ReceiptRow (shared with the flight recorder's log). */
export function receiptFromRaw(r: Record<string, string | number>): ReceiptRow {
  return {
    sequence: BigInt(r.sequence!),
    channelId: r.channel_id as Hex,
    amount: BigInt(r.amount!),
    units: BigInt(r.units ?? 1),
    voucherSig: r.voucher_sig as Hex,
    modelId: BigInt(r.model_id!),
    modelHash: r.model_hash as Hex,
    inputHash: r.input_hash as Hex,
    outputHash: r.output_hash as Hex,
    previous: r.previous as Hex,
    timestamp: BigInt(r.timestamp!),
    digest: r.digest as Hex,
    signature: r.signature as Hex,
  };
}

/**
 * A write of the request path or the chain watcher, as plain data: it crosses to the writer thread (structured clone
 * keeps bigints) and is applied there in FIFO order inside a group transaction.
 */
export type WriteOp =
  | { op: "insertReceipt"; row: ReceiptRow }
  | { op: "issueReceipt"; receipt: ReceiptToIssue }
  | { op: "recordAccepted"; id: Hex; state: Parameters<Store["recordAccepted"]>[1] }
  | { op: "recordVerified"; id: Hex; amount: bigint; sig: Hex; signerPubkey: Hex | null }
  | { op: "block"; id: Hex; reason: string }
  | { op: "recordCloseSigned"; id: Hex; amount: bigint }
  | { op: "insertChannel"; id: Hex; terms: ChannelTerms; state: { deposit: bigint; claimed: bigint; closesAt: number; settled: boolean } }
  | { op: "updateChainState"; id: Hex; state: { deposit: bigint; claimed: bigint; closesAt: number; settled: boolean } }
  | { op: "setFirstUnclaimedAt"; id: Hex; at: number | null }
  | { op: "setMeta"; key: string; value: string }
  | { op: "storeAnswer"; answer: StoredAnswer };

/** The last paid answer of a channel, kept so that a lost answer is re-sent without running the model again. */
export interface StoredAnswer {
  channelId: Hex;
  amount: bigint;
  /** sha256 of the request body the answer was for (the request MAC covers it). */
  bodyHash: Hex;
  /** JSON of the outputs as sent. */
  outputs: string;
}

/** A receipt's content before the writer gives it its place in the chain (sequence, previous) and signs it. */
export interface ReceiptToIssue {
  channelId: Hex;
  amount: bigint;
  units: bigint;
  voucherSig: Hex;
  modelId: bigint;
  modelHash: Hex;
  inputHash: Hex;
  outputHash: Hex;
  timestamp: bigint;
}

export function applyOp(store: Store, w: Exclude<WriteOp, { op: "issueReceipt" }>) {
  switch (w.op) {
    case "insertReceipt":
      return store.insertReceipt(w.row);
    case "recordAccepted":
      return store.recordAccepted(w.id, w.state);
    case "recordVerified":
      return store.recordVerified(w.id, w.amount, w.sig, w.signerPubkey);
    case "block":
      return store.block(w.id, w.reason);
    case "recordCloseSigned":
      return store.recordCloseSigned(w.id, w.amount);
    case "insertChannel":
      return store.insertChannel(w.id, w.terms, w.state);
    case "updateChainState":
      return store.updateChainState(w.id, w.state);
    case "setFirstUnclaimedAt":
      return store.setFirstUnclaimedAt(w.id, w.at);
    case "setMeta":
      return store.setMeta(w.key, w.value);
    case "storeAnswer":
      return store.storeAnswer(w.answer);
  }
}

/** Typed access to the worker database. Methods are synchronous (better-sqlite3); callers batch them. */
export class Store {
  readonly db: Database.Database;
  readonly file: string;
  readonly #stmts;

  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    this.file = path.join(dataDir, DB_FILE);
    this.db = new Database(this.file);
    this.db.pragma("journal_mode = WAL");
    // FULL: a committed transaction survives power loss, not only a process crash.
    this.db.pragma("synchronous = FULL");
    this.db.pragma("busy_timeout = 5000");
    this.db.exec(SCHEMA);
    // Databases from before metered pricing: receipts gain their units column (every old answer was one unit).
    const columns = this.db.prepare<[], { name: string }>("PRAGMA table_info(receipts)").all();
    if (!columns.some((c) => c.name === "units")) this.db.exec("ALTER TABLE receipts ADD COLUMN units TEXT NOT NULL DEFAULT '1'");
    const db = this.db;
    this.#stmts = {
      getMeta: db.prepare<[string], { value: string }>("SELECT value FROM meta WHERE key = ?"),
      setMeta: db.prepare("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"),
      channel: db.prepare<[string], RawChannel>("SELECT * FROM channels WHERE id = ?"),
      channels: db.prepare<[], RawChannel>("SELECT * FROM channels"),
      insertChannel: db.prepare(
        `INSERT INTO channels (id, payer, signer, device, payee, token, model_id, price, royalty_bps, salt, deposit, claimed,
           closes_at, settled, updated_at)
         VALUES (@id, @payer, @signer, @device, @payee, @token, @model_id, @price, @royalty_bps, @salt, @deposit, @claimed,
           @closes_at, @settled, @updated_at)
         ON CONFLICT (id) DO NOTHING`,
      ),
      updateChain: db.prepare(
        "UPDATE channels SET deposit = @deposit, claimed = @claimed, closes_at = @closes_at, settled = @settled, updated_at = @updated_at WHERE id = @id",
      ),
      accept: db.prepare(
        `UPDATE channels SET accepted_amount = @accepted_amount, accepted_sig = @accepted_sig, verified_amount = @verified_amount,
           verified_sig = @verified_sig, first_unclaimed_at = @first_unclaimed_at, signer_pubkey = @signer_pubkey, updated_at = @updated_at
         WHERE id = @id`,
      ),
      verify: db.prepare(
        "UPDATE channels SET verified_amount = @verified_amount, verified_sig = @verified_sig, signer_pubkey = COALESCE(signer_pubkey, @signer_pubkey), updated_at = @updated_at WHERE id = @id",
      ),
      block: db.prepare("UPDATE channels SET blocked = @blocked, updated_at = @updated_at WHERE id = @id"),
      closeSigned: db.prepare("UPDATE channels SET close_signed = @close_signed, updated_at = @updated_at WHERE id = @id"),
      firstUnclaimed: db.prepare("UPDATE channels SET first_unclaimed_at = @first_unclaimed_at WHERE id = @id"),
      insertReceipt: db.prepare(
        `INSERT INTO receipts (sequence, channel_id, amount, units, voucher_sig, model_id, model_hash, input_hash, output_hash, previous,
           timestamp, digest, signature)
         VALUES (@sequence, @channel_id, @amount, @units, @voucher_sig, @model_id, @model_hash, @input_hash, @output_hash, @previous,
           @timestamp, @digest, @signature)`,
      ),
      lastReceipt: db.prepare<[], { sequence: number; digest: string }>("SELECT sequence, digest FROM receipts ORDER BY sequence DESC LIMIT 1"),
      receipts: db.prepare<[], Record<string, string | number>>("SELECT * FROM receipts ORDER BY sequence"),
      receiptsOf: db.prepare<[string], Record<string, string | number>>("SELECT * FROM receipts WHERE channel_id = ? ORDER BY sequence"),
      lastReceiptOf: db.prepare<[string], Record<string, string | number>>("SELECT * FROM receipts WHERE channel_id = ? ORDER BY sequence DESC LIMIT 1"),
      insertTx: db.prepare(
        `INSERT INTO txs (kind, nonce, hash, raw, claims, state, created_at, updated_at)
         VALUES (@kind, @nonce, @hash, @raw, @claims, @state, @now, @now)`,
      ),
      setTxState: db.prepare(
        "UPDATE txs SET state = @state, error = @error, block = @block, gas_used = @gas_used, updated_at = @now WHERE id = @id",
      ),
      openTxs: db.prepare<[], RawTx>("SELECT * FROM txs WHERE state IN ('signed', 'sent') ORDER BY id"),
      txs: db.prepare<[], RawTx>("SELECT * FROM txs ORDER BY id"),
      storeAnswer: db.prepare(
        `INSERT INTO answers (channel_id, amount, body_hash, outputs) VALUES (@channel_id, @amount, @body_hash, @outputs)
         ON CONFLICT (channel_id) DO UPDATE SET amount = excluded.amount, body_hash = excluded.body_hash, outputs = excluded.outputs`,
      ),
      answerOf: db.prepare<[string], { channel_id: string; amount: string; body_hash: string; outputs: string }>("SELECT * FROM answers WHERE channel_id = ?"),
    };
  }

  close() {
    if (this.db.open) this.db.close();
  }

  /** Runs `fn` in one transaction (the group committer's unit). */
  transaction(fn: () => void) {
    this.db.transaction(fn)();
  }

  getMeta(key: string): string | undefined {
    return this.#stmts.getMeta.get(key)?.value;
  }

  setMeta(key: string, value: string) {
    this.#stmts.setMeta.run(key, value);
  }

  channel(id: Hex): ChannelRow | undefined {
    const r = this.#stmts.channel.get(id);
    return r ? channelFromRaw(r) : undefined;
  }

  channels(): ChannelRow[] {
    return this.#stmts.channels.all().map(channelFromRaw);
  }

  insertChannel(id: Hex, terms: ChannelTerms, state: { deposit: bigint; claimed: bigint; closesAt: number; settled: boolean }) {
    this.#stmts.insertChannel.run({
      id,
      payer: terms.payer,
      signer: terms.signer,
      device: terms.device,
      payee: terms.payee,
      token: terms.token,
      model_id: terms.modelId.toString(),
      price: terms.price.toString(),
      royalty_bps: terms.royaltyBps,
      salt: terms.salt.toString(),
      deposit: state.deposit.toString(),
      claimed: state.claimed.toString(),
      closes_at: state.closesAt,
      settled: state.settled ? 1 : 0,
      updated_at: Date.now(),
    });
  }

  updateChainState(id: Hex, s: { deposit: bigint; claimed: bigint; closesAt: number; settled: boolean }) {
    this.#stmts.updateChain.run({
      id,
      deposit: s.deposit.toString(),
      claimed: s.claimed.toString(),
      closes_at: s.closesAt,
      settled: s.settled ? 1 : 0,
      updated_at: Date.now(),
    });
  }

  recordAccepted(
    id: Hex,
    s: { acceptedAmount: bigint; acceptedSig: Hex; verifiedAmount: bigint; verifiedSig: Hex | null; firstUnclaimedAt: number | null; signerPubkey: Hex | null },
  ) {
    this.#stmts.accept.run({
      id,
      accepted_amount: s.acceptedAmount.toString(),
      accepted_sig: s.acceptedSig,
      verified_amount: s.verifiedAmount.toString(),
      verified_sig: s.verifiedSig,
      first_unclaimed_at: s.firstUnclaimedAt,
      signer_pubkey: s.signerPubkey,
      updated_at: Date.now(),
    });
  }

  recordVerified(id: Hex, amount: bigint, sig: Hex, signerPubkey: Hex | null) {
    this.#stmts.verify.run({ id, verified_amount: amount.toString(), verified_sig: sig, signer_pubkey: signerPubkey, updated_at: Date.now() });
  }

  setFirstUnclaimedAt(id: Hex, at: number | null) {
    this.#stmts.firstUnclaimed.run({ id, first_unclaimed_at: at });
  }

  block(id: Hex, reason: string) {
    this.#stmts.block.run({ id, blocked: reason, updated_at: Date.now() });
  }

  recordCloseSigned(id: Hex, amount: bigint) {
    this.#stmts.closeSigned.run({ id, close_signed: amount.toString(), updated_at: Date.now() });
  }

  insertReceipt(r: ReceiptRow) {
    this.#stmts.insertReceipt.run({
      sequence: r.sequence,
      channel_id: r.channelId,
      amount: r.amount.toString(),
      units: r.units.toString(),
      voucher_sig: r.voucherSig,
      model_id: r.modelId.toString(),
      model_hash: r.modelHash,
      input_hash: r.inputHash,
      output_hash: r.outputHash,
      previous: r.previous,
      timestamp: r.timestamp,
      digest: r.digest,
      signature: r.signature,
    });
  }

  lastReceipt(): { sequence: bigint; digest: Hex } | undefined {
    const r = this.#stmts.lastReceipt.get();
    return r ? { sequence: BigInt(r.sequence), digest: r.digest as Hex } : undefined;
  }

  /** The newest receipt issued on a channel (the answer to its last accepted voucher). */
  lastReceiptOf(channelId: Hex): ReceiptRow | undefined {
    const r = this.#stmts.lastReceiptOf.get(channelId);
    return r ? receiptFromRaw(r) : undefined;
  }

  receipts(channelId?: Hex): ReceiptRow[] {
    const rows = channelId ? this.#stmts.receiptsOf.all(channelId) : this.#stmts.receipts.all();
    return rows.map(receiptFromRaw);
  }

  insertTx(t: { kind: string; nonce: number; hash: Hex; raw: Hex; claims: TxRow["claims"]; state: TxState }): number {
    const info = this.#stmts.insertTx.run({ ...t, claims: JSON.stringify(t.claims), now: Date.now() });
    return Number(info.lastInsertRowid);
  }

  setTxState(id: number, state: TxState, extra: { error?: string; block?: number; gasUsed?: bigint } = {}) {
    this.#stmts.setTxState.run({
      id,
      state,
      error: extra.error ?? null,
      block: extra.block ?? null,
      gas_used: extra.gasUsed?.toString() ?? null,
      now: Date.now(),
    });
  }

  openTxs(): TxRow[] {
    return this.#stmts.openTxs.all().map(txFromRaw);
  }

  storeAnswer(a: StoredAnswer) {
    this.#stmts.storeAnswer.run({ channel_id: a.channelId, amount: a.amount.toString(), body_hash: a.bodyHash, outputs: a.outputs });
  }

  /** The stored last answer of a channel (see StoredAnswer). */
  answerOf(channelId: Hex): StoredAnswer | undefined {
    const r = this.#stmts.answerOf.get(channelId);
    return r ? { channelId: r.channel_id as Hex, amount: BigInt(r.amount), bodyHash: r.body_hash as Hex, outputs: r.outputs } : undefined;
  }

  txs(): TxRow[] {
    return this.#stmts.txs.all().map(txFromRaw);
  }
}
