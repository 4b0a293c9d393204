// On-chain setup of a device by its owner (the `register` command, also used by test fixtures): licenses for the
// models, device registration with stake and the device key's binding signature, offerings, and a little ETH
// for the device key so it can send its own claims.
import {
  createPublicClient,
  createWalletClient,
  http,
  parseEther,
  type Address,
  type Chain,
  type Hex,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { deviceBindingTypes, deviceRegistryDomain } from "@edgepay/protocol/eip712";
import { deviceRegistryAbi, modelRegistryAbi, testUsdcAbi } from "@edgepay/protocol/generated/contracts";
import type { Contracts } from "./config.ts";

export interface DeviceBinding {
  device: Address;
  owner: Address;
  deadline: bigint;
  signature: Hex;
}

/** The device key's EIP-712 DeviceBinding signature the owner submits with `register`. */
export async function signDeviceBinding(args: {
  devicePrivateKey: Hex;
  owner: Address;
  chainId: number;
  deviceRegistry: Address;
  deadline: bigint;
}): Promise<DeviceBinding> {
  const account = privateKeyToAccount(args.devicePrivateKey);
  const signature = await account.signTypedData({
    domain: deviceRegistryDomain(args.chainId, args.deviceRegistry),
    types: deviceBindingTypes,
    primaryType: "DeviceBinding",
    message: { device: account.address, owner: args.owner, deadline: args.deadline },
  });
  return { device: account.address, owner: args.owner, deadline: args.deadline, signature };
}

export interface RegisterArgs {
  rpcUrl: string;
  contracts: Contracts;
  ownerKey: Hex;
  devicePrivateKey: Hex;
  endpoint: string;
  metadata?: string;
  /** Stake to register with; default the registry's minimum. */
  stake?: bigint;
  /** Offerings to set (price per inference in token units). */
  models: { modelId: bigint; price?: bigint }[];
  /** ETH to send the device key when its balance is below half of it (0 to skip). */
  fundEth?: string;
  log?: (line: string) => void;
}

export interface RegisterResult {
  device: Address;
  owner: Address;
  registered: boolean;
  licensed: bigint[];
  offerings: { modelId: bigint; price: bigint }[];
  funded: bigint;
}

export async function registerDevice(args: RegisterArgs): Promise<RegisterResult> {
  const log = args.log ?? (() => undefined);
  const transport = http(args.rpcUrl);
  const publicClient = createPublicClient({ transport });
  const chainId = await publicClient.getChainId();
  const chain = { id: chainId, name: `chain-${chainId}`, nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 }, rpcUrls: { default: { http: [args.rpcUrl] } } } as Chain;
  const owner = privateKeyToAccount(args.ownerKey);
  const wallet = createWalletClient({ account: owner, chain, transport });
  const device = privateKeyToAccount(args.devicePrivateKey).address;
  const { deviceRegistry, modelRegistry, token } = args.contracts;
  const send = async (what: string, hash: Promise<Hex>) => {
    const receipt = await publicClient.waitForTransactionReceipt({ hash: await hash });
    if (receipt.status !== "success") throw new Error(`${what} reverted (${receipt.transactionHash})`);
    log(`${what}: ${receipt.transactionHash}`);
  };
  const ensureAllowance = async (erc20: Address, spender: Address, amount: bigint) => {
    const allowance = await publicClient.readContract({ address: erc20, abi: testUsdcAbi, functionName: "allowance", args: [owner.address, spender] });
    if (allowance < amount) await send(`approve ${amount} to ${spender}`, wallet.writeContract({ address: erc20, abi: testUsdcAbi, functionName: "approve", args: [spender, amount] }));
  };

  const licensed: bigint[] = [];
  for (const m of args.models) {
    const has = await publicClient.readContract({ address: modelRegistry, abi: modelRegistryAbi, functionName: "hasLicense", args: [m.modelId, owner.address] });
    if (has) continue;
    const model = await publicClient.readContract({ address: modelRegistry, abi: modelRegistryAbi, functionName: "getModel", args: [m.modelId] });
    if (model.licenseFee > 0n) await ensureAllowance(model.licenseToken, modelRegistry, model.licenseFee);
    await send(`license model ${m.modelId}`, wallet.writeContract({ address: modelRegistry, abi: modelRegistryAbi, functionName: "takeLicense", args: [m.modelId, owner.address, model.licenseFee] }));
    licensed.push(m.modelId);
  }

  const record = await publicClient
    .readContract({ address: deviceRegistry, abi: deviceRegistryAbi, functionName: "getDevice", args: [device] })
    .catch((error: unknown) => {
      if (String((error as Error).message).includes("DeviceNotFound")) return undefined;
      throw error;
    });
  let registered = false;
  if (!record) {
    const stake = args.stake ?? BigInt(await publicClient.readContract({ address: deviceRegistry, abi: deviceRegistryAbi, functionName: "minStake" }));
    const stakeToken = await publicClient.readContract({ address: deviceRegistry, abi: deviceRegistryAbi, functionName: "stakeToken" });
    if (stake > 0n) await ensureAllowance(stakeToken, deviceRegistry, stake);
    const block = await publicClient.getBlock();
    const binding = await signDeviceBinding({ devicePrivateKey: args.devicePrivateKey, owner: owner.address, chainId, deviceRegistry, deadline: block.timestamp + 3600n });
    await send(
      `register device ${device}`,
      wallet.writeContract({
        address: deviceRegistry,
        abi: deviceRegistryAbi,
        functionName: "register",
        args: [device, args.endpoint, args.metadata ?? "{}", stake, binding.deadline, binding.signature],
      }),
    );
    registered = true;
  } else if (record.owner.toLowerCase() !== owner.address.toLowerCase()) {
    throw new Error(`device ${device} is registered to ${record.owner}, not to ${owner.address}`);
  } else if (record.endpoint !== args.endpoint) {
    await send(`update endpoint to ${args.endpoint}`, wallet.writeContract({ address: deviceRegistry, abi: deviceRegistryAbi, functionName: "updateDevice", args: [device, args.endpoint, record.metadata] }));
  }

  const offerings: { modelId: bigint; price: bigint }[] = [];
  for (const m of args.models) {
    if (m.price === undefined) continue;
    const current = await publicClient.readContract({ address: deviceRegistry, abi: deviceRegistryAbi, functionName: "offeringPrice", args: [device, m.modelId, token] });
    if (BigInt(current) !== m.price) {
      await send(`offer model ${m.modelId} at ${m.price}`, wallet.writeContract({ address: deviceRegistry, abi: deviceRegistryAbi, functionName: "setOffering", args: [device, m.modelId, token, m.price] }));
    }
    offerings.push({ modelId: m.modelId, price: m.price });
  }

  let funded = 0n;
  const want = parseEther(args.fundEth ?? "0");
  if (want > 0n) {
    const balance = await publicClient.getBalance({ address: device });
    if (balance < want / 2n) {
      await send(`send ${args.fundEth} ETH to device`, wallet.sendTransaction({ to: device, value: want - balance }));
      funded = want - balance;
    }
  }
  return { device, owner: owner.address, registered, licensed, offerings, funded };
}
