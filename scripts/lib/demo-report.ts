// The demo's closing table, read back from the chain only: channels of the demo's devices (ChannelOpened,
// ChannelToppedUp), what was paid on them (Claimed: provider share and royalty), refunds (ChannelSettled), royalty
// withdrawals (RoyaltiesWithdrawn), channel state (getChannel), owners from the registries, and the gas of every
// transaction the demo's accounts sent in the block range (receipts: gasUsed x effectiveGasPrice).
import { decodeFunctionData, formatEther, type Abi, type Address, type Hex, type PublicClient } from "viem";
import { answerDisputesAbi, deviceRegistryAbi, flightRecorderAbi, modelRegistryAbi, paymentChannelsAbi, testUsdcAbi } from "../../protocol/generated/contracts.ts";
import type { Contracts } from "../../worker/config.ts";
import { getContractEventsPaged } from "../../protocol/paged-logs.ts";

export interface ReportScope {
  contracts: Contracts;
  devices: Address[];
  /** Accounts whose transactions count as the demo's gas (buyers, device keys, model owners). */
  accounts: Address[];
  fromBlock: bigint;
  toBlock: bigint;
  /** USD per ETH, to put gas next to token value (an assumption, printed with the figure). */
  ethUsd: number;
  /** A reference gas price in gwei for a second share figure (e.g. a typical L2 price). */
  referenceGwei: number;
}

export interface DeviceRow {
  device: Address;
  owner: Address;
  channels: number;
  inferences: bigint;
  /** Value claimed on the device's channels (provider share + royalty). */
  paid: bigint;
  /** Provider share paid to the owner. */
  earned: bigint;
  royalty: bigint;
}

export interface ModelRow {
  modelId: bigint;
  name: string;
  owner: Address;
  inferences: bigint;
  royalty: bigint;
  /** RoyaltiesWithdrawn for this model in the range (may include royalties accrued outside the demo). */
  withdrawn: bigint;
}

export interface BuyerRow {
  payer: Address;
  channels: number;
  deposited: bigint;
  paid: bigint;
  refunded: bigint;
  /** Deposit neither paid nor refunded yet (channels still open). */
  locked: bigint;
}

export interface GasTx {
  hash: Hex;
  from: Address;
  kind: string;
  gasUsed: bigint;
  costWei: bigint;
}

export interface DemoReport {
  fromBlock: bigint;
  toBlock: bigint;
  devices: DeviceRow[];
  models: ModelRow[];
  /** Royalties per model owner (sum over their models). */
  owners: { owner: Address; royalty: bigint; withdrawn: bigint }[];
  buyers: BuyerRow[];
  totals: { inferences: bigint; deposited: bigint; valueMoved: bigint; earned: bigint; royalty: bigint; refunded: bigint; locked: bigint };
  gas: {
    txs: GasTx[];
    byKind: { kind: string; count: number; gasUsed: bigint; costWei: bigint }[];
    gasUsed: bigint;
    costWei: bigint;
    ethUsd: number;
    /** Gas cost in USD / value moved in USD (token assumed worth 1 USD per 10^6 units). */
    share: number;
    referenceGwei: number;
    referenceShare: number;
  };
  /** Channels whose claimed amount is not a whole number of prices (should never happen). */
  anomalies: string[];
}

const ABIS: readonly Abi[] = [paymentChannelsAbi, flightRecorderAbi, testUsdcAbi, deviceRegistryAbi, modelRegistryAbi, answerDisputesAbi];

function kindOf(input: Hex): string {
  for (const abi of ABIS) {
    try {
      return decodeFunctionData({ abi, data: input }).functionName;
    } catch {
      // not this contract
    }
  }
  return input === "0x" ? "transfer" : input.slice(0, 10);
}

