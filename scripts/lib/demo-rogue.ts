// The demo's rogue (`npm run demo -- --rogue <p>`): one more device serving the VAD model whose answers are off by
// 0.05 on a share p of calls (worker/models/fault.ts, through startWorker's programmatic faults, in this process),
// and what happens to it: the buyers spot-check, the one that catches it opens a dispute on AnswerDisputes with the
// failed check's evidence, the demo's honest devices sit as the committee (their votes are cast by this script with
// their device keys, after re-running the model; no worker votes by itself yet), and the dispute is resolved.
import { appendFileSync, readFileSync } from "node:fs";
import { createWalletClient, http, toHex, type Address, type Hex, type LocalAccount } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { disputeEvidence } from "../../protocol/client/dispute-evidence.ts";
import type { SpotCheckRecord } from "../../protocol/client/spot-check-records.ts";
import { answerDisputesAbi, deviceRegistryAbi, modelRegistryAbi, testUsdcAbi } from "../../protocol/generated/contracts.ts";
import { OnnxLocalVerifier } from "../../protocol/node/local-verifier.ts";
import type { ChannelTerms } from "../../protocol/terms.ts";
import { compareOutputs, toleranceFromChain } from "../../protocol/tolerance.ts";
import type { WorkerConfig } from "../../worker/config.ts";
import { unlockKeystore } from "../../worker/keystore.ts";
import { startWorker, type RunningWorker } from "../../worker/service.ts";
import { openAnswerDispute, resolveAnswerDispute, voteAsCommittee, type DisputeChain, type OpenedDispute, type Resolution } from "./immune-dispute.ts";
import { provisionDevice, sendTx, type Marketplace, type ProvisionedDevice, type PublishedModel } from "./marketplace.ts";

/** How far off a wrong answer is: far outside the 1e-4 tolerance, small enough to look like a plausible output. */
export const ROGUE_DELTA = 0.05;
/** Absolute 1e-4 (registry units of 1e-9), set on the VAD model when it has no tolerance, as the spot-check tests do. */
const DEMO_TOLERANCE = { kind: 1, bound: 100_000n } as const;

export interface Rogue extends ProvisionedDevice {
  label: string;
  probability: number;
  worker: RunningWorker;
}

/** Registers the rogue device (its own owner, so it is never on its own committee) and starts its faulty worker. */
export async function startRogue(
  m: Marketplace,
  args: { ownerKey: Hex; dataDir: string; port: number; model: PublishedModel; price: bigint; probability: number; logFile: string; settlement: WorkerConfig["settlement"] },
): Promise<Rogue> {
  const device = await provisionDevice(m, {
    ownerKey: args.ownerKey,
    dataDir: args.dataDir,
    port: args.port,
    offerings: [{ model: args.model, price: args.price }],
    metadata: { name: "edge-rogue" },
    settlement: args.settlement,
  });
  const config = JSON.parse(readFileSync(device.configFile, "utf8")) as WorkerConfig;
  const worker = await startWorker(config, {
    faults: { outputs: { probability: args.probability, delta: ROGUE_DELTA } },
    log: (level, msg) => appendFileSync(args.logFile, `${new Date().toISOString()} ${level} ${msg}\n`),
  });
  return { ...device, label: "edge-rogue", probability: args.probability, worker };
}

/** AnswerDisputes of this deployment: the registry's stake guard (ignition/modules/core.ts wires it so), if it is one. */
export async function answerDisputesOf(m: Marketplace): Promise<Address | undefined> {
  const guard = await m.publicClient.readContract({ address: m.contracts.deviceRegistry, abi: deviceRegistryAbi, functionName: "stakeGuard" });
  if (/^0x0{40}$/i.test(guard)) return undefined;
  try {
    await m.publicClient.readContract({ address: guard, abi: answerDisputesAbi, functionName: "committeeSize" });
    return guard;
  } catch {
    return undefined;
  }
}

/** Gives the model the demo tolerance when it has none (exact), so checks and the chain judge alike. */
export async function ensureTolerance(m: Marketplace, model: PublishedModel, ownerKey: Hex): Promise<{ kind: string; bound: bigint; changed: boolean }> {
  const current = toleranceFromChain(await m.publicClient.readContract({ address: m.contracts.modelRegistry, abi: modelRegistryAbi, functionName: "toleranceOf", args: [model.modelId] }));
  if (current.kind !== "exact") return { ...current, changed: false };
  await sendTx(m, ownerKey, `set the tolerance of model ${model.modelId}`, { address: m.contracts.modelRegistry, abi: modelRegistryAbi, functionName: "setTolerance", args: [model.modelId, DEMO_TOLERANCE] });
  return { kind: "absolute", bound: DEMO_TOLERANCE.bound, changed: true };
}

