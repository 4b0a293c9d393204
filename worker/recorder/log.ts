// The flight recorder's durable side: the receipts table made append-only by triggers (SQLite itself refuses any
// UPDATE or DELETE, whichever connection or tool tries), and the anchors the device posted on-chain. Receipts hold
// hashes only (input, output, model, previous receipt), never the tensors.
import type Database from "better-sqlite3";
import type { Hex } from "viem";
import { receiptFromRaw, type ReceiptRow, type Store } from "../store/db.ts";

const SCHEMA = `
CREATE TRIGGER IF NOT EXISTS receipts_no_update BEFORE UPDATE ON receipts
BEGIN SELECT RAISE(ABORT, 'receipts are append-only: UPDATE refused'); END;
CREATE TRIGGER IF NOT EXISTS receipts_no_delete BEFORE DELETE ON receipts
BEGIN SELECT RAISE(ABORT, 'receipts are append-only: DELETE refused'); END;
CREATE INDEX IF NOT EXISTS receipts_digest ON receipts (digest);
CREATE INDEX IF NOT EXISTS receipts_time ON receipts (timestamp, sequence);
CREATE TABLE IF NOT EXISTS anchors (
  from_seq INTEGER PRIMARY KEY,
  to_seq INTEGER NOT NULL,
  root TEXT NOT NULL,
  head TEXT NOT NULL,
  tx_hash TEXT NOT NULL,
  block INTEGER,
  anchored_at INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS anchors_no_update BEFORE UPDATE ON anchors
BEGIN SELECT RAISE(ABORT, 'anchors are append-only: UPDATE refused'); END;
CREATE TRIGGER IF NOT EXISTS anchors_no_delete BEFORE DELETE ON anchors
BEGIN SELECT RAISE(ABORT, 'anchors are append-only: DELETE refused'); END;
`;

export interface AnchorRow {
  fromSeq: bigint;
  toSeq: bigint;
  root: Hex;
  head: Hex;
  txHash: Hex;
  block: bigint | null;
  /** Unix ms when the worker recorded it. */
  anchoredAt: number;
}

interface RawAnchor {
  from_seq: number;
  to_seq: number;
  root: string;
  head: string;
  tx_hash: string;
  block: number | null;
  anchored_at: number;
}

const anchorFromRaw = (r: RawAnchor): AnchorRow => ({
  fromSeq: BigInt(r.from_seq),
  toSeq: BigInt(r.to_seq),
  root: r.root as Hex,
  head: r.head as Hex,
  txHash: r.tx_hash as Hex,
  block: r.block === null ? null : BigInt(r.block),
  anchoredAt: r.anchored_at,
});

export interface ReceiptQuery {
  channelId?: Hex;
  /** Receipt timestamps (unix seconds), inclusive. */
  fromTime?: bigint;
  toTime?: bigint;
  /** Only sequences above this (paging). */
  afterSeq?: bigint;
  limit: number;
}

/** Reads of the receipt log and the anchors table (on the main connection; receipts are written by the writer thread). */
export class RecorderLog {
  readonly #db: Database.Database;
  readonly #store: Store;
  readonly #stmts;

  constructor(store: Store) {
    this.#store = store;
    this.#db = store.db;
    this.#db.exec(SCHEMA);
    const db = this.#db;
    this.#stmts = {
      lastAnchor: db.prepare<[], RawAnchor>("SELECT * FROM anchors ORDER BY from_seq DESC LIMIT 1"),
      anchorFor: db.prepare<[number], RawAnchor>("SELECT * FROM anchors WHERE from_seq <= ? ORDER BY from_seq DESC LIMIT 1"),
      anchors: db.prepare<[], RawAnchor>("SELECT * FROM anchors ORDER BY from_seq"),
      insertAnchor: db.prepare(
        "INSERT INTO anchors (from_seq, to_seq, root, head, tx_hash, block, anchored_at) VALUES (@from_seq, @to_seq, @root, @head, @tx_hash, @block, @anchored_at)",
      ),
      digests: db.prepare<[number, number], { sequence: number; digest: string }>(
        "SELECT sequence, digest FROM receipts WHERE sequence BETWEEN ? AND ? ORDER BY sequence",
      ),
      receipt: db.prepare<[number], Record<string, string | number>>("SELECT * FROM receipts WHERE sequence = ?"),
      byDigest: db.prepare<[string], { sequence: number }>("SELECT sequence FROM receipts WHERE digest = ?"),
      query: db.prepare<Record<string, string | number | null>, Record<string, string | number>>(
        `SELECT * FROM receipts
         WHERE (@channel IS NULL OR lower(channel_id) = @channel)
           AND (@from_time IS NULL OR timestamp >= @from_time)
           AND (@to_time IS NULL OR timestamp <= @to_time)
           AND sequence > @after
         ORDER BY sequence LIMIT @limit`,
      ),
    };
  }

  /** Highest sequence anchored on-chain as far as this database knows (0 before the first anchor). */
  anchoredSeq(): bigint {
    const r = this.#stmts.lastAnchor.get();
    return r ? BigInt(r.to_seq) : 0n;
  }

  lastAnchor(): AnchorRow | undefined {
    const r = this.#stmts.lastAnchor.get();
    return r ? anchorFromRaw(r) : undefined;
  }

  /** The anchor whose range holds `sequence`, if any. */
  anchorFor(sequence: bigint): AnchorRow | undefined {
    const r = this.#stmts.anchorFor.get(Number(sequence));
    if (!r || BigInt(r.to_seq) < sequence) return undefined;
    return anchorFromRaw(r);
  }

  anchors(): AnchorRow[] {
    return this.#stmts.anchors.all().map(anchorFromRaw);
  }

  insertAnchor(a: AnchorRow) {
    this.#stmts.insertAnchor.run({
      from_seq: Number(a.fromSeq),
      to_seq: Number(a.toSeq),
      root: a.root,
      head: a.head,
      tx_hash: a.txHash,
      block: a.block === null ? null : Number(a.block),
      anchored_at: a.anchoredAt,
    });
  }

  /** Digests of receipts `from..to` in order; throws if the log has a gap there (it never should). */
  digests(from: bigint, to: bigint): Hex[] {
    const rows = this.#stmts.digests.all(Number(from), Number(to));
    if (rows.length !== Number(to - from + 1n)) {
      throw new Error(`receipt log holds ${rows.length} of receipts ${from}..${to}: the log is incomplete`);
    }
    return rows.map((r) => r.digest as Hex);
  }

  /** Durable head of the log. */
  head(): { sequence: bigint; digest: Hex } | undefined {
    return this.#store.lastReceipt();
  }

  receipt(sequence: bigint): ReceiptRow | undefined {
    const r = this.#stmts.receipt.get(Number(sequence));
    return r ? receiptFromRaw(r) : undefined;
  }

  sequenceOf(digest: Hex): bigint | undefined {
    const r = this.#stmts.byDigest.get(digest.toLowerCase());
    return r ? BigInt(r.sequence) : undefined;
  }

  query(q: ReceiptQuery): ReceiptRow[] {
    return this.#stmts.query
      .all({
        channel: q.channelId?.toLowerCase() ?? null,
        from_time: q.fromTime === undefined ? null : Number(q.fromTime),
        to_time: q.toTime === undefined ? null : Number(q.toTime),
        after: Number(q.afterSeq ?? 0n),
        limit: q.limit,
      })
      .map(receiptFromRaw);
  }
}
