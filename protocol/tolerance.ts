// Output comparison under a model's declared tolerance (ModelRegistry.toleranceOf): how a verifier decides whether a
// device's outputs are the outputs of the published model, or wrong. Pure and synchronous, shared by the buyer
// client's spot checks and, later, dispute committees.
//
// Semantics, per element of each named output tensor (reference = the verifier's, candidate = the device's):
// - exact: equal values (float -0 equals +0, as in hashTensors; integers compared as integers).
// - absolute(b): |ref - cand| <= b x 1e-9.
// - relative(b): |ref - cand| <= b x 1e-9 x max(|ref|, |cand|, M / 1024), M the largest finite magnitude in either
//   tensor. The floor M / 1024 keeps elements near zero (where a pure relative test demands bit equality) compared at
//   a scale tied to the tensor's own, so CPU vs WASM rounding on a near-zero element is not a false alarm, while a
//   tensor that is small everywhere is still compared at its own scale. A tensor whose reference is all zeros is
//   compared exactly: use an absolute bound for such models.
// - NaN equals NaN at the same index and nothing else (nan_mismatch); an infinity equals the same infinity only.
import { z } from "zod";
import type { Tensor } from "./tensors.ts";

export const TOLERANCE_KINDS = ["exact", "absolute", "relative"] as const;
export type ToleranceKind = (typeof TOLERANCE_KINDS)[number];

/** Units of a bound: ModelRegistry.TOLERANCE_SCALE (a bound of 100_000 is 1e-4). */
export const TOLERANCE_SCALE = 1_000_000_000n;
const MAX_UINT64 = (1n << 64n) - 1n;

/** A model's tolerance; `bound` in units of 1e-9, 0 exactly when `kind` is exact. */
export interface Tolerance {
  kind: ToleranceKind;
  bound: bigint;
}

export const EXACT: Tolerance = { kind: "exact", bound: 0n };

/** A tolerance on the wire (bound as a decimal string). */
export const toleranceWire = z
  .object({ kind: z.enum(TOLERANCE_KINDS), bound: z.string().regex(/^[0-9]{1,20}$/, "expected a decimal integer string") })
  .transform((t) => ({ kind: t.kind, bound: BigInt(t.bound) }))
  .refine((t) => t.bound <= MAX_UINT64, "bound exceeds uint64")
  .refine((t) => (t.kind === "exact") === (t.bound === 0n), "exact has bound 0, absolute and relative a bound above 0");

/** ModelRegistry.toleranceOf's (kind, bound) as a Tolerance; throws on a kind the contract cannot hold. */
export function toleranceFromChain(value: { kind: number; bound: bigint }): Tolerance {
  const kind = TOLERANCE_KINDS[value.kind];
  if (kind === undefined) throw new Error(`unknown tolerance kind ${value.kind}`);
  return { kind, bound: value.bound };
}

/** "relative 1e-4", "absolute 1e-9", "exact". */
export function describeTolerance(t: Tolerance): string {
  return t.kind === "exact" ? "exact" : `${t.kind} ${boundValue(t).toExponential()}`;
}

export const COMPARISON_REASONS = ["output_missing", "output_unexpected", "dtype_mismatch", "shape_mismatch", "nan_mismatch", "value_out_of_tolerance"] as const;
export type ComparisonReason = (typeof COMPARISON_REASONS)[number];

/** Where two output sets first disagree (worst element for value_out_of_tolerance). */
export interface Mismatch {
  reason: ComparisonReason;
  /** The output tensor's name. */
  output: string;
  /** Flat element index (value and NaN mismatches). */
  index?: number;
  /** Reference and candidate element (as strings: int64 stays exact), or the dtypes / dims that differ. */
  expected?: string;
  actual?: string;
  /** |expected - actual| and what the tolerance allowed there (value_out_of_tolerance). */
  difference?: number;
  allowed?: number;
}

export type Comparison = { valid: true; maxDifference: number } | ({ valid: false } & Mismatch);

/**
 * Compares `candidate` (the device's outputs) with `reference` (the verifier's) under `tolerance`. Every output of
 * the reference must be in the candidate and vice versa, with the same dtype and dims; values are compared per the
 * rules above. A value mismatch reports the element with the largest difference among those out of tolerance.
 */
