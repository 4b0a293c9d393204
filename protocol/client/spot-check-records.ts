// What a buyer remembers about spot checks: every check's outcome (with the evidence of a failed one, for a later
// dispute) and the devices it quarantined. JSON forms (bigints as decimal strings) for file and browser stores.
import type { Address, Hex } from "viem";
import { receiptToWire, signedReceiptWire, type SignedReceipt, type SignedReceiptWire } from "../receipt.ts";
import type { TensorMapWire } from "../tensors.ts";
import type { Mismatch, Tolerance } from "../tolerance.ts";

/** Who re-ran the inputs: another registered device (a paid call) or the buyer's own runtime. */
export type SpotCheckVerifierRecord =
  | { kind: "device"; device: Address; endpoint: string; channelId: Hex; sequence: bigint }
  | { kind: "local"; runner: string };

/**
 * - passed: the outputs agree under the model's tolerance.
 * - failed: they do not (`mismatch` says where); the device is quarantined.
 * - inconclusive: no verifier answered (`reason`); nothing is concluded about the device.
 */
export type SpotCheckOutcome = "passed" | "failed" | "inconclusive";

/** Everything a dispute needs: the device's signed receipt, the inputs, its outputs and the verifier's. */
export interface SpotCheckEvidence {
  receipt: SignedReceipt;
  inputs: TensorMapWire;
  outputs: TensorMapWire;
  reference: TensorMapWire;
  /** The verifying device's receipt for the reference outputs (device verifiers). */
  verifierReceipt?: SignedReceipt;
}

export interface SpotCheckRecord {
  /** `<channelId>:<sequence>` of the checked receipt. */
  id: string;
  device: Address;
  endpoint: string;
  modelId: bigint;
  channelId: Hex;
  /** The checked receipt's sequence and cumulative amount. */
  sequence: bigint;
  cumulativeAmount: bigint;
  outcome: SpotCheckOutcome;
  /** Stable snake_case reason: a ComparisonReason when failed, why no verdict when inconclusive. */
  reason?: string;
  mismatch?: Mismatch;
  verifier?: SpotCheckVerifierRecord;
  /** The model's tolerance the outputs were compared under (absent when it could not be read). */
  tolerance?: Tolerance;
  /** What the check paid the verifier (0 for a local run or when it failed before paying). */
  cost: bigint;
  at: number;
  /** Kept when the check failed. */
  evidence?: SpotCheckEvidence;
}

/** A device the client signs no new voucher to, until `Buyer.clearQuarantine` or a dispute the device wins. */
export interface QuarantineRecord {
  device: Address;
  modelId: bigint;
  /** The failed check (SpotCheckRecord.id) and its receipt. */
  checkId: string;
  channelId: Hex;
  sequence: bigint;
  reason: string;
  at: number;
  /** The AnswerDisputes dispute opened about the failed check; the quarantine is lifted when the device wins it. */
  disputeId?: Hex;
}

export type SpotCheckRecordJson = ReturnType<typeof spotCheckRecordToJson>;

export function spotCheckRecordToJson(r: SpotCheckRecord) {
  return {
    ...r,
    modelId: r.modelId.toString(),
    sequence: r.sequence.toString(),
    cumulativeAmount: r.cumulativeAmount.toString(),
    tolerance: r.tolerance && { kind: r.tolerance.kind, bound: r.tolerance.bound.toString() },
    cost: r.cost.toString(),
    verifier: r.verifier && (r.verifier.kind === "device" ? { ...r.verifier, sequence: r.verifier.sequence.toString() } : r.verifier),
    evidence: r.evidence && {
      ...r.evidence,
      receipt: receiptToWire(r.evidence.receipt),
      verifierReceipt: r.evidence.verifierReceipt && receiptToWire(r.evidence.verifierReceipt),
    },
  };
}

export function spotCheckRecordFromJson(j: SpotCheckRecordJson): SpotCheckRecord {
  const receipt = (w: SignedReceiptWire) => signedReceiptWire.parse(w) as SignedReceipt;
  return {
    ...j,
    modelId: BigInt(j.modelId),
    sequence: BigInt(j.sequence),
    cumulativeAmount: BigInt(j.cumulativeAmount),
    tolerance: j.tolerance && { kind: j.tolerance.kind, bound: BigInt(j.tolerance.bound) },
    cost: BigInt(j.cost),
    verifier: j.verifier && (j.verifier.kind === "device" ? { ...j.verifier, sequence: BigInt(j.verifier.sequence) } : j.verifier),
    evidence: j.evidence && {
      ...j.evidence,
      receipt: receipt(j.evidence.receipt),
      verifierReceipt: j.evidence.verifierReceipt && receipt(j.evidence.verifierReceipt),
    },
  };
}

export type QuarantineRecordJson = ReturnType<typeof quarantineRecordToJson>;

export function quarantineRecordToJson(q: QuarantineRecord) {
  return { ...q, modelId: q.modelId.toString(), sequence: q.sequence.toString() };
}

export function quarantineRecordFromJson(j: QuarantineRecordJson): QuarantineRecord {
  return { ...j, modelId: BigInt(j.modelId), sequence: BigInt(j.sequence) };
}
