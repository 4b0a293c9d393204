// The `reputation` row of a device: created on its first signal, every change recomputes the score with the same
// function the buyer and the dashboard use (protocol/reputation-score.ts).
import type { Context } from "ponder:registry";
import { reputation } from "ponder:schema";
import { reputationScore } from "@edgepay/protocol/reputation-score";

type Db = Context<"DeviceReputation:NewFeedback">["db"];
type Row = typeof reputation.$inferSelect;
type Counts = Omit<Row, "id" | "score" | "updatedBlock">;

const EMPTY: Counts = {
  receiptsAnchored: 0n,
  spotChecksPassed: 0,
  spotChecksFailed: 0,
  failingClients: 0,
  uptimeReports: 0,
  uptimeBpsSum: 0n,
  uptimeBps: null,
  disputesWon: 0,
  disputesLost: 0,
  slashes: 0,
  slashedAmount: 0n,
};

/** Applies `change` to the device's counts (from zero if it has no row yet) and stores them with the new score. */
export async function bumpReputation(db: Db, device: `0x${string}`, block: bigint, change: (c: Counts) => Partial<Counts>) {
  const id = device.toLowerCase() as `0x${string}`;
  const row = await db.find(reputation, { id });
  const before: Counts = row ? { ...row } : { ...EMPTY };
  const next: Counts = { ...before, ...change(before) };
  next.uptimeBps = next.uptimeReports > 0 ? Number(next.uptimeBpsSum / BigInt(next.uptimeReports)) : null;
  const score = reputationScore({ ...next, uptimeBps: next.uptimeBps });
  await db
    .insert(reputation)
    .values({ id, ...next, score, updatedBlock: block })
    .onConflictDoUpdate({ ...next, score, updatedBlock: block });
}
