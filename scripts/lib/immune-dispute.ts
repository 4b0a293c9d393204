// One wrong-answer dispute on AnswerDisputes, end to end, as the simulation (`npm run immune`) and the demo's rogue
// need it: the reporter commits and opens with a failed spot check's evidence, the committee is drawn, each seated
// member re-runs the model on the inputs read from the open transaction's calldata and votes with its device key
// (commit, then reveal), the windows are advanced on the local chain, and the dispute is resolved. What moved is read
// from the chain (token balances and the device's stake before and after), never computed from the contract's rates.
//
// Boundary on purpose: protocol/client/answer-dispute.ts (reporter and verifier steps) and the worker's verifier
// daemon (worker/disputes/) are being written in parallel. Once they land, `openAnswerDispute` and
// `voteAsCommittee` should call them instead; `runAnswerDispute`'s signature and DisputeMoney stay what callers use.
import { decodeFunctionData, parseEventLogs, toHex, type Address, type Hex, type LocalAccount, type PublicClient, type TransactionReceipt, type WalletClient } from "viem";
import { answerDisputeId, evidenceCommitment, evidenceHash, voteCommitment } from "../../protocol/answer-disputes.ts";
import type { AnswerDisputeEvidence } from "../../protocol/client/dispute-evidence.ts";
import { answerDisputesAbi, deviceRegistryAbi, testUsdcAbi } from "../../protocol/generated/contracts.ts";
import { receiptDigest } from "../../protocol/receipt.ts";
import type { Tensor } from "../../protocol/tensors.ts";
import { decodeTensors } from "./immune-tensors.ts";

export interface DisputeChain {
  publicClient: PublicClient;
  chainId: number;
  walletOf(account: LocalAccount): WalletClient;
  paymentChannels: Address;
  answerDisputes: Address;
  deviceRegistry: Address;
  token: Address;
  /** Receives the slash's remainder (the deployment's treasury). */
  treasury: Address;
  /** Moves the local chain's clock (evm_increaseTime) and mines a block: the vote windows last an hour each. */
  advance(seconds: bigint): Promise<void>;
  mine(): Promise<void>;
}

export interface Committee {
  /** Device keys of verifiers in the pool, by lowercase address: a seated member votes with its device key. */
  keys: Map<string, LocalAccount>;
  /** Re-runs model `modelId` on `inputs`; true when the accused device's `outputs` are acceptable. */
  judge(modelId: bigint, inputs: Record<string, Tensor>, outputs: Record<string, Tensor>): Promise<boolean>;
}

export interface GasSpent {
  from: Address;
  what: string;
  gasUsed: bigint;
  costWei: bigint;
}

export interface OpenedDispute {
  id: Hex;
  openTx: Hex;
  openBlock: bigint;
  openedAt: bigint;
  gas: GasSpent[];
}

export interface MemberVote {
  verifier: Address;
  owner: Address;
  deviceRight: boolean;
}

/** DisputeResolved, as emitted. Outcome: 1 DeviceLost, 2 ReporterLost, 3 NoDecision (IAnswerDisputes.Outcome). */
export interface Resolution {
  outcome: number;
  votesRight: bigint;
  votesWrong: bigint;
  slashed: bigint;
  reporterPaid: bigint;
  verifiersPaid: bigint;
  treasuryPaid: bigint;
  block: bigint;
  at: bigint;
}

/** Token and stake movements from before the commitment to after `resolve`, read from the chain. */
export interface DisputeMoney {
  dispute: OpenedDispute;
  votes: MemberVote[];
  resolution: Resolution;
  /** The accused device's stake before and after. */
  stakeBefore: bigint;
  stakeAfter: bigint;
  /** Balance changes over the dispute (the reporter's bond goes out and comes back inside the range). */
  reporterDelta: bigint;
  deviceOwnerDelta: bigint;
  verifierOwnerDeltas: { owner: Address; delta: bigint }[];
  treasuryDelta: bigint;
  gas: GasSpent[];
}

function randomSalt(): Hex {
  return toHex(globalThis.crypto.getRandomValues(new Uint8Array(32)));
}

