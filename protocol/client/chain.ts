// The buyer's on-chain side: open (approve or EIP-2612 permit), top up, request close, withdraw, cooperative
// close, and reading channels back from ChannelOpened logs. Every write is simulated first so a revert surfaces as
// the contract's decoded custom error before any gas is spent.
import {
  getAddress,
  isAddressEqual,
  parseEventLogs,
  parseSignature,
  type Log,
  type Account,
  type Address,
  type Chain,
  type Hex,
  type PublicClient,
  type Transport,
  type WalletClient,
} from "viem";
import { getEip712Domain } from "viem/actions";
import { deviceRegistryAbi, modelRegistryAbi, paymentChannelsAbi, testUsdcAbi } from "../generated/contracts.ts";
import { getContractEventsPaged } from "../paged-logs.ts";
import { channelIdOf, type ChannelTerms } from "../terms.ts";
import { EdgepayClientError, describeContractError } from "./errors.ts";
import { permitTypes } from "../eip712.ts";
import { toleranceFromChain, type Tolerance } from "../tolerance.ts";

export type BuyerWallet = WalletClient<Transport, Chain | undefined, Account>;

export interface ChainContext {
  publicClient: PublicClient;
  paymentChannels: Address;
  /** Blocks per eth_getLogs in scans (default DEFAULT_LOG_RANGE). */
  getLogsRange?: number;
}

export interface Registries {
  deviceRegistry: Address;
  modelRegistry: Address;
}

/** The registries PaymentChannels was deployed against (its immutables), so one address configures a client. */
export async function readRegistries(ctx: ChainContext): Promise<Registries> {
  const [deviceRegistry, modelRegistry] = await Promise.all([
    ctx.publicClient.readContract({ address: ctx.paymentChannels, abi: paymentChannelsAbi, functionName: "deviceRegistry" }),
    ctx.publicClient.readContract({ address: ctx.paymentChannels, abi: paymentChannelsAbi, functionName: "modelRegistry" }),
  ]);
  return { deviceRegistry, modelRegistry };
}

/** The on-chain values a channel's terms must carry for (device, model, token) right now. */
export async function readOfferingTerms(ctx: ChainContext, registries: Registries, device: Address, modelId: bigint, token: Address) {
  try {
    const [[payee, price], [, royaltyBps]] = await Promise.all([
      ctx.publicClient.readContract({ address: registries.deviceRegistry, abi: deviceRegistryAbi, functionName: "channelTerms", args: [device, modelId, token] }),
      ctx.publicClient.readContract({ address: registries.modelRegistry, abi: modelRegistryAbi, functionName: "channelTerms", args: [modelId] }),
    ]);
    return { payee, price, royaltyBps };
  } catch (error) {
    throw new EdgepayClientError("offering_mismatch", `device ${device} cannot take channels for model ${modelId}: ${describeContractError(error)}`, { cause: error });
  }
}

/** sha256 content hash of a model as published in the ModelRegistry. */
export async function readModelHash(ctx: ChainContext, registries: Registries, modelId: bigint): Promise<Hex> {
  const model = await ctx.publicClient.readContract({ address: registries.modelRegistry, abi: modelRegistryAbi, functionName: "getModel", args: [modelId] });
  return model.contentHash;
}

/** The model's declared output tolerance (ModelRegistry.toleranceOf); exact bytes when none was declared. */
export async function readTolerance(ctx: ChainContext, registries: Registries, modelId: bigint): Promise<Tolerance> {
  const t = await ctx.publicClient.readContract({ address: registries.modelRegistry, abi: modelRegistryAbi, functionName: "toleranceOf", args: [modelId] });
  return toleranceFromChain({ kind: t.kind, bound: t.bound });
}

export interface ChannelState {
  deposit: bigint;
  claimed: bigint;
  /** Unix seconds when the challenge period ends; 0 when no close was requested. */
  closesAt: bigint;
  settled: boolean;
}