export async function readDemoReport(client: PublicClient, scope: ReportScope): Promise<DemoReport> {
  const pc = scope.contracts.paymentChannels;
  const range = { fromBlock: scope.fromBlock, toBlock: scope.toBlock };
  const deviceSet = new Set(scope.devices.map((d) => d.toLowerCase()));
  const opened = (await getContractEventsPaged(client, { address: pc, abi: paymentChannelsAbi, eventName: "ChannelOpened" }, { ...range })).filter((l) =>
    deviceSet.has(l.args.device!.toLowerCase()),
  );
  const channels = new Map(opened.map((l) => [l.args.channelId!, { terms: l.args.terms!, deposit: l.args.deposit! }]));
  const mine = <T extends { args: { channelId?: Hex } }>(logs: T[]) => logs.filter((l) => channels.has(l.args.channelId!));
  const topUps = mine(await getContractEventsPaged(client, { address: pc, abi: paymentChannelsAbi, eventName: "ChannelToppedUp" }, { ...range }));
  const claims = mine(await getContractEventsPaged(client, { address: pc, abi: paymentChannelsAbi, eventName: "Claimed" }, { ...range }));
  const settled = mine(await getContractEventsPaged(client, { address: pc, abi: paymentChannelsAbi, eventName: "ChannelSettled" }, { ...range }));
  const withdrawals = await getContractEventsPaged(client, { address: pc, abi: paymentChannelsAbi, eventName: "RoyaltiesWithdrawn" }, { ...range });
  for (const t of topUps) channels.get(t.args.channelId!)!.deposit += t.args.amount!;

  const devices = new Map<string, DeviceRow>();
  for (const d of scope.devices) {
    const rec = await client.readContract({ address: scope.contracts.deviceRegistry, abi: deviceRegistryAbi, functionName: "getDevice", args: [d], blockNumber: scope.toBlock });
    devices.set(d.toLowerCase(), { device: d, owner: rec.owner, channels: 0, inferences: 0n, paid: 0n, earned: 0n, royalty: 0n });
  }
  const models = new Map<string, ModelRow>();
  const buyers = new Map<string, BuyerRow>();
  const anomalies: string[] = [];

  for (const [id, ch] of channels) {
    const t = ch.terms;
    const state = await client.readContract({ address: pc, abi: paymentChannelsAbi, functionName: "getChannel", args: [id], blockNumber: scope.toBlock });
    const dev = devices.get(t.device.toLowerCase())!;
    dev.channels++;
    // Metered pricing: the price is per unit of work (a frame, an image), so the claim counts units.
    const inferences = state.claimed / t.price;
    if (state.claimed % t.price !== 0n) anomalies.push(`channel ${id}: claimed ${state.claimed} is not a multiple of the price per unit ${t.price}`);
    dev.inferences += inferences;
    dev.paid += state.claimed;
    const key = t.modelId.toString();
    if (!models.has(key)) {
      const model = await client.readContract({ address: scope.contracts.modelRegistry, abi: modelRegistryAbi, functionName: "getModel", args: [t.modelId], blockNumber: scope.toBlock });
      models.set(key, { modelId: t.modelId, name: model.name, owner: model.owner, inferences: 0n, royalty: 0n, withdrawn: 0n });
    }
    models.get(key)!.inferences += inferences;
    const b = buyers.get(t.payer.toLowerCase()) ?? { payer: t.payer, channels: 0, deposited: 0n, paid: 0n, refunded: 0n, locked: 0n };
    b.channels++;
    b.deposited += ch.deposit;
    b.paid += state.claimed;
    if (!state.settled) b.locked += state.deposit - state.claimed;
    buyers.set(t.payer.toLowerCase(), b);
  }
  for (const c of claims) {
    const t = channels.get(c.args.channelId!)!.terms;
    const dev = devices.get(t.device.toLowerCase())!;
    dev.earned += c.args.providerAmount!;
    dev.royalty += c.args.royalty!;
    models.get(t.modelId.toString())!.royalty += c.args.royalty!;
  }
  for (const s of settled) {
    const t = channels.get(s.args.channelId!)!.terms;
    buyers.get(t.payer.toLowerCase())!.refunded += s.args.refund!;
  }
  for (const w of withdrawals) {
    const m = models.get(w.args.modelId!.toString());
    if (m && w.args.token!.toLowerCase() === scope.contracts.token.toLowerCase()) m.withdrawn += w.args.amount!;
  }
  const owners = new Map<string, { owner: Address; royalty: bigint; withdrawn: bigint }>();
  for (const m of models.values()) {
    const o = owners.get(m.owner.toLowerCase()) ?? { owner: m.owner, royalty: 0n, withdrawn: 0n };
    o.royalty += m.royalty;
    o.withdrawn += m.withdrawn;
    owners.set(m.owner.toLowerCase(), o);
  }

  // Gas: every transaction the demo's accounts sent in the range, from its receipt.
  const accounts = new Set(scope.accounts.map((a) => a.toLowerCase()));
  const txs: GasTx[] = [];
  for (let n = scope.fromBlock; n <= scope.toBlock; n++) {
    const block = await client.getBlock({ blockNumber: n, includeTransactions: true });
    for (const tx of block.transactions) {
      if (!accounts.has(tx.from.toLowerCase())) continue;
      const receipt = await client.getTransactionReceipt({ hash: tx.hash });
      txs.push({ hash: tx.hash, from: tx.from, kind: kindOf(tx.input), gasUsed: receipt.gasUsed, costWei: receipt.gasUsed * receipt.effectiveGasPrice });
    }
  }
  const byKind = new Map<string, { kind: string; count: number; gasUsed: bigint; costWei: bigint }>();
  for (const tx of txs) {
    const k = byKind.get(tx.kind) ?? { kind: tx.kind, count: 0, gasUsed: 0n, costWei: 0n };
    k.count++;
    k.gasUsed += tx.gasUsed;
    k.costWei += tx.costWei;
    byKind.set(tx.kind, k);
  }
  const deviceRows = [...devices.values()];
  const buyerRows = [...buyers.values()];
  const sum = <T>(rows: T[], f: (r: T) => bigint) => rows.reduce((a, r) => a + f(r), 0n);
  const valueMoved = sum(deviceRows, (d) => d.paid);
  const gasUsed = sum(txs, (t) => t.gasUsed);
  const costWei = sum(txs, (t) => t.costWei);
  const usdOfWei = (wei: bigint) => Number(formatEther(wei)) * scope.ethUsd;
  const valueUsd = Number(valueMoved) / 1e6;
  const referenceWei = gasUsed * BigInt(Math.round(scope.referenceGwei * 1e9));
  return {
    fromBlock: scope.fromBlock,
    toBlock: scope.toBlock,
    devices: deviceRows,
    models: [...models.values()].sort((a, b) => Number(a.modelId - b.modelId)),
    owners: [...owners.values()],
    buyers: buyerRows,
    totals: {
      inferences: sum(deviceRows, (d) => d.inferences),
      deposited: sum(buyerRows, (b) => b.deposited),
      valueMoved,
      earned: sum(deviceRows, (d) => d.earned),
      royalty: sum(deviceRows, (d) => d.royalty),
      refunded: sum(buyerRows, (b) => b.refunded),
      locked: sum(buyerRows, (b) => b.locked),
    },
    gas: {
      txs,
      byKind: [...byKind.values()].sort((a, b) => b.count - a.count),
      gasUsed,
      costWei,
      ethUsd: scope.ethUsd,
      share: valueUsd > 0 ? usdOfWei(costWei) / valueUsd : 0,
      referenceGwei: scope.referenceGwei,
      referenceShare: valueUsd > 0 ? usdOfWei(referenceWei) / valueUsd : 0,
    },
    anomalies,
  };
}

