// Turns the evidence a failed spot check kept (protocol/client/spot-check-records.ts) into AnswerDisputes'
// `Evidence` (contracts/interfaces/IAnswerDisputes.sol), checking locally what the contract checks about the
// tensors and the channel, so a reporter does not pay gas (or lose a commitment) for evidence the chain refuses.
// Signature, registry and tolerance checks stay with the contract.
import { sha256, toHex, type Hex } from "viem";
import { pickReceipt, type Receipt } from "../receipt.ts";
import { channelIdOf, type ChannelTerms } from "../terms.ts";
import { TensorError, encodeTensors, tensorFromWire, type Tensor, type TensorMapWire } from "../tensors.ts";
import type { SpotCheckEvidence } from "./spot-check-records.ts";

/** AnswerDisputes.MAX_INPUT_BYTES and MAX_OUTPUT_BYTES. */
export const MAX_DISPUTE_INPUT_BYTES = 65_536;
export const MAX_DISPUTE_OUTPUT_BYTES = 8_192;

/** The contract's `Evidence` struct, ready for `openDispute`. */
export interface AnswerDisputeEvidence {
  receipt: Receipt;
  signature: Hex;
  terms: ChannelTerms;
  inputs: Hex;
  outputs: Hex;
  claimedOutputs: Hex;
}

export const DISPUTE_EVIDENCE_REASONS = [
  "channel_mismatch",
  "invalid_tensors",
  "input_hash_mismatch",
  "output_hash_mismatch",
  "inputs_too_large",
  "outputs_too_large",
] as const;
export type DisputeEvidenceReason = (typeof DISPUTE_EVIDENCE_REASONS)[number];

export type DisputeEvidenceResult =
  | { valid: true; evidence: AnswerDisputeEvidence }
  | { valid: false; reason: DisputeEvidenceReason; detail: string };

function decode(map: TensorMapWire): Record<string, Tensor> {
  return Object.fromEntries(Object.entries(map).map(([name, wire]) => [name, tensorFromWire(name, wire)]));
}

/** Builds the dispute evidence of a failed spot check paid through the channel with `terms`. */
export function disputeEvidence(spot: SpotCheckEvidence, terms: ChannelTerms): DisputeEvidenceResult {
  const { receipt } = spot;
  const channelId = channelIdOf(terms);
  if (channelId !== receipt.channelId) {
    return { valid: false, reason: "channel_mismatch", detail: `terms hash to ${channelId}, the receipt names ${receipt.channelId}` };
  }
  let inputs: Uint8Array;
  let outputs: Uint8Array;
  let claimed: Uint8Array;
  try {
    inputs = encodeTensors(decode(spot.inputs));
    outputs = encodeTensors(decode(spot.outputs));
    claimed = encodeTensors(decode(spot.reference));
  } catch (error) {
    if (error instanceof TensorError) return { valid: false, reason: "invalid_tensors", detail: error.message };
    throw error;
  }
  if (inputs.length > MAX_DISPUTE_INPUT_BYTES) {
    return { valid: false, reason: "inputs_too_large", detail: `${inputs.length} bytes, at most ${MAX_DISPUTE_INPUT_BYTES}` };
  }
  for (const [what, bytes] of [["outputs", outputs], ["reference outputs", claimed]] as const) {
    if (bytes.length > MAX_DISPUTE_OUTPUT_BYTES) {
      return { valid: false, reason: "outputs_too_large", detail: `${what}: ${bytes.length} bytes, at most ${MAX_DISPUTE_OUTPUT_BYTES}` };
    }
  }
  const inputHash = sha256(inputs);
  if (inputHash !== receipt.inputHash) {
    return { valid: false, reason: "input_hash_mismatch", detail: `inputs hash to ${inputHash}, the receipt says ${receipt.inputHash}` };
  }
  const outputHash = sha256(outputs);
  if (outputHash !== receipt.outputHash) {
    return { valid: false, reason: "output_hash_mismatch", detail: `outputs hash to ${outputHash}, the receipt says ${receipt.outputHash}` };
  }
  return {
    valid: true,
    evidence: { receipt: pickReceipt(receipt), signature: receipt.signature, terms, inputs: toHex(inputs), outputs: toHex(outputs), claimedOutputs: toHex(claimed) },
  };
}
