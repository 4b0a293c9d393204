// The on-chain steps of a wrong-answer dispute (contracts/AnswerDisputes.sol) for reporters and anyone moving a
// dispute along: commitEvidence, then openDispute in a later block (commit-then-open, so a copier of the evidence
// cannot open first), drawCommittee once the seed block exists, replaceAbsent for members that did not commit,
// and resolve after the reveal window. What can be checked off-chain is checked before gas: the evidence against
// the receipt (dispute-evidence.ts), the tolerance (a claim within it is refused on-chain anyway) and an existing
// dispute about the same receipt.
import { hexToBytes, parseEventLogs, type Address, type Hex, type Log, type PublicClient } from "viem";
import { answerDisputesAbi, modelRegistryAbi, testUsdcAbi } from "../generated/contracts.ts";
import { answerDisputeId, evidenceCommitment, evidenceHash } from "../answer-disputes.ts";
import { receiptDigest } from "../receipt.ts";
import { decodeTensors } from "../tensor-decode.ts";
import { TensorError, type Tensor } from "../tensors.ts";
import { compareOutputs, describeTolerance, toleranceFromChain, type Tolerance } from "../tolerance.ts";
import type { BuyerWallet } from "./chain.ts";
import type { AnswerDisputeEvidence } from "./dispute-evidence.ts";
import { EdgepayClientError, describeContractError } from "./errors.ts";
import { randomUint256 } from "./keys.ts";

export const DISPUTE_PHASES = ["none", "drawing", "voting", "resolved"] as const;
export type DisputePhase = (typeof DISPUTE_PHASES)[number];
export const DISPUTE_OUTCOMES = ["pending", "device_lost", "reporter_lost", "no_decision"] as const;
export type DisputeOutcome = (typeof DISPUTE_OUTCOMES)[number];
export const SEAT_STATES = ["seated", "committed", "revealed", "replaced"] as const;
export type SeatState = (typeof SEAT_STATES)[number];

export interface DisputeContext {
  publicClient: PublicClient;
  answerDisputes: Address;
}

export interface DisputeSeat {
  verifier: Address;
  state: SeatState;
  /** The revealed vote (only meaningful once `revealed`). */
  deviceRight: boolean;
}

export interface DisputeView {
  id: Hex;
  phase: DisputePhase;
  outcome: DisputeOutcome;
  device: Address;
  reporter: Address;
  deviceOwner: Address;
  modelId: bigint;
  bond: bigint;
  seedBlock: bigint;
  commitDeadline: bigint;
  revealDeadline: bigint;
  seats: DisputeSeat[];
  committed: number;
  active: number;
  votesRight: number;
  votesWrong: number;
  rounds: number;
}

/** A dispute and its seats as the contract holds them now. */
export async function readDispute(ctx: DisputeContext, id: Hex): Promise<DisputeView> {
  const [d, seats] = await Promise.all([
    ctx.publicClient.readContract({ address: ctx.answerDisputes, abi: answerDisputesAbi, functionName: "getDispute", args: [id] }),
    ctx.publicClient.readContract({ address: ctx.answerDisputes, abi: answerDisputesAbi, functionName: "getSeats", args: [id] }),
  ]);
  return {
    id,
    phase: DISPUTE_PHASES[d.phase]!,
    outcome: DISPUTE_OUTCOMES[d.outcome]!,
    device: d.device,
    reporter: d.reporter,
    deviceOwner: d.deviceOwner,
    modelId: d.modelId,
    bond: d.bond,
    seedBlock: d.seedBlock,
    commitDeadline: BigInt(d.commitDeadline),
    revealDeadline: BigInt(d.revealDeadline),
    seats: seats.map((s) => ({ verifier: s.verifier, state: SEAT_STATES[s.state]!, deviceRight: s.deviceRight })),
    committed: d.committed,
    active: d.active,
    votesRight: d.votesRight,
    votesWrong: d.votesWrong,
    rounds: d.rounds,
  };
}

/** The contract's parameters a client needs. */
export async function readDisputeParameters(ctx: DisputeContext) {
  const read = <F extends "paymentChannels" | "modelRegistry" | "stakeToken" | "reporterBond" | "verifierBond" | "committeeSize">(functionName: F) =>
    ctx.publicClient.readContract({ address: ctx.answerDisputes, abi: answerDisputesAbi, functionName } as never) as Promise<unknown>;
  const [paymentChannels, modelRegistry, stakeToken, reporterBond, verifierBond, committeeSize] = await Promise.all([
    read("paymentChannels"),
    read("modelRegistry"),
    read("stakeToken"),
    read("reporterBond"),
    read("verifierBond"),
    read("committeeSize"),
  ]);
  return {
    paymentChannels: paymentChannels as Address,
    modelRegistry: modelRegistry as Address,
    stakeToken: stakeToken as Address,
    reporterBond: reporterBond as bigint,
    verifierBond: verifierBond as bigint,
    committeeSize: committeeSize as bigint,
  };
}