export async function readChannel(ctx: ChainContext, channelId: Hex): Promise<ChannelState> {
  const c = await ctx.publicClient.readContract({ address: ctx.paymentChannels, abi: paymentChannelsAbi, functionName: "getChannel", args: [channelId] });
  return { deposit: c.deposit, claimed: c.claimed, closesAt: BigInt(c.closesAt), settled: c.settled };
}

export type Approval = "approve" | "permit";

/**
 * Opens a channel from `wallet` (the payer) with `deposit`, pulling the deposit with an allowance (approving
 * first when the allowance is short) or with an EIP-2612 permit signed by the wallet.
 */
export async function openChannel(ctx: ChainContext, wallet: BuyerWallet, terms: ChannelTerms, deposit: bigint, approval: Approval = "approve") {
  assertPayer(wallet, terms);
  const channelId = channelIdOf(terms);
  let tx: Sent;
  if (approval === "permit") {
    const permit = await signPermit(ctx, wallet, terms.token, deposit);
    tx = await write(ctx, wallet, "openWithPermit", [terms, deposit, permit.deadline, permit.v, permit.r, permit.s]);
  } else {
    await ensureAllowance(ctx, wallet, terms.token, deposit);
    tx = await write(ctx, wallet, "open", [terms, deposit]);
  }
  // The event of the mined transaction is the authoritative deposit (a fee-on-transfer token credits less).
  const opened = parseEventLogs({ abi: paymentChannelsAbi, logs: tx.logs, eventName: "ChannelOpened" })[0];
  if (!opened) throw new EdgepayClientError("transaction_failed", `open ${tx.hash} emitted no ChannelOpened event`);
  return { channelId, hash: tx.hash, deposit: opened.args.deposit };
}

export async function topUpChannel(ctx: ChainContext, wallet: BuyerWallet, terms: ChannelTerms, amount: bigint, approval: Approval = "approve") {
  let tx: Sent;
  if (approval === "permit") {
    const permit = await signPermit(ctx, wallet, terms.token, amount);
    tx = await write(ctx, wallet, "topUpWithPermit", [terms, amount, permit.deadline, permit.v, permit.r, permit.s]);
  } else {
    await ensureAllowance(ctx, wallet, terms.token, amount);
    tx = await write(ctx, wallet, "topUp", [terms, amount]);
  }
  const topped = parseEventLogs({ abi: paymentChannelsAbi, logs: tx.logs, eventName: "ChannelToppedUp" })[0];
  if (!topped) throw new EdgepayClientError("transaction_failed", `topUp ${tx.hash} emitted no ChannelToppedUp event`);
  return { hash: tx.hash, deposit: topped.args.deposit };
}

export async function requestCloseChannel(ctx: ChainContext, wallet: BuyerWallet, terms: ChannelTerms): Promise<Hex> {
  assertPayer(wallet, terms);
  return (await write(ctx, wallet, "requestClose", [terms])).hash;
}

export async function withdrawChannel(ctx: ChainContext, wallet: BuyerWallet, terms: ChannelTerms): Promise<Hex> {
  return (await write(ctx, wallet, "withdraw", [terms])).hash;
}

export async function closeChannelCooperatively(ctx: ChainContext, wallet: BuyerWallet, terms: ChannelTerms, amount: bigint, deviceSignature: Hex): Promise<Hex> {
  assertPayer(wallet, terms);
  return (await write(ctx, wallet, "closeCooperatively", [terms, amount, deviceSignature])).hash;
}

export interface ChannelListing {
  channelId: Hex;
  terms: ChannelTerms;
  state: ChannelState;
  /** open: usable; closing: in its challenge period; withdrawable: the period is over; settled: done. */
  status: "open" | "closing" | "withdrawable" | "settled";
  openedAtBlock: bigint;
}

