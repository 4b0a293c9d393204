// One wrong-answer dispute on AnswerDisputes, end to end, as the simulation (`npm run immune`) and the demo's rogue
// need it: the reporter commits and opens with a failed spot check's evidence, the committee is drawn, each seated
// member re-runs the model on the inputs read from the open transaction's calldata and votes with its device key
// (commit, then reveal), the windows are advanced on the local chain, and the dispute is resolved. What moved is read
// from the chain (token balances and the device's stake before and after), never computed from the contract's rates.
//
// The transactions are the shared client's (protocol/client/answer-dispute.ts: open with its off-chain refusals,
// sendDisputeTx for draw, votes and resolve; answer-dispute-vote.ts: the evidence read back from the open
// transaction and the sealed votes); this file adds what the simulation measures (gas per transaction, timestamps)
// and moves the local chain's clock through the windows instead of waiting for them.
import { parseEventLogs, toHex, type Address, type Hex, type LocalAccount, type PublicClient } from "viem";
import { openAnswerDispute as openShared, readDispute, sendDisputeTx, type DisputeContext } from "../../protocol/client/answer-dispute.ts";
import { commitVoteCall, readDisputedAnswer } from "../../protocol/client/answer-dispute-vote.ts";
import type { BuyerWallet } from "../../protocol/client/chain.ts";
import type { AnswerDisputeEvidence } from "../../protocol/client/dispute-evidence.ts";
import { answerDisputesAbi, deviceRegistryAbi, testUsdcAbi } from "../../protocol/generated/contracts.ts";
import type { Tensor } from "../../protocol/tensors.ts";

export interface DisputeChain {
  publicClient: PublicClient;
  chainId: number;
  walletOf(account: LocalAccount): BuyerWallet;
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

const ctxOf = (chain: DisputeChain): DisputeContext => ({ publicClient: chain.publicClient, answerDisputes: chain.answerDisputes });

/** The gas a sent transaction used, from its receipt. */
async function gasOf(chain: DisputeChain, from: Address, what: string, hash: Hex): Promise<GasSpent> {
  const receipt = await chain.publicClient.getTransactionReceipt({ hash });
  return { from, what, gasUsed: receipt.gasUsed, costWei: receipt.gasUsed * receipt.effectiveGasPrice };
}

/** One AnswerDisputes transaction through the shared client (simulated first, so a revert names its custom error). */
async function sent(chain: DisputeChain, account: LocalAccount, what: "drawCommittee" | "commitVote" | "revealVote" | "resolve", args: readonly unknown[], blockTag: "latest" | "pending" = "latest") {
  const tx = await sendDisputeTx(ctxOf(chain), chain.walletOf(account), what, args, blockTag);
  return { tx, gas: await gasOf(chain, account.address, what, tx.hash) };
}

/** commitEvidence, then openDispute in a later block (protocol/client/answer-dispute.ts openAnswerDispute). */
export async function openAnswerDispute(chain: DisputeChain, reporter: LocalAccount, evidence: AnswerDisputeEvidence): Promise<OpenedDispute> {
  const opened = await openShared(ctxOf(chain), chain.walletOf(reporter), evidence.terms.device, evidence);
  const open = await chain.publicClient.getTransactionReceipt({ hash: opened.openTx });
  const block = await chain.publicClient.getBlock({ blockNumber: open.blockNumber });
  const gas = [await gasOf(chain, reporter.address, "commitEvidence", opened.commitTx), await gasOf(chain, reporter.address, "openDispute", opened.openTx)];
  return { id: opened.id, openTx: opened.openTx, openBlock: open.blockNumber, openedAt: block.timestamp, gas };
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
  gas.push((await sent(chain, drawer, "drawCommittee", [opened.id], "pending")).gas);
  const answer = await readDisputedAnswer(chain.publicClient, chain.answerDisputes, opened.id, { fromBlock: opened.openBlock });
  if (!answer) throw new Error(`dispute ${opened.id}: its evidence cannot be read from transaction ${opened.openTx}`);
  const dispute = await readDispute(ctxOf(chain), opened.id);
  const votes: (MemberVote & { key: LocalAccount; salt: Hex })[] = [];
  for (const seat of dispute.seats) {
    const key = committee.keys.get(seat.verifier.toLowerCase());
    if (!key) continue;
    const deviceRight = await committee.judge(answer.modelId, answer.inputs, answer.outputs);
    // Unpredictable, or a member's sealed vote could be guessed (two possible values) before the reveal.
    const salt = randomSalt();
    const { commitment } = commitVoteCall(opened.id, key.address, deviceRight, salt);
    gas.push((await sent(chain, key, "commitVote", [opened.id, commitment])).gas);
    const v = await chain.publicClient.readContract({ address: chain.answerDisputes, abi: answerDisputesAbi, functionName: "getVerifier", args: [dispute.modelId, seat.verifier] });
    votes.push({ verifier: seat.verifier, owner: v.owner, deviceRight, key, salt });
  }
  await advancePast(chain, dispute.commitDeadline);
  for (const v of votes) gas.push((await sent(chain, v.key, "revealVote", [opened.id, v.deviceRight, v.salt])).gas);
  await advancePast(chain, dispute.revealDeadline);
  return { votes: votes.map(({ verifier, owner, deviceRight }) => ({ verifier, owner, deviceRight })), gas };
}

async function advancePast(chain: DisputeChain, deadline: bigint) {
  const now = (await chain.publicClient.getBlock()).timestamp;
  if (now <= deadline) await chain.advance(deadline - now + 1n);
}

/** resolve(id) and its DisputeResolved event. */
export async function resolveAnswerDispute(chain: DisputeChain, id: Hex, caller: LocalAccount): Promise<{ resolution: Resolution; gas: GasSpent }> {
  const { tx, gas } = await sent(chain, caller, "resolve", [id]);
  const [event] = parseEventLogs({ abi: answerDisputesAbi, eventName: "DisputeResolved", logs: tx.logs });
  if (!event) throw new Error(`resolve ${tx.hash}: no DisputeResolved event`);
  const a = event.args;
  const block = await chain.publicClient.getBlock({ blockNumber: tx.blockNumber });
  return {
    resolution: {
      outcome: Number(a.outcome),
      votesRight: a.votesRight,
      votesWrong: a.votesWrong,
      slashed: a.slashed,
      reporterPaid: a.reporterPaid,
      verifiersPaid: a.verifiersPaid,
      treasuryPaid: a.treasuryPaid,
      block: tx.blockNumber,
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