/** The model's on-chain tolerance, read through the dispute contract's registry. */
export async function readDisputeTolerance(ctx: DisputeContext, modelRegistry: Address, modelId: bigint): Promise<Tolerance> {
  const t = await ctx.publicClient.readContract({ address: modelRegistry, abi: modelRegistryAbi, functionName: "toleranceOf", args: [modelId] });
  return toleranceFromChain({ kind: t.kind, bound: t.bound });
}

function decodeOrRefuse(bytes: Hex, what: string): Record<string, Tensor> {
  try {
    return decodeTensors(hexToBytes(bytes));
  } catch (error) {
    if (error instanceof TensorError) throw new EdgepayClientError("dispute_refused", `the ${what} do not decode: ${error.message}`, { reason: "bad_evidence" });
    throw error;
  }
}

export interface OpenedDispute {
  id: Hex;
  reporter: Address;
  commitTx: Hex;
  openTx: Hex;
  /** The committee is drawn from this block's hash: drawCommittee succeeds once a later block exists. */
  seedBlock: bigint;
  bond: bigint;
}

/**
 * Opens a dispute about `evidence` against `device`: refuses (dispute_refused, before any transaction) a claim within
 * the model's tolerance or a receipt already disputed; approves the reporter bond if needed, commits, then opens.
 */
export async function openAnswerDispute(ctx: DisputeContext, wallet: BuyerWallet, device: Address, evidence: AnswerDisputeEvidence): Promise<OpenedDispute> {
  const params = await readDisputeParameters(ctx);
  const chainId = await ctx.publicClient.getChainId();
  const digest = receiptDigest(evidence.receipt, chainId, params.paymentChannels);
  const id = answerDisputeId(device, digest);
  const existing = await readDispute(ctx, id);
  if (existing.phase !== "none") {
    throw new EdgepayClientError("dispute_refused", `receipt ${evidence.receipt.channelId}:${evidence.receipt.sequence} of ${device} is disputed already (dispute ${id}, ${existing.phase})`, {
      reason: "dispute_exists",
    });
  }
  const tolerance = await readDisputeTolerance(ctx, params.modelRegistry, evidence.receipt.modelId);
  const comparison = compareOutputs(decodeOrRefuse(evidence.claimedOutputs, "claimed outputs"), decodeOrRefuse(evidence.outputs, "device's outputs"), tolerance);
  if (comparison.valid) {
    throw new EdgepayClientError(
      "dispute_refused",
      `the device's answer is within model ${evidence.receipt.modelId}'s tolerance of the claimed outputs (largest difference ${comparison.maxDifference}, ${describeTolerance(tolerance)}): the contract would refuse it (WithinTolerance); nothing was sent`,
      { reason: "within_tolerance" },
    );
  }
  const reporter = wallet.account.address;
  await ensureAllowance(ctx, wallet, params.stakeToken, params.reporterBond);
  const salt = `0x${randomUint256().toString(16).padStart(64, "0")}` as Hex;
  const commitment = evidenceCommitment(reporter, evidenceHash(digest, evidence.claimedOutputs), salt);
  const commit = await sendDisputeTx(ctx, wallet, "commitEvidence", [commitment]);
  // Mined in a later block than the commitment by construction (sent after its receipt); simulated against the
  // pending block, since a call on the commitment's own block is refused as CommitmentTooFresh.
  const open = await sendDisputeTx(ctx, wallet, "openDispute", [device, evidence, salt], "pending");
  const opened = parseEventLogs({ abi: answerDisputesAbi, logs: open.logs, eventName: "DisputeOpened" })[0];
  if (!opened) throw new EdgepayClientError("transaction_failed", `openDispute ${open.hash} emitted no DisputeOpened event`);
  return { id: opened.args.id, reporter, commitTx: commit.hash, openTx: open.hash, seedBlock: opened.args.seedBlock, bond: opened.args.bond };
}