/** Every channel `payer` opened, from ChannelOpened logs, with its current state. */
export async function listChannelsOf(ctx: ChainContext, payer: Address, fromBlock: bigint = 0n): Promise<ChannelListing[]> {
  const logs = await getContractEventsPaged(
    ctx.publicClient,
    { address: ctx.paymentChannels, abi: paymentChannelsAbi, eventName: "ChannelOpened", args: { payer } },
    { fromBlock, maxRange: ctx.getLogsRange },
  );
  const block = await ctx.publicClient.getBlock({ blockTag: "latest" });
  return Promise.all(
    logs.map(async (log) => {
      const t = log.args.terms!;
      const terms: ChannelTerms = { ...t, royaltyBps: Number(t.royaltyBps) };
      const channelId = log.args.channelId!;
      const state = await readChannel(ctx, channelId);
      return { channelId, terms, state, status: statusOf(state, block.timestamp), openedAtBlock: log.blockNumber };
    }),
  );
}

export function statusOf(state: ChannelState, now: bigint): ChannelListing["status"] {
  if (state.settled) return "settled";
  if (state.closesAt === 0n) return "open";
  return now < state.closesAt ? "closing" : "withdrawable";
}

async function ensureAllowance(ctx: ChainContext, wallet: BuyerWallet, token: Address, amount: bigint) {
  const owner = wallet.account.address;
  const allowance = await ctx.publicClient.readContract({ address: token, abi: testUsdcAbi, functionName: "allowance", args: [owner, ctx.paymentChannels] });
  if (allowance >= amount) return;
  await send(ctx, wallet, "approve", () =>
    ctx.publicClient.simulateContract({ account: wallet.account, address: token, abi: testUsdcAbi, functionName: "approve", args: [ctx.paymentChannels, amount] }),
  );
}

async function signPermit(ctx: ChainContext, wallet: BuyerWallet, token: Address, value: bigint) {
  const owner = wallet.account.address;
  const [{ domain }, nonce, block] = await Promise.all([
    getEip712Domain(ctx.publicClient, { address: token }),
    ctx.publicClient.readContract({ address: token, abi: testUsdcAbi, functionName: "nonces", args: [owner] }),
    ctx.publicClient.getBlock({ blockTag: "latest" }),
  ]);
  // Deadline from chain time, not the local clock: local chains may have been moved forward.
  const deadline = block.timestamp + 3600n;
  const signature = await wallet.signTypedData({
    account: wallet.account,
    domain: { name: domain.name, version: domain.version, chainId: domain.chainId, verifyingContract: domain.verifyingContract },
    types: permitTypes,
    primaryType: "Permit",
    message: { owner, spender: ctx.paymentChannels, value, nonce, deadline },
  });
  const { r, s, v, yParity } = parseSignature(signature);
  return { deadline, r, s, v: Number(v ?? BigInt(yParity + 27)) };
}

type ChannelsFunction = "open" | "openWithPermit" | "topUp" | "topUpWithPermit" | "requestClose" | "withdraw" | "closeCooperatively";

function write(ctx: ChainContext, wallet: BuyerWallet, functionName: ChannelsFunction, args: readonly unknown[]) {
  return send(ctx, wallet, functionName, () =>
    // The generic ABI typing cannot follow a union of function names; args are built by the typed callers above.
    ctx.publicClient.simulateContract({ account: wallet.account, address: ctx.paymentChannels, abi: paymentChannelsAbi, functionName, args } as never),
  );
}

interface Sent {
  hash: Hex;
  logs: Log[];
}

/** Simulate, send, wait: returns the hash and logs of a successful transaction or throws a decoded error. */
async function send(ctx: ChainContext, wallet: BuyerWallet, what: string, simulate: () => Promise<{ request: unknown }>): Promise<Sent> {
  let hash: Hex;
  try {
    const { request } = await simulate();
    hash = await wallet.writeContract(request as never);
  } catch (error) {
    throw new EdgepayClientError("transaction_failed", `${what} failed: ${describeContractError(error)}`, { cause: error });
  }
  const receipt = await ctx.publicClient.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success") throw new EdgepayClientError("transaction_failed", `${what} reverted in transaction ${hash}`);
  return { hash, logs: receipt.logs };
}

function assertPayer(wallet: BuyerWallet, terms: ChannelTerms) {
  if (!isAddressEqual(wallet.account.address, terms.payer)) {
    throw new EdgepayClientError("bad_argument", `only the channel's payer ${getAddress(terms.payer)} may do this; the wallet is ${wallet.account.address}`);
  }
}
