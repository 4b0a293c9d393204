// What an audit export claims to cover, and the holes in it. A receipt that was deleted from an export is
// invisible to per-receipt checks; only the export's coverage (which device, which filter) together with the
// chain's anchored sequence tells an auditor that something is absent. Browser-compatible.
import type { Address, Hex } from "viem";
import { z } from "zod";

const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, "expected a 0x-prefixed 20-byte address").transform((s) => s as Address);
const bytes32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/, "expected 32 bytes of hex").transform((s) => s as Hex);
const seconds = z.number().int().nonnegative();

/**
 * The last line of an export made by `npm run audit -- export`: the device, the filter the export was made with and
 * how many receipt lines precede it. Without a filter the export claims every receipt of the device; a truncated
 * file has no such line (or a count that no longer matches).
 */
export const coverageLineWire = z
  .object({
    coverage: z
      .object({
        device: address,
        chainId: z.number().int().positive(),
        paymentChannels: address,
        channel: bytes32.optional(),
        from: seconds.optional(),
        to: seconds.optional(),
        receipts: z.number().int().nonnegative(),
      })
      .strict(),
  })
  .strict();
export type CoverageLineWire = z.input<typeof coverageLineWire>;
export type ExportCoverage = z.output<typeof coverageLineWire>["coverage"];

/** Is this line a coverage line (and not a receipt line)? */
export function isCoverageLine(json: unknown): boolean {
  return typeof json === "object" && json !== null && "coverage" in json;
}

/** Whether the export claims all of a device's receipts, a filtered part of them, or says nothing (assumed all). */
export type CoverageKind = "complete" | "filtered" | "unstated";

export function coverageKind(c: ExportCoverage | undefined): CoverageKind {
  if (!c) return "unstated";
  return c.channel !== undefined || c.from !== undefined || c.to !== undefined ? "filtered" : "complete";
}

/** A run of consecutive anchored sequences absent from an export. */
export interface SequenceGap {
  fromSeq: bigint;
  toSeq: bigint;
}

/**
 * The runs of `1..anchoredSeq` not in `present` (any order, duplicates allowed). Linear in the number of present
 * sequences, never in `anchoredSeq`: a device may have anchored millions.
 */
export function anchoredGaps(present: Iterable<bigint>, anchoredSeq: bigint): SequenceGap[] {
  const seqs = [...new Set(present)].filter((s) => s >= 1n && s <= anchoredSeq).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const gaps: SequenceGap[] = [];
  let next = 1n;
  for (const s of seqs) {
    if (s > next) gaps.push({ fromSeq: next, toSeq: s - 1n });
    next = s + 1n;
  }
  if (next <= anchoredSeq) gaps.push({ fromSeq: next, toSeq: anchoredSeq });
  return gaps;
}

/**
 * Channel-filtered exports: the channel's receipts in sequence order must add up, each adding its units x price
 * to the one before (the first one starting at 0 when the export has no time filter). An increment that does not
 * add up across a hole means a receipt of this channel is absent (or the device overcharged: either way the export
 * does not account for the money). Returns the sequences after which something is unaccounted for.
 */
export function channelContinuityBreaks(
  receipts: readonly { sequence: bigint; cumulativeAmount: bigint; units: bigint }[],
  price: bigint,
  startsAtZero: boolean,
): { afterSeq: bigint | undefined; beforeSeq: bigint; unaccounted: bigint }[] {
  const sorted = [...receipts].sort((a, b) => (a.sequence < b.sequence ? -1 : a.sequence > b.sequence ? 1 : 0));
  const breaks: { afterSeq: bigint | undefined; beforeSeq: bigint; unaccounted: bigint }[] = [];
  let prev: { sequence: bigint; cumulativeAmount: bigint } | undefined = startsAtZero ? undefined : sorted[0];
  for (const r of startsAtZero ? sorted : sorted.slice(1)) {
    const before = prev?.cumulativeAmount ?? 0n;
    const unaccounted = r.cumulativeAmount - before - r.units * price;
    // Consecutive sequences are judged by the per-receipt metering check (a contradiction, not a hole).
    const adjacent = prev !== undefined && r.sequence === prev.sequence + 1n;
    if (unaccounted !== 0n && !adjacent) breaks.push({ afterSeq: prev?.sequence, beforeSeq: r.sequence, unaccounted });
    prev = r;
  }
  return breaks;
}
