// Fixtures of the AnswerDisputes tests: the market with an open channel, a FlightRecorder and AnswerDisputes both
// holding SLASHER_ROLE (AnswerDisputes is the registry's stake guard and passes the recorder's lock on), a verifier
// pool for the model, and evidence of a wrong answer built with the protocol's tensor encoding.
import { Wallet, ZeroHash, hexlify, keccak256, parseEther, toUtf8Bytes, type Signer } from "ethers";
import type { Address, Hex } from "viem";
import { evidenceCommitment, evidenceHash, voteCommitment as protocolVoteCommitment } from "../../protocol/answer-disputes.ts";
import { answerDisputesAbi, flightRecorderAbi } from "../../protocol/generated/contracts.ts";
import { receiptTypes } from "../../protocol/eip712.ts";
import { receiptDigest, type Receipt } from "../../protocol/receipt.ts";
import { encodeTensors, hashTensors, type Tensor } from "../../protocol/tensors.ts";
import { CONTENT_HASH, MAX_UINT96, PRICE, channelFixture, channelsDomain, ethers, registerDevice, type Terms } from "./fixtures.ts";
import { DEVICE_WALLET, SLASHER_ROLE } from "./flight-recorder.helpers.ts";
import { typed, type Typed } from "./typed.ts";

export type AnswerDisputes = Typed<typeof answerDisputesAbi>;

export const K = 3;
export const SLASH_BPS = 10_000n;
export const REPORTER_BPS = 2_000n;
export const VERIFIER_BPS = 3_000n;
export const PENALTY_BPS = 5_000n;
export const COMMIT_WINDOW = 3600n;
export const REVEAL_WINDOW = 1800n;
export const REPORTER_BOND = 2_000_000n;
export const VERIFIER_BOND = 1_000_000n;
/** ModelRegistry.ToleranceKind.Relative with 1e-4. */
export const TOLERANCE = { kind: 2, bound: 100_000n };

export const Phase = { None: 0n, Drawing: 1n, Voting: 2n, Resolved: 3n } as const;
export const Outcome = { Pending: 0n, DeviceLost: 1n, ReporterLost: 2n, NoDecision: 3n } as const;
export const SeatState = { Seated: 0n, Committed: 1n, Revealed: 2n, Replaced: 3n } as const;

export const f32 = (dims: number[], values: number[]): Tensor => ({ type: "float32", dims, data: Float32Array.from(values) });
export const INPUTS = { x: f32([1, 4], [1, 2, 3, 4]) };
export const DEVICE_OUTPUTS = { y: f32([1, 3], [0.1, 0.2, 0.7]) };
export const CLAIMED_OUTPUTS = { y: f32([1, 3], [0.7, 0.2, 0.1]) };
export const hex = (t: Record<string, Tensor>): string => hexlify(encodeTensors(t));

export interface Config {
  treasury: string;
  committeeSize: number;
  slashBps: bigint;
  reporterBps: bigint;
  verifierBps: bigint;
  penaltyBps: bigint;
  commitWindow: bigint;
  revealWindow: bigint;
  reporterBond: bigint;
  verifierBond: bigint;
}

export function config(treasury: string, over: Partial<Config> = {}): Config {
  return {
    treasury,
    committeeSize: K,
    slashBps: SLASH_BPS,
    reporterBps: REPORTER_BPS,
    verifierBps: VERIFIER_BPS,
    penaltyBps: PENALTY_BPS,
    commitWindow: COMMIT_WINDOW,
    revealWindow: REVEAL_WINDOW,
    reporterBond: REPORTER_BOND,
    verifierBond: VERIFIER_BOND,
    ...over,
  };
}

/** A funded device key that sends its own transactions (verifiers vote from their device key). */
async function deviceWallet(label: string): Promise<Wallet> {
  const wallet = new Wallet(keccak256(toUtf8Bytes(`answer disputes tests: ${label}`)), ethers.provider);
  const [admin] = await ethers.getSigners();
  await admin!.sendTransaction({ to: wallet.address, value: parseEther("10") });
  return wallet;
}

export interface VerifierAccount {
  owner: Signer;
  device: Wallet;
}

/**
 * The channel fixture plus both dispute contracts, the model's tolerance, and a pool of 7 verifiers: 4 honest ones
 * (owners = Hardhat accounts 10..13), the accused device itself, a second device of the accused's owner, and a device
 * of the reporter (the payer). Only the 4 honest ones may sit on a committee.
 */
