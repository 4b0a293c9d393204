// Fixtures and receipt helpers of the FlightRecorder tests: a market with an open channel, a FlightRecorder holding
// DeviceRegistry's SLASHER_ROLE, and a device key that signs receipts locally.
import { Wallet, ZeroAddress, ZeroHash, keccak256, recoverAddress, toUtf8Bytes, type Signer, type TypedDataDomain } from "ethers";
import type { Hex } from "viem";
import { flightRecorderAbi } from "../../protocol/generated/contracts.ts";
import { receiptTypes } from "../../protocol/eip712.ts";
import { receiptDigest, type Receipt } from "../../protocol/receipt.ts";
import { TEST_KEYS } from "../../scripts/lib/localnet.ts";
import { CONTENT_HASH, MAX_UINT96, PRICE, channelFixture, channelsDomain, ethers, registerDevice, type Deployed } from "./fixtures.ts";
import { typed, type Typed } from "./typed.ts";

export type FlightRecorder = Typed<typeof flightRecorderAbi>;

/** Deployment parameters of the recorder under test. */
export const SLASH_BPS = 10_000;
export const REPORTER_BPS = 5_000;
export const ANSWER_WINDOW = 24n * 3600n;
export const BOND = 1_000_000n;
export const SLASHER_ROLE = keccak256(toUtf8Bytes("SLASHER_ROLE"));

/** Hardhat account 5 is the fixtures' device key; the same key as a local wallet signs receipts fast. */
export const DEVICE_WALLET = new Wallet(TEST_KEYS[5]);
/** A key that is not the fixture device's: another device, or a forger. */
export const OTHER_DEVICE_WALLET = new Wallet(keccak256(toUtf8Bytes("flight recorder tests: another device")));

export interface RecorderParams {
  treasury?: string;
  slashBps?: number;
  reporterBps?: number;
  answerWindow?: bigint;
  bond?: bigint;
}

export async function deployRecorder(d: Deployed, p: RecorderParams = {}): Promise<FlightRecorder> {
  const treasury = p.treasury ?? (await treasuryAccount()).address;
  const contract = await ethers.deployContract("FlightRecorder", [
    d.channels,
    d.devices,
    treasury,
    p.slashBps ?? SLASH_BPS,
    p.reporterBps ?? REPORTER_BPS,
    p.answerWindow ?? ANSWER_WINDOW,
    p.bond ?? BOND,
  ]);
  const recorder = typed(contract, flightRecorderAbi);
  await d.devices.connect(d.admin).grantRole(SLASHER_ROLE, recorder);
  // The registry's stake guard is wired once: the first recorder of a deployment holds stakes.
  if ((await d.devices.stakeGuard()) === ZeroAddress) await d.devices.connect(d.admin).setStakeGuard(recorder);
  return recorder;
}

async function treasuryAccount() {
  const signer = (await ethers.getSigners())[9];
  if (!signer) throw new Error("Hardhat account 9 missing");
  return signer;
}

/** The channel fixture plus a recorder; the payer (the buyer) has approved bonds. */
export async function recorderFixture() {
  const c = await channelFixture();
  const recorder = await deployRecorder(c);
  const treasury = await treasuryAccount();
  await c.usdc.connect(c.payer).approve(recorder, 100n * BOND);
  const channelsAddress = (await c.channels.getAddress()) as Hex;
  return { ...c, recorder, treasury, channelsAddress, chainIdNumber: Number(c.chainId) };
}

export type RecorderContext = Awaited<ReturnType<typeof recorderFixture>>;

/** A second registered device (provider2's deviceKey2) offering the same model. */
export async function addSecondDevice(c: RecorderContext): Promise<void> {
  await c.usdc.connect(c.provider2).approve(c.models, 10_000_000n);
  await c.models.connect(c.provider2).takeLicense(c.modelId, c.provider2, MAX_UINT96);
  await registerDevice(c, c.provider2, c.deviceKey2);
  await c.devices.connect(c.provider2).setOffering(c.deviceKey2, c.modelId, c.usdc, PRICE);
}

export const h = (label: string): Hex => keccak256(toUtf8Bytes(label)) as Hex;

/** A receipt of the fixture channel for sequence `sequence`, with `over` applied. */
export function receiptAt(c: RecorderContext, sequence: bigint, over: Partial<Receipt> = {}): Receipt {
  return {
    channelId: c.id as Hex,
    cumulativeAmount: sequence * PRICE,
    units: 1n,
    sequence,
    modelId: c.modelId,
    modelHash: CONTENT_HASH as Hex,
    inputHash: h(`input ${sequence}`),
    outputHash: h(`output ${sequence}`),
    previous: ZeroHash as Hex,
    timestamp: 1_800_000_000n + sequence,
    ...over,
  };
}

/** `count` hash-chained receipts from `fromSeq`, continuing after the digest `previous`. */
export function receiptChain(c: RecorderContext, fromSeq: bigint, count: number, previous: Hex = ZeroHash as Hex): Receipt[] {
  const out: Receipt[] = [];
  let prev = previous;
  for (let i = 0; i < count; i++) {
    const r = receiptAt(c, fromSeq + BigInt(i), { previous: prev });
    out.push(r);
    prev = digestOf(c, r);
  }
  return out;
}

export function digestOf(c: RecorderContext, r: Receipt): Hex {
  return receiptDigest(r, c.chainIdNumber, c.channelsAddress);
}

const mutableReceiptTypes = { Receipt: receiptTypes.Receipt.map((f) => ({ ...f })) };

/** The receipt signed by `signer` (the device key unless given), under `domain` (the channels domain unless given). */
export async function signReceipt(
  c: RecorderContext,
  r: Receipt,
  signer: Signer = DEVICE_WALLET,
  domain?: TypedDataDomain,
): Promise<string> {
  return signer.signTypedData(domain ?? channelsDomain(c.chainId, c.channelsAddress), mutableReceiptTypes, r);
}

/** The signer a signature recovers to over `digest` (what the contract reports for a wrong signature). */
export function recoverDigest(digest: string, signature: string): string {
  return recoverAddress(digest, signature);
}
