// Hashes of AnswerDisputes (contracts/AnswerDisputes.sol), for reporters and verifiers off-chain: what a reporter
// commits before opening a dispute, a dispute's id, and a committee member's vote commitment. Mirrors the contract;
// test/contracts/answer-disputes.test.ts checks them against its views.
import { encodeAbiParameters, keccak256, type Address, type Hex } from "viem";

/** keccak256(abi.encode(receiptDigest, keccak256(claimedOutputs))): the evidence a reporter commits to. */
export function evidenceHash(receiptDigest: Hex, claimedOutputs: Hex): Hex {
  return keccak256(encodeAbiParameters([{ type: "bytes32" }, { type: "bytes32" }], [receiptDigest, keccak256(claimedOutputs)]));
}

/** keccak256(abi.encode(reporter, evidenceHash, salt)): binds the evidence to the reporter, so a copier cannot open. */
export function evidenceCommitment(reporter: Address, evidence: Hex, salt: Hex): Hex {
  return keccak256(encodeAbiParameters([{ type: "address" }, { type: "bytes32" }, { type: "bytes32" }], [reporter, evidence, salt]));
}

/** keccak256(abi.encode(device, receiptDigest)): one dispute per receipt of a device. */
export function answerDisputeId(device: Address, receiptDigest: Hex): Hex {
  return keccak256(encodeAbiParameters([{ type: "address" }, { type: "bytes32" }], [device, receiptDigest]));
}

/** keccak256(abi.encode(disputeId, verifier, deviceRight, salt)): a member's sealed vote. */
export function voteCommitment(disputeId: Hex, verifier: Address, deviceRight: boolean, salt: Hex): Hex {
  return keccak256(
    encodeAbiParameters([{ type: "bytes32" }, { type: "address" }, { type: "bool" }, { type: "bytes32" }], [disputeId, verifier, deviceRight, salt]),
  );
}
