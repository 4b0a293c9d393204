// The market `npm run immune` simulates on: a fresh local chain with the real contracts (scripts/lib/deploy.ts), the
// real Silero VAD model published with an absolute 1e-4 tolerance, a buyer, four verifier devices of four owners in
// the model's AnswerDisputes pool (one of them also the buyer's paid spot-check verifier), and owners for the
// simulated devices, which are registered fresh (new key, full stake) for every run.
import { createPublicClient, createWalletClient, http, parseEther, parseEventLogs, toHex, type Address, type Chain, type Hex, type LocalAccount, type PublicClient } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { hardhat } from "viem/chains";
import { deviceBindingTypes, deviceRegistryDomain } from "../../protocol/eip712.ts";
import { answerDisputesAbi, deviceRegistryAbi, modelRegistryAbi, paymentChannelsAbi, testUsdcAbi } from "../../protocol/generated/contracts.ts";
import { toleranceFromChain, type Tolerance } from "../../protocol/tolerance.ts";
import type { ChannelTerms } from "../../protocol/terms.ts";
import { SILERO_VAD_V5 } from "../../worker/models/demo.ts";
import type { LocalDeployment } from "./deploy.ts";
import type { DisputeChain } from "./immune-dispute.ts";
import { TEST_KEYS } from "./localnet.ts";
import { sha256OfFile } from "./marketplace.ts";

/** Who plays which part (Hardhat test keys; account 0 deployed and is the treasury). */
export const IMMUNE_ROLES = { treasury: 0, modelOwner: 1, buyer: 2, deviceOwner: 3, verifierOwners: [4, 5, 6, 7], funder: 9 } as const;
const FAUCET_LIMIT = 10_000_000_000n;
const FAR = 2n ** 40n;
/** Absolute 1e-4 in the registry's 1e-9 units: what the spot checks and the chain compare under. */
const TOLERANCE_BOUND = 100_000n;

export interface ImmuneMarket {
  chain: DisputeChain;
  deployment: LocalDeployment & { answerDisputes: Address };
  modelId: bigint;
  modelHash: Hex;
  modelFile: string;
  royaltyBps: number;
  tolerance: Tolerance;
  minStake: bigint;
  buyer: LocalAccount;
  deviceOwner: LocalAccount;
  /** The pool: device keys (they vote) and owners (they are paid). */
  verifiers: { device: LocalAccount; owner: LocalAccount }[];
  send(account: LocalAccount, what: string, request: Record<string, unknown>): Promise<{ blockNumber: bigint; logs: readonly { topics: readonly Hex[]; data: Hex; address: Address }[] }>;
  balance(who: Address): Promise<bigint>;
}

