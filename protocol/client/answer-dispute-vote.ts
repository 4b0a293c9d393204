// A committee member's side of a wrong-answer dispute: read the disputed evidence from the openDispute transaction
// (the contract keeps only hashes; DisputeOpened points at the transaction), decide the vote by re-running the
// model on the inputs and comparing the device's outputs with its own under the model's on-chain tolerance, and
// build the sealed vote and its reveal. Sending is left to the caller (a worker signs with its device key).
import { decodeFunctionData, encodeFunctionData, hexToBytes, sha256, type Address, type Hex, type PublicClient } from "viem";
import { answerDisputesAbi } from "../generated/contracts.ts";
import { voteCommitment } from "../answer-disputes.ts";
import { getContractEventsPaged } from "../paged-logs.ts";
import { decodeTensors } from "../tensor-decode.ts";
import type { Tensor } from "../tensors.ts";
import { compareOutputs, type Comparison, type Tolerance } from "../tolerance.ts";
import type { AnswerDisputeEvidence } from "./dispute-evidence.ts";

export interface DisputedAnswer {
  id: Hex;
  device: Address;
  modelId: bigint;
  /** The openDispute transaction the evidence was read from. */
  openTx: Hex;
  evidence: AnswerDisputeEvidence;
  inputs: Record<string, Tensor>;
  outputs: Record<string, Tensor>;
}

/**
 * The evidence of dispute `id`, from its DisputeOpened event's transaction calldata. Undefined when the dispute was
 * opened through another contract (the calldata is not an openDispute call): the member cannot see the inputs.
 */
export async function readDisputedAnswer(
  client: Pick<PublicClient, "getContractEvents" | "getBlockNumber" | "getTransaction">,
  answerDisputes: Address,
  id: Hex,
  options: { fromBlock?: bigint; getLogsRange?: number } = {},
): Promise<DisputedAnswer | undefined> {
  const [log] = await getContractEventsPaged(client, { address: answerDisputes, abi: answerDisputesAbi, eventName: "DisputeOpened", args: { id } }, {
    fromBlock: options.fromBlock ?? 0n,
    maxRange: options.getLogsRange,
  });
  if (!log) return undefined;
  const tx = await client.getTransaction({ hash: log.transactionHash });
  let call;
  try {
    call = decodeFunctionData({ abi: answerDisputesAbi, data: tx.input });
  } catch {
    return undefined;
  }
  if (call.functionName !== "openDispute" || tx.to?.toLowerCase() !== answerDisputes.toLowerCase()) return undefined;
  const [device, e] = call.args;
  const evidence: AnswerDisputeEvidence = {
    receipt: { ...e.receipt },
    signature: e.signature,
    terms: { ...e.terms, royaltyBps: Number(e.terms.royaltyBps) },
    inputs: e.inputs,
    outputs: e.outputs,
    claimedOutputs: e.claimedOutputs,
  };
  // The contract checked these hashes at the open; checking again costs nothing and guards the decoding.
  if (sha256(evidence.inputs) !== evidence.receipt.inputHash || sha256(evidence.outputs) !== evidence.receipt.outputHash) return undefined;
  const bytes = (h: Hex) => hexToBytes(h);
  return { id, device, modelId: evidence.receipt.modelId, openTx: log.transactionHash, evidence, inputs: decodeTensors(bytes(evidence.inputs)), outputs: decodeTensors(bytes(evidence.outputs)) };
}

/** The vote: the device's answer is right when it is within `tolerance` of the member's own outputs. */
export function judgeDisputedAnswer(own: Record<string, Tensor>, deviceOutputs: Record<string, Tensor>, tolerance: Tolerance): { deviceRight: boolean; comparison: Comparison } {
  const comparison = compareOutputs(own, deviceOutputs, tolerance);
  return { deviceRight: comparison.valid, comparison };
}

/** Calldata of commitVote with the member's sealed vote. */
export function commitVoteCall(id: Hex, verifier: Address, deviceRight: boolean, salt: Hex): { commitment: Hex; data: Hex } {
  const commitment = voteCommitment(id, verifier, deviceRight, salt);
  return { commitment, data: encodeFunctionData({ abi: answerDisputesAbi, functionName: "commitVote", args: [id, commitment] }) };
}

/** Calldata of revealVote. */
export function revealVoteCall(id: Hex, deviceRight: boolean, salt: Hex): Hex {
  return encodeFunctionData({ abi: answerDisputesAbi, functionName: "revealVote", args: [id, deviceRight, salt] });
}