// ------------------------------------------------------------------ formatting

export function usdc(units: bigint): string {
  const neg = units < 0n;
  const u = neg ? -units : units;
  return `${neg ? "-" : ""}${u / 1_000_000n}.${(u % 1_000_000n).toString().padStart(6, "0")}`;
}

const short = (a: string) => `${a.slice(0, 6)}…${a.slice(-4)}`;
const pct = (x: number) => (x >= 0.1 ? `${(x * 100).toFixed(1)}%` : `${(x * 100).toFixed(3)}%`);

function table(headers: string[], rows: string[][], align: ("l" | "r")[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (align[i] === "r" ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ");
  return [line(headers), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].map((l) => `  ${l}`).join("\n");
}

export function formatReport(r: DemoReport, labels: Map<string, string> = new Map()): string {
  const label = (a: string) => labels.get(a.toLowerCase()) ?? short(a);
  const out: string[] = [];
  out.push(`Read back from the chain (blocks ${r.fromBlock}-${r.toBlock}); amounts in USDC.`, "");
  out.push("Devices");
  out.push(
    table(
      ["device", "owner", "channels", "inferences", "paid", "earned (owner)", "royalty"],
      r.devices.map((d) => [label(d.device), short(d.owner), String(d.channels), String(d.inferences), usdc(d.paid), usdc(d.earned), usdc(d.royalty)]),
      ["l", "l", "r", "r", "r", "r", "r"],
    ),
  );
  out.push("", "Royalties per model owner");
  out.push(
    table(
      ["model", "owner", "inferences", "royalty accrued", "withdrawn"],
      r.models.map((m) => [`#${m.modelId} ${m.name}`, short(m.owner), String(m.inferences), usdc(m.royalty), usdc(m.withdrawn)]),
      ["l", "l", "r", "r", "r"],
    ),
  );
  out.push("", "Buyers");
  out.push(
    table(
      ["buyer", "channels", "deposited", "paid", "refunded", "still locked"],
      [...r.buyers].sort((a, b) => label(a.payer).localeCompare(label(b.payer))).map((b) => [label(b.payer), String(b.channels), usdc(b.deposited), usdc(b.paid), usdc(b.refunded), usdc(b.locked)]),
      ["l", "r", "r", "r", "r", "r"],
    ),
  );
  const t = r.totals;
  out.push(
    "",
    `Totals: ${t.inferences} paid inferences; ${usdc(t.valueMoved)} moved (${usdc(t.earned)} to providers + ${usdc(t.royalty)} royalties); ` +
      `${usdc(t.refunded)} refunded of ${usdc(t.deposited)} deposited${t.locked ? `; ${usdc(t.locked)} still locked in open channels` : ""}.`,
  );
  const balanced = t.deposited === t.valueMoved + t.refunded + t.locked;
  out.push(`Conservation: deposited = paid + refunded + locked: ${balanced ? "yes" : "NO"} (${usdc(t.deposited)} = ${usdc(t.valueMoved)} + ${usdc(t.refunded)} + ${usdc(t.locked)})`);
  out.push("", "Gas (transactions the demo's buyers, devices and model owners sent during the run)");
  out.push(
    table(
      ["transaction", "count", "gas total", "gas each"],
      r.gas.byKind.map((k) => [k.kind, String(k.count), String(k.gasUsed), String(k.gasUsed / BigInt(k.count))]),
      ["l", "r", "r", "r"],
    ),
  );
  const perInference = t.inferences > 0n ? r.gas.gasUsed / t.inferences : 0n;
  out.push(
    `  ${r.gas.gasUsed} gas in ${r.gas.txs.length} transactions (${perInference} gas per inference) cost ${formatEther(r.gas.costWei)} ETH at this chain's gas prices;`,
    `  at $${r.gas.ethUsd}/ETH that is ${pct(r.gas.share)} of the value moved; at ${r.gas.referenceGwei} gwei it would be ${pct(r.gas.referenceShare)}.`,
    `  Opening and closing cost the same whatever a channel carries, and each claim settles many vouchers at once:`,
    `  longer sessions, larger claim thresholds and a cheap chain push the share down.`,
  );
  if (r.anomalies.length) out.push("", "ANOMALIES:", ...r.anomalies.map((a) => `  ${a}`));
  return out.join("\n");
}

/** JSON with bigints as decimal strings. */
export function reportJson(r: unknown): string {
  return JSON.stringify(r, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v), 2);
}