async function sent(chain: DisputeChain, account: LocalAccount, what: string, request: Record<string, unknown>): Promise<{ receipt: TransactionReceipt; gas: GasSpent }> {
  const hash = await chain.walletOf(account).writeContract({ address: chain.answerDisputes, abi: answerDisputesAbi, account, chain: null, ...request } as never);
  const receipt = await chain.publicClient.waitForTransactionReceipt({ hash, pollingInterval: 20 });
  if (receipt.status !== "success") throw new Error(`${what}: transaction ${hash} reverted`);
  return { receipt, gas: { from: account.address, what, gasUsed: receipt.gasUsed, costWei: receipt.gasUsed * receipt.effectiveGasPrice } };
}

/** commitEvidence, then openDispute in a later block (the contract refuses a commitment from the same block). */
export async function openAnswerDispute(chain: DisputeChain, reporter: LocalAccount, evidence: AnswerDisputeEvidence): Promise<OpenedDispute> {
  const digest = receiptDigest(evidence.receipt, chain.chainId, chain.paymentChannels);
  const salt = randomSalt();
  const commitment = evidenceCommitment(reporter.address, evidenceHash(digest, evidence.claimedOutputs), salt);
  const commit = await sent(chain, reporter, "commitEvidence", { functionName: "commitEvidence", args: [commitment] });
  const open = await sent(chain, reporter, "openDispute", { functionName: "openDispute", args: [evidence.terms.device, evidence, salt] });
  const [event] = parseEventLogs({ abi: answerDisputesAbi, eventName: "DisputeOpened", logs: open.receipt.logs });
  if (!event) throw new Error(`openDispute ${open.receipt.transactionHash}: no DisputeOpened event`);
  const id = event.args.id!;
  if (id !== answerDisputeId(evidence.terms.device, digest)) throw new Error(`dispute id ${id} is not the one computed off-chain`);
  const block = await chain.publicClient.getBlock({ blockNumber: open.receipt.blockNumber });
  return { id, openTx: open.receipt.transactionHash, openBlock: open.receipt.blockNumber, openedAt: block.timestamp, gas: [commit.gas, open.gas] };
}

/**
 * Draws the committee and has every seated member whose key is in `committee` re-run the model on the evidence of
 * the open transaction and vote (commit, reveal), advancing the clock past each window. Members without a key stay
 * silent (and lose part of their bond, as the contract says).
 */
export async function voteAsCommittee(chain: DisputeChain, opened: OpenedDispute, committee: Committee, drawer: LocalAccount): Promise<{ votes: MemberVote[]; gas: GasSpent[] }> {
  const gas: GasSpent[] = [];
  // The draw's seed is the hash of the block after the open: that block must exist first.
  await chain.mine();
  gas.push((await sent(chain, drawer, "drawCommittee", { functionName: "drawCommittee", args: [opened.id] })).gas);
  const tx = await chain.publicClient.getTransaction({ hash: opened.openTx });
  const { args } = decodeFunctionData({ abi: answerDisputesAbi, data: tx.input });
  const evidence = (args as readonly [Address, { receipt: { modelId: bigint }; inputs: Hex; outputs: Hex }, Hex])[1];
  const inputs = decodeTensors(evidence.inputs);
  const outputs = decodeTensors(evidence.outputs);
  const seats = await chain.publicClient.readContract({ address: chain.answerDisputes, abi: answerDisputesAbi, functionName: "getSeats", args: [opened.id] });
  const dispute = await chain.publicClient.readContract({ address: chain.answerDisputes, abi: answerDisputesAbi, functionName: "getDispute", args: [opened.id] });
  const votes: (MemberVote & { key: LocalAccount; salt: Hex })[] = [];
  for (const seat of seats) {
    const key = committee.keys.get(seat.verifier.toLowerCase());
    if (!key) continue;
    const deviceRight = await committee.judge(evidence.receipt.modelId, inputs, outputs);
    // Unpredictable, or a member's sealed vote could be guessed (two possible values) before the reveal.
    const salt = randomSalt();
    gas.push((await sent(chain, key, "commitVote", { functionName: "commitVote", args: [opened.id, voteCommitment(opened.id, key.address, deviceRight, salt)] })).gas);
    const v = await chain.publicClient.readContract({ address: chain.answerDisputes, abi: answerDisputesAbi, functionName: "getVerifier", args: [dispute.modelId, seat.verifier] });
    votes.push({ verifier: seat.verifier, owner: v.owner, deviceRight, key, salt });
  }
  await advancePast(chain, BigInt(dispute.commitDeadline));
  for (const v of votes) gas.push((await sent(chain, v.key, "revealVote", { functionName: "revealVote", args: [opened.id, v.deviceRight, v.salt] })).gas);
  await advancePast(chain, BigInt(dispute.revealDeadline));
  return { votes: votes.map(({ verifier, owner, deviceRight }) => ({ verifier, owner, deviceRight })), gas };
}