export function compareOutputs(reference: Record<string, Tensor>, candidate: Record<string, Tensor>, tolerance: Tolerance): Comparison {
  const names = Object.keys(reference).sort();
  for (const name of names) if (!(name in candidate)) return { valid: false, reason: "output_missing", output: name };
  for (const name of Object.keys(candidate).sort()) if (!(name in reference)) return { valid: false, reason: "output_unexpected", output: name };
  let maxDifference = 0;
  for (const name of names) {
    const ref = reference[name]!;
    const cand = candidate[name]!;
    if (ref.type !== cand.type) return { valid: false, reason: "dtype_mismatch", output: name, expected: ref.type, actual: cand.type };
    if (ref.dims.length !== cand.dims.length || ref.dims.some((d, i) => d !== cand.dims[i]) || ref.data.length !== cand.data.length) {
      return { valid: false, reason: "shape_mismatch", output: name, expected: `[${ref.dims.join(", ")}]`, actual: `[${cand.dims.join(", ")}]` };
    }
    const result = ref.data instanceof BigInt64Array ? compareInt64(name, ref.data, cand.data as BigInt64Array, tolerance) : compareNumbers(name, ref.data, cand.data as ArrayLike<number>, tolerance);
    if (!result.valid) return result;
    if (result.maxDifference > maxDifference) maxDifference = result.maxDifference;
  }
  return { valid: true, maxDifference };
}

function boundValue(t: Tolerance): number {
  return Number(t.bound) / Number(TOLERANCE_SCALE);
}

function compareNumbers(name: string, ref: ArrayLike<number>, cand: ArrayLike<number>, tolerance: Tolerance): Comparison {
  const bound = boundValue(tolerance);
  let scale = 0;
  if (tolerance.kind === "relative") {
    for (let i = 0; i < ref.length; i++) {
      const a = Math.abs(ref[i]!);
      const b = Math.abs(cand[i]!);
      if (Number.isFinite(a) && a > scale) scale = a;
      if (Number.isFinite(b) && b > scale) scale = b;
    }
  }
  const floor = scale / 1024;
  let maxDifference = 0;
  let worst: Mismatch | undefined;
  for (let i = 0; i < ref.length; i++) {
    const a = ref[i]!;
    const b = cand[i]!;
    if (Number.isNaN(a) || Number.isNaN(b)) {
      if (Number.isNaN(a) && Number.isNaN(b)) continue;
      return { valid: false, reason: "nan_mismatch", output: name, index: i, expected: String(a), actual: String(b) };
    }
    if (a === b) continue;
    // Different values, one of them infinite: no bound covers it.
    const difference = Number.isFinite(a) && Number.isFinite(b) ? Math.abs(a - b) : Infinity;
    const allowed = tolerance.kind === "exact" ? 0 : tolerance.kind === "absolute" ? bound : bound * Math.max(Math.abs(a), Math.abs(b), floor);
    if (difference !== Infinity && difference <= allowed) {
      if (difference > maxDifference) maxDifference = difference;
      continue;
    }
    if (!worst || difference > worst.difference!) worst = { reason: "value_out_of_tolerance", output: name, index: i, expected: String(a), actual: String(b), difference, allowed };
  }
  return worst ? { valid: false, ...worst } : { valid: true, maxDifference };
}

function compareInt64(name: string, ref: BigInt64Array, cand: BigInt64Array, tolerance: Tolerance): Comparison {
  // Integers are compared exactly in bigint: |a - b| x SCALE <= bound (x max(|a|, |b|) for relative). Labels and
  // token ids are int64; any bound below 1 (absolute) keeps them exact.
  let maxDifference = 0;
  let worst: Mismatch | undefined;
  let worstDiff = -1n;
  for (let i = 0; i < ref.length; i++) {
    const a = ref[i]!;
    const b = cand[i]!;
    if (a === b) continue;
    const diff = a > b ? a - b : b - a;
    const abs = (x: bigint) => (x < 0n ? -x : x);
    const magnitude = abs(a) > abs(b) ? abs(a) : abs(b);
    const ok = tolerance.kind === "absolute" ? diff * TOLERANCE_SCALE <= tolerance.bound : tolerance.kind === "relative" ? diff * TOLERANCE_SCALE <= tolerance.bound * magnitude : false;
    if (ok) {
      if (Number(diff) > maxDifference) maxDifference = Number(diff);
      continue;
    }
    if (diff > worstDiff) {
      worstDiff = diff;
      const allowed = tolerance.kind === "absolute" ? boundValue(tolerance) : tolerance.kind === "relative" ? boundValue(tolerance) * Number(magnitude) : 0;
      worst = { reason: "value_out_of_tolerance", output: name, index: i, expected: a.toString(), actual: b.toString(), difference: Number(diff), allowed };
    }
  }
  return worst ? { valid: false, ...worst } : { valid: true, maxDifference };
}
