// One simulated life of a device on the market of scripts/lib/immune-market.ts: `calls` paid calls from one buyer,
// each answered wrong with probability `cheatRate` and spot-checked with probability `checkRate`.
//
// What is simulated and what is real:
// - The draws (cheat? check?) come from a seeded generator so runs are reproducible; the buyer client draws with
//   crypto.getRandomValues (protocol/client/spot-check.ts), which a device cannot predict either.
// - An unchecked call moves only the voucher's cumulative amount (nobody looks at its answer). A checked call runs
//   the real Silero VAD model (onnxruntime-node, file hash = the on-chain content hash) for the verifier's reference
//   and, for an honest answer, for the device; a wrong answer is the rogue's lazy mode: it skips the model and
//   returns zeros in the model's output shapes. The two are compared under the model's on-chain tolerance.
// - Money is real: the buyer opens real channels to the device and to its spot-check verifier; the device claims
//   its buyer-signed vouchers (EIP-712, protocol/voucher.ts) every `claimEvery` calls and after its last call; the
//   verifier claims one price per check. Earnings are the device owner's token balance change over its claims.
// - At the first failed check the buyer stops calling (quarantine), builds the dispute evidence from the device's
//   signed receipt of that call (protocol/client/dispute-evidence.ts) and a real dispute is opened, voted by the
//   pool's devices and resolved (scripts/lib/immune-dispute.ts); the slash is the stake read before and after.
//
// The rogue's motive is modelled explicitly: an honest answer costs the device `computeCost` token units (power,
// hardware time); a wrong answer costs nothing. Profit = earned - computeCost x honest answers - stake lost (+ what
// the device owner received from a dispute it won). Gas is left out for both (claims cost the same either way).
import { zeroHash, type Address, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { disputeEvidence } from "../../protocol/client/dispute-evidence.ts";
import { initialVadState, sileroVadInputs } from "../../protocol/client/inputs.ts";
import { channelsDomain, receiptTypes } from "../../protocol/eip712.ts";
import { deviceRegistryAbi, paymentChannelsAbi } from "../../protocol/generated/contracts.ts";
import type { OnnxLocalVerifier } from "../../protocol/node/local-verifier.ts";
import type { Receipt } from "../../protocol/receipt.ts";
import { hashTensors, tensorToWire, type Tensor, type TensorMapWire } from "../../protocol/tensors.ts";
import { compareOutputs } from "../../protocol/tolerance.ts";
import { channelIdOf as channelId, type ChannelTerms } from "../../protocol/terms.ts";
import { signVoucher } from "../../protocol/voucher.ts";
import { runAnswerDispute, type Committee, type DisputeMoney } from "./immune-dispute.ts";
import { openChannel, registerDevice, type ImmuneMarket } from "./immune-market.ts";

export interface RunSpec {
  checkRate: number;
  cheatRate: number;
  calls: number;
  seed: number;
  /** Price per call on the device and on the verifier (token units). */
  price: bigint;
  /** What an honest answer costs the device (token units); a wrong one costs nothing. */
  computeCost: bigint;
  /** The device claims its latest voucher every this many calls (and after its last). */
  claimEvery: number;
}

export interface RunResult {
  seed: number;
  checkRate: number;
  cheatRate: number;
  device: Address;
  /** Calls served (= calls, or the call that was caught). */
  served: number;
  /** 1-based call whose check failed, or null when never caught within the horizon. */
  caughtAt: number | null;
  checks: number;
  wrongAnswers: number;
  /** Wrong answers the buyer received and did not detect (before the catch, or all of them). */
  wrongUndetected: number;
  /** Claimed on the device's channel (what the buyer paid for answers), from getChannel. */
  spend: bigint;
  /** Claimed on the verifier's channel (what the buyer paid for checks), from getChannel. */
  checkSpend: bigint;
  /** Provider share that reached the device owner: its balance change over the device's claims. */
  earned: bigint;
  /** computeCost x honest answers. */
  computeCost: bigint;
  stake: bigint;
  /** Stake before minus stake after the dispute (0 without one). */
  slashed: bigint;
  /** earned - computeCost - slashed + the device owner's receipts from a dispute. */
  profit: bigint;
  dispute?: DisputeSummary;
}

export interface DisputeSummary {
  id: Hex;
  openBlock: string;
  resolveBlock: string;
  outcome: "device_lost" | "reporter_lost" | "no_decision";
  votesWrong: number;
  votesRight: number;
  /** Balance changes over the dispute, read from the chain. */
  reporterDelta: bigint;
  deviceOwnerDelta: bigint;
  verifiersDelta: bigint;
  treasuryDelta: bigint;
  gasUsed: bigint;
  gasByParty: { reporter: bigint; committee: bigint };
}

/** A small, fast, seeded generator (mulberry32): reproducible draws in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** One call's inputs: 512 samples of a tone at a random pitch and level, with noise, from the run's generator. */
function callInputs(random: () => number): Record<string, Tensor> {
  const frame = new Float32Array(512);
  const hz = 80 + random() * 900;
  const level = random() * 0.6;
  const phase = random() * 2 * Math.PI;
  for (let i = 0; i < frame.length; i++) frame[i] = level * Math.sin(phase + (2 * Math.PI * hz * i) / 16_000) + 0.05 * (random() - 0.5);
  return sileroVadInputs(frame, initialVadState());
}

function wire(tensors: Record<string, Tensor>): TensorMapWire {
  return Object.fromEntries(Object.entries(tensors).map(([name, t]) => [name, tensorToWire(t)]));
}

/** The lazy answer: zeros in the model's output shapes, no model run. */
function lazyAnswer(template: Record<string, Tensor>): Record<string, Tensor> {
  return Object.fromEntries(Object.entries(template).map(([name, t]) => [name, { type: t.type, dims: [...t.dims], data: new Float32Array(t.data.length) }]));
}

export async function simulateRun(m: ImmuneMarket, runtime: OnnxLocalVerifier, committee: Committee, spec: RunSpec): Promise<RunResult> {
  const random = seededRandom(spec.seed);
  const run = (inputs: Record<string, Tensor>) => runtime.run(m.modelId, m.modelHash, inputs);
  const template = await run(callInputs(seededRandom(1)));
  const pc = m.chain.publicClient;
  const { paymentChannels } = m.deployment;

  // A fresh device with the minimum stake, and the buyer's channels to it and to its verifier (pool device 0).
  const device = privateKeyToAccount(generatePrivateKey());
  await registerDevice(m, m.deviceOwner, device, m.minStake, spec.price);
  const deposit = BigInt(spec.calls) * spec.price;
  const terms = await openChannel(m, device.address, m.deviceOwner.address, spec.price, deposit);
  const verifier = m.verifiers[0]!;
  const verifierTerms = await openChannel(m, verifier.device.address, verifier.owner.address, spec.price, deposit);

  const voucherFor = (t: ChannelTerms, cumulativeAmount: bigint) =>
    signVoucher(m.buyer, { chainId: m.chain.chainId, paymentChannels, channelId: channelId(t), cumulativeAmount });
  const claim = async (t: ChannelTerms, cumulativeAmount: bigint, sender: typeof m.buyer) => {
    const v = await voucherFor(t, cumulativeAmount);
    await m.send(sender, "claim", { address: paymentChannels, abi: paymentChannelsAbi, functionName: "claim", args: [t, cumulativeAmount, v.signature] });
  };
  const ownerBefore = await m.balance(m.deviceOwner.address);

  let cumulative = 0n;
  let claimed = 0n;
  let checks = 0;
  let wrong = 0;
  let caughtAt: number | null = null;
  let caught: { receipt: Receipt; inputs: Record<string, Tensor>; outputs: Record<string, Tensor>; reference: Record<string, Tensor> } | undefined;
  for (let call = 1; call <= spec.calls; call++) {
    const cheats = random() < spec.cheatRate;
    const checked = random() < spec.checkRate;
    const inputs = callInputs(random);
    cumulative += spec.price;
    if (cheats) wrong++;
    if (checked) {
      checks++;
      const reference = await run(inputs);
      const outputs = cheats ? lazyAnswer(template) : await run(inputs);
      if (!compareOutputs(reference, outputs, m.tolerance).valid) {
        caughtAt = call;
        const receipt: Receipt = {
          channelId: channelId(terms),
          cumulativeAmount: cumulative,
          units: 1n,
          sequence: BigInt(call),
          modelId: m.modelId,
          modelHash: m.modelHash,
          inputHash: hashTensors(inputs),
          outputHash: hashTensors(outputs),
          // The dispute checks the receipt's signature, channel, model and hashes, not the receipt chain.
          previous: zeroHash,
          timestamp: BigInt(Math.floor(Date.now() / 1000)),
        };
        caught = { receipt, inputs, outputs, reference };
        break;
      }
    }
    if (call % spec.claimEvery === 0) {
      await claim(terms, cumulative, m.deviceOwner);
      claimed = cumulative;
    }
  }
  // The device keeps every voucher it was given, the wrong answers' too: it claims the rest.
  if (cumulative > claimed) await claim(terms, cumulative, m.deviceOwner);
  if (checks > 0) await claim(verifierTerms, BigInt(checks) * spec.price, verifier.owner);
  const earned = (await m.balance(m.deviceOwner.address)) - ownerBefore;
  const channelState = (t: ChannelTerms) => pc.readContract({ address: paymentChannels, abi: paymentChannelsAbi, functionName: "getChannel", args: [channelId(t)] });
  const spend = (await channelState(terms)).claimed;
  const checkSpend = (await channelState(verifierTerms)).claimed;

  let dispute: DisputeMoney | undefined;
  if (caught) {
    const signature = await device.signTypedData({ domain: channelsDomain(m.chain.chainId, paymentChannels), types: receiptTypes, primaryType: "Receipt", message: caught.receipt });
    const built = disputeEvidence({ receipt: { ...caught.receipt, signature }, inputs: wire(caught.inputs), outputs: wire(caught.outputs), reference: wire(caught.reference) }, terms);
    if (!built.valid) throw new Error(`dispute evidence of run ${spec.seed}: ${built.reason} (${built.detail})`);
    dispute = await runAnswerDispute(m.chain, m.buyer, built.evidence, committee);
  }
  const stakeNow = (await pc.readContract({ address: m.deployment.deviceRegistry, abi: deviceRegistryAbi, functionName: "getDevice", args: [device.address] })).stake;
  const served = caughtAt ?? spec.calls;
  const computeCost = BigInt(served - wrong) * spec.computeCost;
  const slashed = dispute ? dispute.stakeBefore - dispute.stakeAfter : m.minStake - stakeNow;
  const deviceOwnerFromDispute = dispute?.deviceOwnerDelta ?? 0n;
  return {
    seed: spec.seed,
    checkRate: spec.checkRate,
    cheatRate: spec.cheatRate,
    device: device.address,
    served,
    caughtAt,
    checks,
    wrongAnswers: wrong,
    wrongUndetected: caughtAt === null ? wrong : wrong - 1,
    spend,
    checkSpend,
    earned,
    computeCost,
    stake: m.minStake,
    slashed,
    profit: earned - computeCost - slashed + deviceOwnerFromDispute,
    ...(dispute ? { dispute: summarize(dispute, m.buyer.address) } : {}),
  };
}

function summarize(d: DisputeMoney, reporter: Address): DisputeSummary {
  const r = d.resolution;
  const gasOf = (mine: boolean) => d.gas.filter((g) => (g.from.toLowerCase() === reporter.toLowerCase()) === mine).reduce((a, g) => a + g.gasUsed, 0n);
  return {
    id: d.dispute.id,
    openBlock: d.dispute.openBlock.toString(),
    resolveBlock: r.block.toString(),
    outcome: r.outcome === 1 ? "device_lost" : r.outcome === 2 ? "reporter_lost" : "no_decision",
    votesWrong: Number(r.votesWrong),
    votesRight: Number(r.votesRight),
    reporterDelta: d.reporterDelta,
    deviceOwnerDelta: d.deviceOwnerDelta,
    verifiersDelta: d.verifierOwnerDeltas.reduce((a, v) => a + v.delta, 0n),
    treasuryDelta: d.treasuryDelta,
    gasUsed: d.gas.reduce((a, g) => a + g.gasUsed, 0n),
    gasByParty: { reporter: gasOf(true), committee: gasOf(false) },
  };
}