export async function setupImmuneMarket(rpcUrl: string, deployment: LocalDeployment, price: bigint): Promise<ImmuneMarket> {
  if (!deployment.answerDisputes) throw new Error("this deployment has no AnswerDisputes; redeploy (npm run deploy:local)");
  const transport = http(rpcUrl);
  const probe = createPublicClient({ transport });
  const chainId = await probe.getChainId();
  const viemChain = { ...hardhat, id: chainId, rpcUrls: { default: { http: [rpcUrl] } } } as Chain;
  const publicClient = createPublicClient({ chain: viemChain, transport, pollingInterval: 20 }) as PublicClient;
  const walletOf = (account: LocalAccount) => createWalletClient({ account, chain: viemChain, transport });
  const rpc = (method: string, params: unknown[]) => publicClient.request({ method, params } as never);
  const d = { ...deployment, answerDisputes: deployment.answerDisputes };

  const send: ImmuneMarket["send"] = async (account, what, request) => {
    const hash = await walletOf(account).writeContract({ account, chain: viemChain, ...request } as never);
    const receipt = await publicClient.waitForTransactionReceipt({ hash, pollingInterval: 20 });
    if (receipt.status !== "success") throw new Error(`${what}: transaction ${hash} reverted`);
    return receipt;
  };
  const balance = (who: Address) => publicClient.readContract({ address: d.token, abi: testUsdcAbi, functionName: "balanceOf", args: [who] });
  const key = (i: number) => privateKeyToAccount(TEST_KEYS[i]!);
  const fund = async (account: LocalAccount, amount: bigint) => {
    for (let left = amount; left > 0n; left -= left > FAUCET_LIMIT ? FAUCET_LIMIT : left) {
      await send(account, "faucet", { address: d.token, abi: testUsdcAbi, functionName: "faucet", args: [account.address, left > FAUCET_LIMIT ? FAUCET_LIMIT : left] });
    }
  };
  const approveAll = async (account: LocalAccount) => {
    for (const spender of [d.deviceRegistry, d.paymentChannels, d.answerDisputes]) {
      await send(account, "approve", { address: d.token, abi: testUsdcAbi, functionName: "approve", args: [spender, 2n ** 200n] });
    }
  };

  // The model: the real Silero VAD file, royalty 10 %, no license fee, absolute 1e-4 tolerance.
  const modelOwner = key(IMMUNE_ROLES.modelOwner);
  const modelHash = sha256OfFile(SILERO_VAD_V5);
  const published = await send(modelOwner, "publish", {
    address: d.modelRegistry,
    abi: modelRegistryAbi,
    functionName: "publish",
    args: [{ name: "Silero VAD v5 (immune sim)", contentHash: modelHash, uri: "npm:@ricky0123/vad-web@0.0.31/dist/silero_vad_v5.onnx", royaltyBps: 1_000, licenseToken: d.token, licenseFee: 0n }],
  });
  const [event] = parseEventLogs({ abi: modelRegistryAbi, eventName: "ModelPublished", logs: published.logs as never });
  const modelId = event!.args.modelId!;
  await send(modelOwner, "setTolerance", { address: d.modelRegistry, abi: modelRegistryAbi, functionName: "setTolerance", args: [modelId, { kind: 1, bound: TOLERANCE_BOUND }] });
  const tolerance = toleranceFromChain(await publicClient.readContract({ address: d.modelRegistry, abi: modelRegistryAbi, functionName: "toleranceOf", args: [modelId] }));
  const minStake = await publicClient.readContract({ address: d.deviceRegistry, abi: deviceRegistryAbi, functionName: "minStake" });

  const buyer = key(IMMUNE_ROLES.buyer);
  await fund(buyer, 100_000_000_000n);
  await approveAll(buyer);
  const deviceOwner = key(IMMUNE_ROLES.deviceOwner);
  await fund(deviceOwner, 100_000_000_000n);
  await approveAll(deviceOwner);
  await send(deviceOwner, "takeLicense", { address: d.modelRegistry, abi: modelRegistryAbi, functionName: "takeLicense", args: [modelId, deviceOwner.address, 0n] });

  const market: ImmuneMarket = {
    chain: {
      publicClient,
      chainId,
      walletOf: (account) => walletOf(account),
      paymentChannels: d.paymentChannels,
      answerDisputes: d.answerDisputes,
      deviceRegistry: d.deviceRegistry,
      token: d.token,
      treasury: key(IMMUNE_ROLES.treasury).address,
      advance: async (seconds) => {
        await rpc("evm_increaseTime", [toHex(seconds)]);
        await rpc("evm_mine", []);
      },
      mine: async () => void (await rpc("evm_mine", [])),
    },
    deployment: d,
    modelId,
    modelHash,
    modelFile: SILERO_VAD_V5,
    royaltyBps: 1_000,
    tolerance,
    minStake,
    buyer,
    deviceOwner,
    verifiers: [],
    send,
    balance,
  };

  // The verifier pool: four owners with one device each, registered with the minimum stake, licensed, joined with
  // the verifier bond; their device keys get ETH for their votes.
  const funder = key(IMMUNE_ROLES.funder);
  for (const index of IMMUNE_ROLES.verifierOwners) {
    const owner = key(index);
    await fund(owner, 1_000_000_000n);
    await approveAll(owner);
    await send(owner, "takeLicense", { address: d.modelRegistry, abi: modelRegistryAbi, functionName: "takeLicense", args: [modelId, owner.address, 0n] });
    const device = privateKeyToAccount(generatePrivateKey());
    // Offering the model at the simulated price: pool device 0 is also the buyer's paid spot-check verifier.
    await registerDevice(market, owner, device, minStake, price);
    const hash = await walletOf(funder).sendTransaction({ account: funder, chain: viemChain, to: device.address, value: parseEther("10") });
    await publicClient.waitForTransactionReceipt({ hash, pollingInterval: 20 });
    await send(owner, "joinPool", { address: d.answerDisputes, abi: answerDisputesAbi, functionName: "joinPool", args: [modelId, device.address] });
    market.verifiers.push({ device, owner });
  }
  return market;
}

/** Registers `device` for `owner` with `stake` (the device key signs the binding). */
export async function registerDevice(m: ImmuneMarket, owner: LocalAccount, device: LocalAccount, stake: bigint, price?: bigint) {
  const d = m.deployment;
  const signature = await device.signTypedData({
    domain: deviceRegistryDomain(m.chain.chainId, d.deviceRegistry),
    types: deviceBindingTypes,
    primaryType: "DeviceBinding",
    message: { device: device.address, owner: owner.address, deadline: FAR },
  });
  await m.send(owner, "register", { address: d.deviceRegistry, abi: deviceRegistryAbi, functionName: "register", args: [device.address, "http://sim.invalid", "{}", stake, FAR, signature] });
  if (price !== undefined) await offer(m, owner, device.address, price);
}

export async function offer(m: ImmuneMarket, owner: LocalAccount, device: Address, price: bigint) {
  await m.send(owner, "setOffering", { address: m.deployment.deviceRegistry, abi: deviceRegistryAbi, functionName: "setOffering", args: [device, m.modelId, m.deployment.token, price] });
}

/** Opens a channel from the buyer to `device` (the buyer signs its own vouchers), returning its terms. */
export async function openChannel(m: ImmuneMarket, device: Address, payee: Address, price: bigint, deposit: bigint): Promise<ChannelTerms> {
  const terms: ChannelTerms = {
    payer: m.buyer.address,
    signer: m.buyer.address,
    device,
    payee,
    token: m.deployment.token,
    modelId: m.modelId,
    price,
    royaltyBps: m.royaltyBps,
    salt: BigInt(Date.now()) * 1_000_000n + BigInt(Math.floor(Math.random() * 1e6)),
  };
  await m.send(m.buyer, "open", { address: m.deployment.paymentChannels, abi: paymentChannelsAbi, functionName: "open", args: [terms, deposit] });
  return terms;
}