/** The honest devices join the model's verifier pool (owner approves and pays the verifier bond). */
export async function joinPool(m: Marketplace, disputes: Address, modelId: bigint, members: { device: Address; ownerKey: Hex }[]) {
  for (const member of members) {
    const v = await m.publicClient.readContract({ address: disputes, abi: answerDisputesAbi, functionName: "getVerifier", args: [modelId, member.device] });
    if (v.owner !== "0x0000000000000000000000000000000000000000") continue;
    await sendTx(m, member.ownerKey, "approve the verifier bond", { address: m.contracts.token, abi: testUsdcAbi, functionName: "approve", args: [disputes, 2n ** 200n] });
    await sendTx(m, member.ownerKey, `join the verifier pool of model ${modelId}`, { address: disputes, abi: answerDisputesAbi, functionName: "joinPool", args: [modelId, member.device] });
  }
}

export function disputeChain(m: Marketplace, disputes: Address, treasury: Address): DisputeChain {
  const rpc = (method: string, params: unknown[]) => m.publicClient.request({ method, params } as never);
  return {
    publicClient: m.publicClient,
    chainId: m.chain.id,
    walletOf: (account: LocalAccount) => createWalletClient({ account, chain: m.chain, transport: http(m.rpcUrl) }),
    paymentChannels: m.contracts.paymentChannels,
    answerDisputes: disputes,
    deviceRegistry: m.contracts.deviceRegistry,
    token: m.contracts.token,
    treasury,
    advance: async (seconds) => {
      await rpc("evm_increaseTime", [toHex(seconds)]);
      await rpc("evm_mine", []);
    },
    mine: async () => void (await rpc("evm_mine", [])),
  };
}

/** The reporter (the buyer that caught the rogue) approves its bond and opens the dispute from the failed check. */
export async function openRogueDispute(m: Marketplace, chain: DisputeChain, reporterKey: Hex, check: SpotCheckRecord, terms: ChannelTerms): Promise<OpenedDispute> {
  if (!check.evidence) throw new Error(`spot check ${check.id} kept no evidence`);
  const built = disputeEvidence(check.evidence, terms);
  if (!built.valid) throw new Error(`dispute evidence of ${check.id}: ${built.reason} (${built.detail})`);
  await sendTx(m, reporterKey, "approve the reporter bond", { address: m.contracts.token, abi: testUsdcAbi, functionName: "approve", args: [chain.answerDisputes, 2n ** 200n] });
  return openAnswerDispute(chain, privateKeyToAccount(reporterKey), built.evidence);
}

/**
 * The committee: each seated honest device re-runs the model with onnxruntime-node (file hash = on-chain hash) on
 * the open transaction's inputs and votes with its own device key; then the reporter resolves. Run after the
 * workers stopped, so their settlers and these votes never race for the device key's nonces.
 */
export async function decideRogueDispute(
  chain: DisputeChain,
  opened: OpenedDispute,
  reporterKey: Hex,
  model: PublishedModel,
  committeeDataDirs: string[],
): Promise<{ resolution: Resolution; votes: { verifier: Address; owner: Address; deviceRight: boolean }[] }> {
  const runtime = new OnnxLocalVerifier({ files: { [model.modelId.toString()]: model.file } });
  try {
    const tolerance = toleranceFromChain(
      await chain.publicClient.readContract({ address: (await modelRegistryOf(chain)) as Address, abi: modelRegistryAbi, functionName: "toleranceOf", args: [model.modelId] }),
    );
    const keys = new Map(committeeDataDirs.map((dir) => {
      const k = privateKeyToAccount(unlockKeystore(dir).privateKey);
      return [k.address.toLowerCase(), k] as const;
    }));
    const judge = async (modelId: bigint, inputs: Parameters<typeof runtime.run>[2], outputs: Parameters<typeof runtime.run>[2]) =>
      compareOutputs(await runtime.run(modelId, model.contentHash, inputs), outputs, tolerance).valid;
    const reporter = privateKeyToAccount(reporterKey);
    const { votes } = await voteAsCommittee(chain, opened, { keys, judge }, reporter);
    const { resolution } = await resolveAnswerDispute(chain, opened.id, reporter);
    return { resolution, votes };
  } finally {
    await runtime.release();
  }
}

async function modelRegistryOf(chain: DisputeChain): Promise<Address> {
  return chain.publicClient.readContract({ address: chain.answerDisputes, abi: answerDisputesAbi, functionName: "modelRegistry" });
}
