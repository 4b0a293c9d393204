// Does the indexer follow a busy chain? Drives a steady rate of real contract transactions (channel opens by a payer
// and voucher claims on those channels) against a local Hardhat node for a while, and samples the indexer's block
// against the chain head every second. Blocks are mined for real (interval mining, or one per transaction with
// automine): hardhat_mine's bulk blocks do not chain parent hashes, which Ponder's live sync takes for a reorg.
import { randomBytes } from "node:crypto";
import { encodeFunctionData, keccak256, maxUint256, toHex, type Address, type Hex } from "viem";
import { paymentChannelsAbi, testUsdcAbi } from "../../protocol/generated/contracts.ts";
import { channelIdOf, type ChannelTerms } from "../../protocol/terms.ts";
import { createVoucherHasher } from "../../protocol/voucher.ts";
import { digestSigner } from "../../worker/crypto.ts";
import { indexerQuery, indexerStatus } from "./indexer.ts";
import { treeRssMB } from "./proc-rss.ts";
import { BulkRpc } from "./scale-rpc.ts";

/** What a new channel copies from an existing one: a device with a live offering, its owner and the model's terms. */
export interface ChannelTemplate {
  device: Address;
  payee: Address;
  token: Address;
  modelId: bigint;
  price: bigint;
  royaltyBps: number;
}

/** One of `payer`'s channels from the indexer, as the template for the load's new channels. */
export async function channelTemplate(indexerUrl: string, payer: Address): Promise<ChannelTemplate> {
  const data = await indexerQuery<{ channels: { items: { device: Address; payee: Address; token: Address; modelId: string; price: string; royaltyBps: number }[] } }>(
    indexerUrl,
    `query ($payer: String!) { channels(where: { payer: $payer }, limit: 1) { items { device payee token modelId price royaltyBps } } }`,
    { payer: payer.toLowerCase() },
  );
  const c = data.channels.items[0];
  if (!c) throw new Error(`the indexer at ${indexerUrl} knows no channel of ${payer}: is it the held run's indexer, caught up?`);
  return { device: c.device, payee: c.payee, token: c.token, modelId: BigInt(c.modelId), price: BigInt(c.price), royaltyBps: c.royaltyBps };
}

export interface FollowOptions {
  chainUrl: string;
  chainId: number;
  paymentChannels: Address;
  indexerUrl: string;
  /** Opens the load's channels (impersonated on the node; funded from the token's faucet here). */
  payer: Address;
  template: ChannelTemplate;
  seconds: number;
  txPerSecond: number;
  /** Interval mining period; 0 mines one block per transaction (automine). Default 1,000 ms. */
  blockTimeMs?: number;
  /** How long the indexer may take after the load stops to reach the final head (default 15 s). */
  catchUpGraceMs?: number;
  /** The largest lag (seconds behind the head) still counted as keeping up (default 5 s). */
  maxLagSeconds?: number;
  indexerPid?: number;
  log?: (line: string) => void;
}

export interface FollowSample {
  /** Seconds since the load started. */
  t: number;
  head: number;
  indexed: number | undefined;
  lagBlocks: number;
  lagSeconds: number;
}

export interface FollowResult {
  seconds: number;
  txPerSecondAsked: number;
  txSent: number;
  txMined: number;
  txReverted: number;
  txPerSecondAchieved: number;
  opens: number;
  claims: number;
  blocks: number;
  blockTimeMs: number;
  chainBlocksPerSecond: number;
  indexerBlocksPerSecond: number;
  lagBlocks: { max: number; median: number };
  lagSeconds: { max: number; median: number };
  /** Median lag (blocks) over the first and the last third of the load: the lag grows when the last is clearly larger. */
  lagTrend: { firstThird: number; lastThird: number };
  /** Seconds after the load stopped until the indexer held the final head; undefined when the grace period passed. */
  catchUpAfterStop: number | undefined;
  keptUp: boolean;
  /** Why it did not keep up (snake_case), or "" when it did. */
  reason: string;
  indexerRssMB: number;
  samples: FollowSample[];
}

const DEPOSIT = 1_000_000n;
const GAS = 300_000n;