async function advancePast(chain: DisputeChain, deadline: bigint) {
  const now = (await chain.publicClient.getBlock()).timestamp;
  if (now <= deadline) await chain.advance(deadline - now + 1n);
}

/** resolve(id) and its DisputeResolved event. */
export async function resolveAnswerDispute(chain: DisputeChain, id: Hex, caller: LocalAccount): Promise<{ resolution: Resolution; gas: GasSpent }> {
  const { receipt, gas } = await sent(chain, caller, "resolve", { functionName: "resolve", args: [id] });
  const [event] = parseEventLogs({ abi: answerDisputesAbi, eventName: "DisputeResolved", logs: receipt.logs });
  if (!event) throw new Error(`resolve ${receipt.transactionHash}: no DisputeResolved event`);
  const a = event.args;
  const block = await chain.publicClient.getBlock({ blockNumber: receipt.blockNumber });
  return {
    resolution: {
      outcome: Number(a.outcome),
      votesRight: a.votesRight!,
      votesWrong: a.votesWrong!,
      slashed: a.slashed!,
      reporterPaid: a.reporterPaid!,
      verifiersPaid: a.verifiersPaid!,
      treasuryPaid: a.treasuryPaid!,
      block: receipt.blockNumber,
      at: block.timestamp,
    },
    gas,
  };
}

/**
 * The whole dispute about `evidence` (a failed spot check's, from protocol/client/dispute-evidence.ts) with the
 * money it moved: open by `reporter`, committee votes, resolve (sent by the reporter). Needs a local chain (the
 * vote windows are advanced with evm_increaseTime).
 */
export async function runAnswerDispute(chain: DisputeChain, reporter: LocalAccount, evidence: AnswerDisputeEvidence, committee: Committee): Promise<DisputeMoney> {
  const device = evidence.terms.device;
  const balance = (who: Address) => chain.publicClient.readContract({ address: chain.token, abi: testUsdcAbi, functionName: "balanceOf", args: [who] });
  const deviceRecord = () => chain.publicClient.readContract({ address: chain.deviceRegistry, abi: deviceRegistryAbi, functionName: "getDevice", args: [device] });
  const before = await deviceRecord();
  const verifierOwners = new Map<string, Address>();
  const pool = await chain.publicClient.readContract({ address: chain.answerDisputes, abi: answerDisputesAbi, functionName: "poolOf", args: [evidence.receipt.modelId] });
  for (const v of pool) {
    const rec = await chain.publicClient.readContract({ address: chain.answerDisputes, abi: answerDisputesAbi, functionName: "getVerifier", args: [evidence.receipt.modelId, v] });
    verifierOwners.set(rec.owner.toLowerCase(), rec.owner);
  }
  const watched = [reporter.address, before.owner, chain.treasury, ...verifierOwners.values()];
  const start = new Map<string, bigint>();
  for (const a of watched) start.set(a.toLowerCase(), await balance(a));

  const dispute = await openAnswerDispute(chain, reporter, evidence);
  const { votes, gas: voteGas } = await voteAsCommittee(chain, dispute, committee, reporter);
  const { resolution, gas: resolveGas } = await resolveAnswerDispute(chain, dispute.id, reporter);

  const delta = async (a: Address) => (await balance(a)) - start.get(a.toLowerCase())!;
  const after = await deviceRecord();
  const verifierOwnerDeltas: { owner: Address; delta: bigint }[] = [];
  for (const owner of verifierOwners.values()) verifierOwnerDeltas.push({ owner, delta: await delta(owner) });
  return {
    dispute,
    votes,
    resolution,
    stakeBefore: before.stake,
    stakeAfter: after.stake,
    reporterDelta: await delta(reporter.address),
    deviceOwnerDelta: await delta(before.owner),
    verifierOwnerDeltas,
    treasuryDelta: await delta(chain.treasury),
    gas: [...dispute.gas, ...voteGas, resolveGas],
  };
}
