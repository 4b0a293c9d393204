// The dispute_votes table: one row per committee seat of this device, with the vote and its salt written BEFORE
// the commitment is sent, so a restart between commit and reveal can still reveal (a member that cannot reveal
// loses part of its bond). Created on first open, like exact_payments.
import type { Hex } from "viem";
import type { Store } from "../store/db.ts";

/**
 * seated: drawn, not decided yet; committing: vote and salt stored, commitVote sent or about to be; committed: mined;
 * revealed: mined; missed: a window passed without this member's commitment or reveal; unreadable: the evidence
 * could not be read or run (no vote); closed: the dispute was resolved before this member acted.
 */
export type VoteState = "seated" | "committing" | "committed" | "revealed" | "missed" | "unreadable" | "closed";

export interface VoteRow {
  disputeId: Hex;
  modelId: bigint;
  state: VoteState;
  deviceRight: boolean | null;
  salt: Hex | null;
  note: string | null;
}

interface RawVote {
  dispute_id: string;
  model_id: string;
  state: string;
  device_right: number | null;
  salt: string | null;
  note: string | null;
}

const SCHEMA = `CREATE TABLE IF NOT EXISTS dispute_votes (
  dispute_id TEXT PRIMARY KEY,
  model_id TEXT NOT NULL,
  state TEXT NOT NULL,
  device_right INTEGER,
  salt TEXT,
  note TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
)`;

const OPEN_STATES: VoteState[] = ["seated", "committing", "committed"];

export class DisputeVotes {
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
    store.db.exec(SCHEMA);
  }

  /** Records a seat; a seat seen again (a rescan) is left as it is. */
  seat(disputeId: Hex, modelId: bigint) {
    this.#store.db
      .prepare("INSERT INTO dispute_votes (dispute_id, model_id, state, created_at, updated_at) VALUES (?, ?, 'seated', ?, ?) ON CONFLICT (dispute_id) DO NOTHING")
      .run(disputeId, modelId.toString(), Date.now(), Date.now());
  }

  /** Stores the decided vote and salt (synchronously, before the commitment leaves). */
  decide(disputeId: Hex, deviceRight: boolean, salt: Hex, note: string) {
    this.#store.db
      .prepare("UPDATE dispute_votes SET state = 'committing', device_right = ?, salt = ?, note = ?, updated_at = ? WHERE dispute_id = ?")
      .run(deviceRight ? 1 : 0, salt, note, Date.now(), disputeId);
  }

  setState(disputeId: Hex, state: VoteState, note?: string) {
    this.#store.db.prepare("UPDATE dispute_votes SET state = ?, note = COALESCE(?, note), updated_at = ? WHERE dispute_id = ?").run(state, note ?? null, Date.now(), disputeId);
  }

  get(disputeId: Hex): VoteRow | undefined {
    const r = this.#store.db.prepare<[string], RawVote>("SELECT * FROM dispute_votes WHERE dispute_id = ?").get(disputeId);
    return r && rowOf(r);
  }

  /** Seats this member still has to act on. */
  open(): VoteRow[] {
    return this.#store.db
      .prepare<[], RawVote>(`SELECT * FROM dispute_votes WHERE state IN (${OPEN_STATES.map((s) => `'${s}'`).join(", ")}) ORDER BY created_at`)
      .all()
      .map(rowOf);
  }

  all(): VoteRow[] {
    return this.#store.db.prepare<[], RawVote>("SELECT * FROM dispute_votes ORDER BY created_at").all().map(rowOf);
  }
}

function rowOf(r: RawVote): VoteRow {
  return {
    disputeId: r.dispute_id as Hex,
    modelId: BigInt(r.model_id),
    state: r.state as VoteState,
    deviceRight: r.device_right === null ? null : r.device_right === 1,
    salt: r.salt as Hex | null,
    note: r.note,
  };
}
