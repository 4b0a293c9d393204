// Reads of the marketplace's state: registries' views plus their event logs (the contracts keep no lists, the
// logs are the index). Plain async functions over a viem PublicClient; hooks wrap them in react-query.
import { erc20Abi, type Address, type ContractFunctionReturnType, type Hex, type PublicClient } from "viem";
import {
  deviceRegistryAbi,
  flightRecorderAbi,
  modelRegistryAbi,
  paymentChannelsAbi,
} from "../../protocol/generated/contracts.ts";
import type { ChannelTerms } from "../../protocol/terms.ts";
import type { RuntimeConfig } from "./runtime-config.ts";
import { getContractEventsPaged } from "../../protocol/paged-logs.ts";

export interface ModelInfo {
  modelId: bigint;
  owner: Address;
  name: string;
  uri: string;
  contentHash: Hex;
  royaltyBps: number;
  licenseToken: Address;
  licenseFee: bigint;
  version: number;
  predecessor: bigint;
  successor: bigint;
  deprecated: boolean;
  publishedAt: bigint;
}

export const DEVICE_STATUS = ["None", "Active", "Paused", "Exiting", "Removed", "Withdrawn"] as const;
export type DeviceStatus = (typeof DEVICE_STATUS)[number];

export interface Offering {
  modelId: bigint;
  token: Address;
  price: bigint;
}

export interface DeviceInfo {
  device: Address;
  owner: Address;
  status: DeviceStatus;
  stake: bigint;
  unbondingEnds: number;
  endpoint: string;
  metadata: string;
  offerings: Offering[];
}

export interface ChannelInfo {
  channelId: Hex;
  terms: ChannelTerms;
  deposit: bigint;
  claimed: bigint;
  closesAt: number;
  settled: boolean;
  openedBlock: bigint;
  /** Known on the RPC path (the ChannelOpened log); the index keeps the block only. */
  openedTx?: Hex;
}

export interface ClaimInfo {
  channelId: Hex;
  payee: Address;
  cumulativeAmount: bigint;
  providerAmount: bigint;
  royalty: bigint;
  txHash: Hex;
  blockNumber: bigint;
  /** Position in its block (with blockNumber, the chain order of claims). */
  logIndex: number;
  timestamp: number;
}

const from = (c: RuntimeConfig) => BigInt(c.fromBlock);

export async function readModels(client: PublicClient, c: RuntimeConfig): Promise<ModelInfo[]> {
  const address = c.contracts.modelRegistry;
  const [count, logs] = await Promise.all([
    client.readContract({ address, abi: modelRegistryAbi, functionName: "modelCount" }),
    getContractEventsPaged(client, { address, abi: modelRegistryAbi, eventName: "ModelPublished" }, { fromBlock: from(c) }),
  ]);
  const blockOf = new Map(logs.map((l) => [l.args.modelId!, l.blockNumber]));
  const times = await blockTimes(client, [...new Set(logs.map((l) => l.blockNumber))]);
  const ids = Array.from({ length: Number(count) }, (_, i) => BigInt(i + 1));
  return Promise.all(
    ids.map(async (modelId) => {
      const [m, successor] = await Promise.all([
        client.readContract({ address, abi: modelRegistryAbi, functionName: "getModel", args: [modelId] }),
        client.readContract({ address, abi: modelRegistryAbi, functionName: "successorOf", args: [modelId] }),
      ]);
      const block = blockOf.get(modelId);
      return modelInfoOf(modelId, m, successor, block !== undefined ? BigInt(times.get(block) ?? 0) : 0n);
    }),
  );
}

/** ModelRegistry.getModel's struct as the dashboard shows a model. */
export function modelInfoOf(modelId: bigint, m: ModelStruct, successor: bigint, publishedAt: bigint): ModelInfo {
  return {
    modelId,
    owner: m.owner,
    name: m.name,
    uri: m.uri,
    contentHash: m.contentHash,
    royaltyBps: Number(m.royaltyBps),
    licenseToken: m.licenseToken,
    licenseFee: m.licenseFee,
    version: Number(m.version),
    predecessor: BigInt(m.predecessor),
    successor,
    deprecated: m.deprecated,
    publishedAt,
  };
}

