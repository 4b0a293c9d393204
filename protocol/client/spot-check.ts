// Spot checks: a random fraction of paid calls is re-run by a verifier (another registered device serving the same
// model, paid through a channel like any call, or the buyer's own runtime with the model file whose sha256 is the
// on-chain content hash), and the device's outputs are compared with the verifier's under the model's on-chain
// tolerance. A device that fails is quarantined by the buyer (Buyer refuses new vouchers to it).
import type { Address, Hex } from "viem";
import { tensorToWire, type Tensor, type TensorMapWire } from "../tensors.ts";
import { compareOutputs, type Tolerance } from "../tolerance.ts";
import type { SignedReceipt } from "../receipt.ts";
import { EdgepayClientError } from "./errors.ts";
import type { SpotCheckRecord, SpotCheckVerifierRecord } from "./spot-check-records.ts";

/**
 * Default share of paid calls re-checked: 2 %. A check costs one more call (to a device verifier) on the sampled
 * calls, so 2 % of spend. A device answering wrong on a fraction p of calls is caught after 1 / (0.02 p) calls of
 * this buyer on average; `npm run immune` (README, "Rogue devices") measured, with real channels and disputes, that
 * cheating then has negative expected value at cheat rates 1 %, 10 % and 100 % (the slash of the 10 USDC minimum
 * stake outweighs the compute a wrong answer saves), and that a buyer receives ~40 undetected wrong answers from a
 * device that is always wrong (~170 at 0.5 %). Raise it for calls worth a lot against the device's stake.
 */
export const DEFAULT_SPOT_CHECK_RATE = 0.02;

/** The buyer's own runtime for a model (protocol/node/local-verifier.ts: onnxruntime-node). */
export interface LocalVerifier {
  /** Recorded with each check ("onnxruntime-node"). */
  readonly name: string;
  /**
   * Runs model `modelId`, whose file must hash to `contentHash` (the on-chain one); throws a SpotCheckUnavailable
   * when it has no such file.
   */
  run(modelId: bigint, contentHash: Hex, inputs: Record<string, Tensor>): Promise<Record<string, Tensor>>;
}

export type SpotCheckVerifier =
  /**
   * Other registered devices serving the model, tried in order (the checked device itself is skipped): paid calls,
   * from channels opened with `autoOpen` (default: the Buyer's), authorised by the checked call's `authorize`.
   */
  | { kind: "device"; workers: string[]; autoOpen?: { deposit: bigint; approval?: "approve" | "permit" } }
  | { kind: "local"; runner: LocalVerifier };

export interface SpotCheckOptions {
  /** Share of paid calls checked, 0..1 (default DEFAULT_SPOT_CHECK_RATE). */
  rate?: number;
  verifier: SpotCheckVerifier;
}

/** A verifier could not produce reference outputs (the check is inconclusive, the device is not blamed). */
export class SpotCheckUnavailable extends Error {
  readonly reason: string;
  constructor(reason: string, message: string) {
    super(message);
    this.name = "SpotCheckUnavailable";
    this.reason = reason;
  }
}

export function checkSpotCheckOptions(options: SpotCheckOptions): Required<SpotCheckOptions> {
  const rate = options.rate ?? DEFAULT_SPOT_CHECK_RATE;
  if (!(rate >= 0 && rate <= 1)) throw new EdgepayClientError("bad_argument", `spotCheck.rate must be within 0..1, got ${rate}`);
  if (options.verifier.kind === "device" && options.verifier.workers.length === 0) {
    throw new EdgepayClientError("bad_argument", "spotCheck.verifier.workers is empty: name at least one other device's worker URL");
  }
  return { rate, verifier: options.verifier };
}

/**
 * One draw: true with probability `rate`. Cryptographic randomness, so a device cannot predict which answers are
 * checked (it would answer those correctly and cheat on the rest).
 */
export function drawSpotCheck(rate: number): boolean {
  if (rate <= 0) return false;
  if (rate >= 1) return true;
  const u = new Uint32Array(1);
  globalThis.crypto.getRandomValues(u);
  return u[0]! / 2 ** 32 < rate;
}

/** The verifier's answer to the same inputs. */
export interface Reference {
  outputs: Record<string, Tensor>;
  verifier: SpotCheckVerifierRecord;
  cost: bigint;
  receipt?: SignedReceipt;
}

export interface CheckedCall {
  device: Address;
  endpoint: string;
  modelId: bigint;
  receipt: SignedReceipt;
  inputs: Record<string, Tensor>;
  outputs: Record<string, Tensor>;
}

/** The record of a check: passed or failed (with evidence) from the comparison under `tolerance`. */
export function judge(call: CheckedCall, reference: Reference, tolerance: Tolerance, at = Date.now()): SpotCheckRecord {
  const comparison = compareOutputs(reference.outputs, call.outputs, tolerance);
  const base = baseRecord(call, tolerance, at);
  if (comparison.valid) return { ...base, outcome: "passed", verifier: reference.verifier, cost: reference.cost };
  const { valid: _valid, ...mismatch } = comparison;
  return {
    ...base,
    outcome: "failed",
    reason: mismatch.reason,
    mismatch,
    verifier: reference.verifier,
    cost: reference.cost,
    evidence: {
      receipt: call.receipt,
      inputs: wire(call.inputs),
      outputs: wire(call.outputs),
      reference: wire(reference.outputs),
      ...(reference.receipt ? { verifierReceipt: reference.receipt } : {}),
    },
  };
}

/** The record of a check no verifier could answer. */
export function inconclusive(call: CheckedCall, tolerance: Tolerance | undefined, reason: string, cost = 0n, at = Date.now()): SpotCheckRecord {
  return { ...baseRecord(call, tolerance, at), outcome: "inconclusive", reason, cost };
}

function baseRecord(call: CheckedCall, tolerance: Tolerance | undefined, at: number) {
  return {
    id: `${call.receipt.channelId}:${call.receipt.sequence}`,
    device: call.device,
    endpoint: call.endpoint,
    modelId: call.modelId,
    channelId: call.receipt.channelId,
    sequence: call.receipt.sequence,
    cumulativeAmount: call.receipt.cumulativeAmount,
    ...(tolerance ? { tolerance } : {}),
    cost: 0n,
    at,
  };
}

function wire(tensors: Record<string, Tensor>): TensorMapWire {
  return Object.fromEntries(Object.entries(tensors).map(([name, t]) => [name, tensorToWire(t)]));
}