export async function disputesFixture() {
  const c = await channelFixture();
  const signers = await ethers.getSigners();
  const treasury = Wallet.createRandom().address;
  const recorder = typed(
    await ethers.deployContract("FlightRecorder", [c.channels, c.devices, treasury, 10_000, 2_000, 24n * 3600n, 1_000_000n]),
    flightRecorderAbi,
  );
  const disputes = typed(
    await ethers.deployContract("AnswerDisputes", [c.channels, c.devices, c.models, recorder, config(treasury)]),
    answerDisputesAbi,
  );
  await c.devices.connect(c.admin).grantRole(SLASHER_ROLE, recorder);
  await c.devices.connect(c.admin).grantRole(SLASHER_ROLE, disputes);
  await c.devices.connect(c.admin).setStakeGuard(disputes);
  await c.models.connect(c.modelOwner).setTolerance(c.modelId, TOLERANCE);

  const enrol = async (owner: Signer, device: Signer, licensed: boolean) => {
    if (!licensed) {
      await c.usdc.faucet(owner, 1_000_000_000n);
      await c.usdc.connect(owner).approve(c.models, MAX_UINT96);
      await c.models.connect(owner).takeLicense(c.modelId, owner, MAX_UINT96);
    }
    if ((await c.devices.getDevice(device).catch(() => undefined)) === undefined) await registerDevice(c, owner, device);
    await c.usdc.connect(owner).approve(disputes, MAX_UINT96);
    await disputes.connect(owner).joinPool(c.modelId, device);
  };
  const honest: VerifierAccount[] = [];
  for (let i = 0; i < 4; i++) {
    const owner = signers[10 + i]!;
    const device = await deviceWallet(`verifier ${i}`);
    await enrol(owner, device, false);
    honest.push({ owner, device });
  }
  const accusedSibling = await deviceWallet("accused owner's second device");
  const reporterDevice = await deviceWallet("reporter's device");
  await enrol(c.provider, c.deviceKey, true);
  await enrol(c.provider, accusedSibling, true);
  await enrol(c.payer, reporterDevice, false);
  await c.usdc.connect(c.payer).approve(disputes, MAX_UINT96);
  const channelsAddress = (await c.channels.getAddress()) as Hex;
  return { ...c, recorder, disputes, treasury, honest, accusedSibling, reporterDevice, channelsAddress };
}

export type DisputesContext = Awaited<ReturnType<typeof disputesFixture>>;

/** A receipt of the fixture channel for `inputs` -> `outputs`. */
export function receiptFor(c: DisputesContext, inputs = INPUTS, outputs = DEVICE_OUTPUTS, over: Partial<Receipt> = {}): Receipt {
  return {
    channelId: c.id as Hex,
    cumulativeAmount: PRICE,
    units: 1n,
    sequence: 1n,
    modelId: c.modelId,
    modelHash: CONTENT_HASH as Hex,
    inputHash: hashTensors(inputs),
    outputHash: hashTensors(outputs),
    previous: ZeroHash as Hex,
    timestamp: 1_800_000_000n,
    ...over,
  };
}

const mutableReceiptTypes = { Receipt: receiptTypes.Receipt.map((f) => ({ ...f })) };

export async function signReceipt(c: DisputesContext, r: Receipt, signer: Signer = DEVICE_WALLET): Promise<string> {
  return signer.signTypedData(channelsDomain(c.chainId, c.channelsAddress), mutableReceiptTypes, r);
}

export function digestOf(c: DisputesContext, r: Receipt): Hex {
  return receiptDigest(r, Number(c.chainId), c.channelsAddress);
}

export interface Evidence {
  receipt: Receipt;
  signature: string;
  terms: Terms;
  inputs: string;
  outputs: string;
  claimedOutputs: string;
}

/** Evidence that the device answered DEVICE_OUTPUTS where CLAIMED_OUTPUTS is right, with `over` applied. */
export async function evidence(c: DisputesContext, over: Partial<Evidence> = {}): Promise<Evidence> {
  const receipt = over.receipt ?? receiptFor(c);
  return {
    receipt,
    signature: await signReceipt(c, receipt),
    terms: c.terms,
    inputs: hex(INPUTS),
    outputs: hex(DEVICE_OUTPUTS),
    claimedOutputs: hex(CLAIMED_OUTPUTS),
    ...over,
  };
}

export const SALT = keccak256(toUtf8Bytes("reporter salt"));

/** keccak256(abi.encode(reporter, evidenceHash, salt)), from protocol/answer-disputes.ts, checked against the contract. */
export async function commitmentOf(c: DisputesContext, reporter: string, ev: Evidence, salt = SALT): Promise<string> {
  const digest = digestOf(c, ev.receipt);
  const onChain = await c.disputes.evidenceHash(digest, ev.claimedOutputs);
  const offChain = evidenceHash(digest, ev.claimedOutputs as Hex);
  if (onChain !== offChain) throw new Error(`evidenceHash differs: contract ${onChain}, protocol ${offChain}`);
  return evidenceCommitment(reporter as Address, offChain, salt as Hex);
}

/** Commits (one block) then returns the open call (the next block); the reporter is the payer unless given. */
export async function commit(c: DisputesContext, ev: Evidence, reporter: Signer = c.payer, salt = SALT) {
  await c.disputes.connect(reporter).commitEvidence(await commitmentOf(c, await reporter.getAddress(), ev, salt));
}

export function voteCommitment(id: string, verifier: string, deviceRight: boolean, salt: string): string {
  return protocolVoteCommitment(id as Hex, verifier as Address, deviceRight, salt as Hex);
}

export const voteSalt = (verifier: string): string => keccak256(toUtf8Bytes(`vote salt ${verifier}`));