type ModelStruct = ContractFunctionReturnType<typeof modelRegistryAbi, "view", "getModel">;

export async function readDevices(client: PublicClient, c: RuntimeConfig): Promise<DeviceInfo[]> {
  const address = c.contracts.deviceRegistry;
  const [registered, offerings] = await Promise.all([
    getContractEventsPaged(client, { address, abi: deviceRegistryAbi, eventName: "DeviceRegistered" }, { fromBlock: from(c) }),
    getContractEventsPaged(client, { address, abi: deviceRegistryAbi, eventName: "OfferingSet" }, { fromBlock: from(c) }),
  ]);
  // Latest OfferingSet per (device, model, token) wins; price 0 means removed.
  const latest = new Map<string, Offering & { device: Address }>();
  for (const log of offerings) {
    const { device, modelId, token, price } = log.args;
    latest.set(`${device!.toLowerCase()}:${modelId}:${token!.toLowerCase()}`, { device: device!, modelId: modelId!, token: token!, price: price! });
  }
  const devices = [...new Set(registered.map((l) => l.args.device!))];
  return Promise.all(
    devices.map(async (device) => {
      const d = await client.readContract({ address, abi: deviceRegistryAbi, functionName: "getDevice", args: [device] });
      return {
        device,
        owner: d.owner,
        status: DEVICE_STATUS[d.status] ?? "None",
        stake: d.stake,
        unbondingEnds: Number(d.unbondingEnds),
        endpoint: d.endpoint,
        metadata: d.metadata,
        offerings: [...latest.values()]
          .filter((o) => o.device.toLowerCase() === device.toLowerCase() && o.price > 0n)
          .map(({ modelId, token, price }) => ({ modelId, token, price })),
      };
    }),
  );
}

/** Licenses taken, per model. */
export async function readLicenses(client: PublicClient, c: RuntimeConfig) {
  const logs = await getContractEventsPaged(client, { address: c.contracts.modelRegistry, abi: modelRegistryAbi, eventName: "LicenseTaken" }, { fromBlock: from(c) });
  return logs.map((l) => ({ modelId: l.args.modelId!, licensee: l.args.licensee!, payer: l.args.payer!, token: l.args.token!, fee: l.args.fee!, txHash: l.transactionHash }));
}

/** Channels, optionally only those of one payer or one set of devices, with their current state. */
export async function readChannels(
  client: PublicClient,
  c: RuntimeConfig,
  filter: { payer?: Address; devices?: readonly Address[] } = {},
): Promise<ChannelInfo[]> {
  const address = c.contracts.paymentChannels;
  const logs = await getContractEventsPaged(client, { address, abi: paymentChannelsAbi, eventName: "ChannelOpened", args: filter.payer ? { payer: filter.payer } : undefined }, { fromBlock: from(c) });
  const wanted = filter.devices ? new Set(filter.devices.map((d) => d.toLowerCase())) : undefined;
  const picked = logs.filter((l) => !wanted || wanted.has(l.args.device!.toLowerCase()));
  return Promise.all(
    picked.map(async (log) => {
      const t = log.args.terms!;
      const channelId = log.args.channelId!;
      const s = await client.readContract({ address, abi: paymentChannelsAbi, functionName: "getChannel", args: [channelId] });
      return {
        channelId,
        terms: { ...t, royaltyBps: Number(t.royaltyBps) },
        deposit: s.deposit,
        claimed: s.claimed,
        closesAt: Number(s.closesAt),
        settled: s.settled,
        openedBlock: log.blockNumber,
        openedTx: log.transactionHash,
      };
    }),
  );
}

/** Claimed events (optionally for one payee), with block times. */
export async function readClaims(client: PublicClient, c: RuntimeConfig, payee?: Address): Promise<ClaimInfo[]> {
  const logs = await getContractEventsPaged(client, { address: c.contracts.paymentChannels, abi: paymentChannelsAbi, eventName: "Claimed", args: payee ? { payee } : undefined }, { fromBlock: from(c) });
  const times = await blockTimes(client, [...new Set(logs.map((l) => l.blockNumber))]);
  return logs.map((l) => ({
    channelId: l.args.channelId!,
    payee: l.args.payee!,
    cumulativeAmount: l.args.cumulativeAmount!,
    providerAmount: l.args.providerAmount!,
    royalty: l.args.royalty!,
    txHash: l.transactionHash,
    blockNumber: l.blockNumber,
    logIndex: l.logIndex,
    timestamp: times.get(l.blockNumber) ?? 0,
  }));
}