/** Joins `device` (owned by the wallet's account) to `modelId`'s verifier pool, approving the bond first. */
export async function joinVerifierPool(ctx: DisputeContext, wallet: BuyerWallet, modelId: bigint, device: Address): Promise<Hex> {
  const params = await readDisputeParameters(ctx);
  await ensureAllowance(ctx, wallet, params.stakeToken, params.verifierBond);
  return (await sendDisputeTx(ctx, wallet, "joinPool", [modelId, device])).hash;
}

export type AdvanceStep = "drawn" | "replaced" | "resolved" | "waiting" | "done";

/**
 * Does whatever is due on a dispute (anyone may): draw the committee once the seed block exists, replace members
 * that did not commit by the deadline, resolve after the reveal window. `waiting` names what it waits for.
 */
export async function advanceDispute(ctx: DisputeContext, wallet: BuyerWallet, id: Hex): Promise<{ step: AdvanceStep; waitingFor?: string; hash?: Hex }> {
  const d = await readDispute(ctx, id);
  const block = await ctx.publicClient.getBlock({ blockTag: "latest" });
  if (d.phase === "none") throw new EdgepayClientError("bad_argument", `no dispute ${id} on AnswerDisputes ${ctx.answerDisputes}`);
  if (d.phase === "resolved") return { step: "done" };
  if (d.phase === "drawing") {
    // The draw needs the seed block's hash: it must be mined, and the draw comes in a later block (the pending one).
    if (block.number < d.seedBlock) return { step: "waiting", waitingFor: `the seed block ${d.seedBlock} (now ${block.number})` };
    return { step: "drawn", hash: (await sendDisputeTx(ctx, wallet, "drawCommittee", [id], "pending")).hash };
  }
  if (block.timestamp <= d.commitDeadline) return { step: "waiting", waitingFor: `the commit window (until ${d.commitDeadline})` };
  if (d.active > d.committed && d.rounds < 2) return { step: "replaced", hash: (await sendDisputeTx(ctx, wallet, "replaceAbsent", [id])).hash };
  if (block.timestamp <= d.revealDeadline) return { step: "waiting", waitingFor: `the reveal window (until ${d.revealDeadline})` };
  return { step: "resolved", hash: (await sendDisputeTx(ctx, wallet, "resolve", [id])).hash };
}

type DisputeFunction = "commitEvidence" | "openDispute" | "drawCommittee" | "replaceAbsent" | "resolve" | "joinPool" | "leavePool" | "commitVote" | "revealVote";

/** Simulate (a revert is decoded into the contract's custom error), send, wait. */
export async function sendDisputeTx(
  ctx: DisputeContext,
  wallet: BuyerWallet,
  functionName: DisputeFunction,
  args: readonly unknown[],
  blockTag: "latest" | "pending" = "latest",
): Promise<{ hash: Hex; blockNumber: bigint; logs: Log[] }> {
  let hash: Hex;
  try {
    const { request } = await ctx.publicClient.simulateContract({ account: wallet.account, address: ctx.answerDisputes, abi: answerDisputesAbi, functionName, args, blockTag } as never);
    hash = await wallet.writeContract(request as never);
  } catch (error) {
    throw new EdgepayClientError("transaction_failed", `${functionName} failed: ${describeContractError(error)}`, { cause: error });
  }
  const receipt = await ctx.publicClient.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success") throw new EdgepayClientError("transaction_failed", `${functionName} reverted in transaction ${hash}`);
  return { hash, blockNumber: receipt.blockNumber, logs: receipt.logs };
}

async function ensureAllowance(ctx: DisputeContext, wallet: BuyerWallet, token: Address, amount: bigint) {
  if (amount === 0n) return;
  const owner = wallet.account.address;
  const [allowance, balance] = await Promise.all([
    ctx.publicClient.readContract({ address: token, abi: testUsdcAbi, functionName: "allowance", args: [owner, ctx.answerDisputes] }),
    ctx.publicClient.readContract({ address: token, abi: testUsdcAbi, functionName: "balanceOf", args: [owner] }),
  ]);
  if (balance < amount) throw new EdgepayClientError("dispute_refused", `${owner} holds ${balance} of token ${token}, the bond is ${amount}`, { reason: "bond_unfunded" });
  if (allowance >= amount) return;
  let hash: Hex;
  try {
    const { request } = await ctx.publicClient.simulateContract({ account: wallet.account, address: token, abi: testUsdcAbi, functionName: "approve", args: [ctx.answerDisputes, amount] });
    hash = await wallet.writeContract(request as never);
  } catch (error) {
    throw new EdgepayClientError("transaction_failed", `approve failed: ${describeContractError(error)}`, { cause: error });
  }
  await ctx.publicClient.waitForTransactionReceipt({ hash });
}