const median = (xs: number[]) => {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function followLoad(o: FollowOptions): Promise<FollowResult> {
  const log = o.log ?? (() => {});
  const blockTimeMs = o.blockTimeMs ?? 1_000;
  const graceMs = o.catchUpGraceMs ?? 15_000;
  const maxLagSeconds = o.maxLagSeconds ?? 5;
  if (!(o.txPerSecond > 0) || !(o.seconds > 0)) throw new Error(`follow load needs a positive rate and duration (got ${o.txPerSecond} tx/s for ${o.seconds} s)`);
  const rpc = new BulkRpc(o.chainUrl);
  const relayer = `0x${keccak256(toHex("edgepay-scale-follow:relayer")).slice(26)}` as Address;
  await rpc.impersonate([o.payer, relayer]);
  // Enough tokens for every channel the load may open, sent while the node still mines on its own.
  await rpc.send([
    { from: o.payer, to: o.template.token, data: encodeFunctionData({ abi: testUsdcAbi, functionName: "faucet", args: [o.payer, 10_000_000_000n] }), gas: 100_000n },
    { from: o.payer, to: o.template.token, data: encodeFunctionData({ abi: testUsdcAbi, functionName: "approve", args: [o.paymentChannels, maxUint256] }), gas: 100_000n },
  ]);
  const signer = digestSigner(keccak256(toHex(`edgepay-scale-follow:signer:${randomBytes(8).toString("hex")}`)));
  const hash = createVoucherHasher(o.chainId, o.paymentChannels);
  const saltBase = BigInt(`0x${randomBytes(12).toString("hex")}`) << 32n;

  // Every head the chain reaches, with the wall time it was first seen (polled faster than the samples, so a lag in
  // seconds is measured to ~0.1 s).
  const firstSeen: { block: number; at: number }[] = [];
  const samples: FollowSample[] = [];
  const t0 = performance.now();
  let stopPolling = false;
  const headPoller = (async () => {
    while (!stopPolling) {
      const head = Number(await rpc.blockNumber().catch(() => -1n));
      if (head >= 0 && (firstSeen.length === 0 || head > firstSeen.at(-1)!.block)) firstSeen.push({ block: head, at: performance.now() });
      await sleep(100);
    }
  })();
  /** Seconds since the chain first had a block above `indexed` (0 when the indexer holds the head). */
  const lagSecondsOf = (indexed: number | undefined, now: number) => {
    const firstAbove = firstSeen.find((s) => s.block > (indexed ?? -1));
    return firstAbove ? (now - firstAbove.at) / 1000 : 0;
  };
  const sampler = (async () => {
    while (!stopPolling) {
      const at = performance.now();
      const [head, status] = await Promise.all([rpc.blockNumber().catch(() => undefined), indexerStatus(o.indexerUrl)]);
      if (head !== undefined) {
        const h = Number(head);
        samples.push({ t: (at - t0) / 1000, head: h, indexed: status.indexedBlock, lagBlocks: Math.max(0, h - (status.indexedBlock ?? 0)), lagSeconds: lagSecondsOf(status.indexedBlock, at) });
      }
      await sleep(Math.max(0, 1_000 - (performance.now() - at)));
    }
  })();

  const startHead = Number(await rpc.blockNumber());
  if (blockTimeMs > 0) {
    await rpc.setAutomine(false);
    await rpc.call("evm_setIntervalMining", [blockTimeMs]);
  }
  const opened: { terms: ChannelTerms; sentAt: number; cumulative: bigint }[] = [];
  const hashes: Hex[] = [];
  let opens = 0;
  let claims = 0;
  let nextClaim = 0;
  // An open is claimable once surely mined: automine mines it before answering; interval mining within a period.
  const settleMs = blockTimeMs > 0 ? 2 * blockTimeMs + 300 : 0;
  const loadStart = performance.now();
  const loadEnd = loadStart + o.seconds * 1_000;
  try {
    while (performance.now() < loadEnd) {
      const now = performance.now();
      const due = Math.floor(((now - loadStart) / 1_000) * o.txPerSecond) - hashes.length;
      if (due > 0) {
        const claimable = opened.filter((c) => c.sentAt <= now - settleMs && c.cumulative + o.template.price <= DEPOSIT);
        const calls = [];
        for (let k = 0; k < due; k++) {
          // One open in four; the rest claims (a provider claims far more often than buyers open channels).
          if ((hashes.length + k) % 4 === 0 || claimable.length === 0) {
            const terms: ChannelTerms = { payer: o.payer, signer: signer.address, ...o.template, salt: saltBase + BigInt(opens) };
            calls.push({ from: o.payer, data: encodeFunctionData({ abi: paymentChannelsAbi, functionName: "open", args: [terms, DEPOSIT] }) });
            opened.push({ terms, sentAt: Infinity, cumulative: 0n });
            opens++;
          } else {
            const c = claimable[nextClaim++ % claimable.length]!;
            c.cumulative += o.template.price;
            const signature = signer.sign(hash(channelIdOf(c.terms), c.cumulative));
            calls.push({ from: relayer, data: encodeFunctionData({ abi: paymentChannelsAbi, functionName: "claim", args: [c.terms, c.cumulative, signature] }) });
            claims++;
          }
        }
        const sent = await rpc.batch<Hex>(calls.map((c) => ({ method: "eth_sendTransaction", params: [{ from: c.from, to: o.paymentChannels, data: c.data, gas: `0x${GAS.toString(16)}` }] })));
        hashes.push(...sent);
        const sentAt = performance.now();
        for (const c of opened) if (c.sentAt === Infinity) c.sentAt = sentAt;
      }
      await sleep(20);
    }
  } finally {
    // Whatever is still pending goes into one more block; then the node mines on its own again.
    if (blockTimeMs > 0) {
      await rpc.call("evm_setIntervalMining", [0]);
      await rpc.call("evm_mine");
      await rpc.setAutomine(true);
    }
  }
  const loadSeconds = (performance.now() - loadStart) / 1_000;
  const finalHead = Number(await rpc.blockNumber());
  const stoppedAt = performance.now();
  let catchUpAfterStop: number | undefined;
  while (performance.now() - stoppedAt < graceMs) {
    const status = await indexerStatus(o.indexerUrl);
    if ((status.indexedBlock ?? -1) >= finalHead) {
      catchUpAfterStop = (performance.now() - stoppedAt) / 1_000;
      break;
    }
    await sleep(100);
  }
  stopPolling = true;
  await Promise.all([headPoller, sampler]);

  let mined = 0;
  let reverted = 0;
  for (let i = 0; i < hashes.length; i += 200) {
    const receipts = await rpc.batch<{ status: Hex } | null>(hashes.slice(i, i + 200).map((h) => ({ method: "eth_getTransactionReceipt", params: [h] })));
    for (const r of receipts) {
      if (r?.status === "0x1") mined++;
      else if (r) reverted++;
    }
  }

  const during = samples.filter((s) => s.t * 1_000 <= loadEnd - t0);
  const third = Math.max(1, Math.floor(during.length / 3));
  const lagTrend = { firstThird: median(during.slice(0, third).map((s) => s.lagBlocks)), lastThird: median(during.slice(-third).map((s) => s.lagBlocks)) };
  const blocksPerSecond = (finalHead - startHead) / loadSeconds;
  const lagSeconds = { max: Math.max(0, ...during.map((s) => s.lagSeconds)), median: median(during.map((s) => s.lagSeconds)) };
  // Growing: the last third's median lag exceeds the first third's by more than a second of blocks (and 2 blocks).
  const growing = lagTrend.lastThird > lagTrend.firstThird + Math.max(2, blocksPerSecond);
  const reason =
    reverted > 0 ? "transactions_reverted"
    : during.length < 3 ? "too_few_samples"
    : growing ? "lag_growing"
    : lagSeconds.max > maxLagSeconds ? "lag_over_limit"
    : catchUpAfterStop === undefined ? "not_caught_up_after_stop"
    : "";
  // How fast each side advanced over the load (blocks/s): an indexer slower than the chain falls further behind.
  const indexedDuring = during.filter((s) => s.indexed !== undefined);
  const firstIndexed = indexedDuring[0];
  const lastIndexed = indexedDuring.at(-1);
  const indexerBlocksPerSecond = firstIndexed && lastIndexed && lastIndexed.t > firstIndexed.t ? (lastIndexed.indexed! - firstIndexed.indexed!) / (lastIndexed.t - firstIndexed.t) : 0;
  const result: FollowResult = {
    seconds: loadSeconds,
    txPerSecondAsked: o.txPerSecond,
    txSent: hashes.length,
    txMined: mined,
    txReverted: reverted,
    txPerSecondAchieved: mined / loadSeconds,
    opens,
    claims,
    blocks: finalHead - startHead,
    blockTimeMs,
    chainBlocksPerSecond: blocksPerSecond,
    indexerBlocksPerSecond,
    lagBlocks: { max: Math.max(0, ...during.map((s) => s.lagBlocks)), median: median(during.map((s) => s.lagBlocks)) },
    lagSeconds,
    lagTrend,
    catchUpAfterStop,
    keptUp: reason === "",
    reason,
    indexerRssMB: treeRssMB(o.indexerPid),
    samples,
  };
  log(
    `follow: ${mined}/${hashes.length} tx mined (${result.txPerSecondAchieved.toFixed(1)} tx/s, ${reverted} reverted) in ${result.blocks} blocks (chain ${blocksPerSecond.toFixed(2)} blocks/s, indexer ${indexerBlocksPerSecond.toFixed(2)} blocks/s); lag max ${result.lagBlocks.max} blocks / ${lagSeconds.max.toFixed(2)} s, median ${result.lagBlocks.median} / ${lagSeconds.median.toFixed(2)} s; ` +
      `caught up ${catchUpAfterStop === undefined ? "not within grace" : `${catchUpAfterStop.toFixed(2)} s`} after stop; ${result.keptUp ? "kept up" : `did not keep up (${reason})`}`,
  );
  return result;
}