/** Gas paid by each transaction (gasUsed × effectiveGasPrice, in wei) and who sent it. */
export async function readTxCosts(client: PublicClient, hashes: readonly Hex[]) {
  const receipts = await Promise.all([...new Set(hashes)].map((hash) => client.getTransactionReceipt({ hash })));
  return new Map(receipts.map((r) => [r.transactionHash, { gasUsed: r.gasUsed, costWei: r.gasUsed * r.effectiveGasPrice, from: r.from }]));
}

export async function blockTimes(client: PublicClient, blocks: readonly bigint[]): Promise<Map<bigint, number>> {
  const entries = await Promise.all(
    blocks.map(async (n) => [n, Number((await client.getBlock({ blockNumber: n })).timestamp)] as const),
  );
  return new Map(entries);
}

export interface CreditInfo {
  token: Address;
  amount: bigint;
  symbol: string;
  decimals: number;
}

/**
 * What PaymentChannels holds for `account` because a payout or refund to it failed (token paused, account
 * blacklisted): the tokens come from its TransferCredited events, the amounts from `creditOf` (non-zero only).
 */
export async function readCredits(client: PublicClient, c: RuntimeConfig, account: Address): Promise<CreditInfo[]> {
  const address = c.contracts.paymentChannels;
  const logs = await getContractEventsPaged(client, { address, abi: paymentChannelsAbi, eventName: "TransferCredited", args: { account } }, { fromBlock: from(c) });
  const tokens = [...new Map(logs.map((l) => [l.args.token!.toLowerCase(), l.args.token!])).values()];
  const credits = await Promise.all(
    tokens.map(async (token) => {
      const amount = await client.readContract({ address, abi: paymentChannelsAbi, functionName: "creditOf", args: [account, token] });
      if (amount === 0n) return undefined;
      const [symbol, decimals] = await Promise.all([
        client.readContract({ address: token, abi: erc20Abi, functionName: "symbol" }).catch(() => "tokens"),
        client.readContract({ address: token, abi: erc20Abi, functionName: "decimals" }).catch(() => 18),
      ]);
      return { token, amount, symbol, decimals: Number(decimals) };
    }),
  );
  return credits.filter((x): x is CreditInfo => x !== undefined);
}

export interface AnchorInfo {
  fromSeq: bigint;
  toSeq: bigint;
  root: Hex;
  head: Hex;
  txHash: Hex;
  blockNumber: bigint;
  timestamp: number;
}

/** FlightRecorder `Anchored` events of one device (none when no FlightRecorder is configured). */
export async function readAnchors(client: PublicClient, c: RuntimeConfig, device: Address): Promise<AnchorInfo[]> {
  if (!c.contracts.flightRecorder) return [];
  const logs = await getContractEventsPaged(client, { address: c.contracts.flightRecorder, abi: flightRecorderAbi, eventName: "Anchored", args: { device } }, { fromBlock: from(c) });
  const times = await blockTimes(client, [...new Set(logs.map((l) => l.blockNumber))]);
  return logs.map((l) => ({
    fromSeq: l.args.fromSeq!,
    toSeq: l.args.toSeq!,
    root: l.args.root!,
    head: l.args.head!,
    txHash: l.transactionHash,
    blockNumber: l.blockNumber,
    timestamp: times.get(l.blockNumber) ?? 0,
  }));
}

/** Claims on channels to one device: the channels come from ChannelOpened (their terms name the device). */
export async function readDeviceClaims(client: PublicClient, c: RuntimeConfig, device: Address): Promise<{ channels: ChannelInfo[]; claims: ClaimInfo[] }> {
  const [channels, claims] = await Promise.all([readChannels(client, c, { devices: [device] }), readClaims(client, c)]);
  const ids = new Set(channels.map((ch) => ch.channelId.toLowerCase()));
  return { channels, claims: claims.filter((cl) => ids.has(cl.channelId.toLowerCase())) };
}
