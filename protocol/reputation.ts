// A device's reputation read from chain logs (paged, protocol/paged-logs.ts): anchors (FlightRecorder), buyers'
// feedback (DeviceReputation), disputes (AnswerDisputes, FlightRecorder) and slashes (DeviceRegistry). The score is
// protocol/reputation-score.ts; the indexer keeps the same counts in its `reputation` table.
import type { Address, PublicClient } from "viem";
import { answerDisputesAbi, deviceRegistryAbi, deviceReputationAbi, flightRecorderAbi } from "./generated/contracts.ts";
import { getContractEventsPaged, type ScanOptions } from "./paged-logs.ts";
import { EMPTY_COUNTS, reputationScore, type ReputationCounts } from "./reputation-score.ts";

export { FAILURE_WEIGHT, rankOffers, reputationScore, type ReputationCounts, type RoutedOffer } from "./reputation-score.ts";

/** Feedback tags Edgepay buyers post (tag1); tag2 is the model id in decimal. */
export const SPOT_CHECK_TAG = "spotCheck";
export const UPTIME_TAG = "uptime";

/** AnswerDisputes.Outcome. */
export const DisputeOutcome = { Pending: 0, DeviceLost: 1, ReporterLost: 2, NoDecision: 3 } as const;

/** Where reputation comes from. A missing contract contributes nothing (an older deployment). */
export interface ReputationSources {
  deviceRegistry: Address;
  flightRecorder?: Address;
  answerDisputes?: Address;
  deviceReputation?: Address;
}

export interface Reputation extends ReputationCounts {
  device: Address;
  score: number;
}

/** One non-revoked or revoked feedback entry, as both the reader and the indexer see it. */
export interface FeedbackEntry {
  client: Address;
  value: bigint;
  valueDecimals: number;
  tag1: string;
  revoked: boolean;
}

/** ERC-8004 agentId of a device: its key as a number. */
export function agentIdOf(device: Address): bigint {
  return BigInt(device);
}

/** An uptime value (percent with `decimals` decimals) in basis points, clamped to 0..10,000. */
export function uptimeBps(value: bigint, decimals: number): number {
  const bps = (value * 100n) / 10n ** BigInt(decimals);
  return Number(bps < 0n ? 0n : bps > 10_000n ? 10_000n : bps);
}

/** The feedback part of the counts: spot checks (value > 0 passed), distinct failing buyers, mean uptime. */
export function feedbackCounts(entries: readonly FeedbackEntry[]): Pick<ReputationCounts, "spotChecksPassed" | "spotChecksFailed" | "failingClients" | "uptimeReports" | "uptimeBps"> {
  let passed = 0;
  let failed = 0;
  const failing = new Set<string>();
  let reports = 0;
  let bpsSum = 0;
  for (const e of entries) {
    if (e.revoked) continue;
    if (e.tag1 === SPOT_CHECK_TAG) {
      if (e.value > 0n) passed++;
      else {
        failed++;
        failing.add(e.client.toLowerCase());
      }
    } else if (e.tag1 === UPTIME_TAG) {
      reports++;
      bpsSum += uptimeBps(e.value, e.valueDecimals);
    }
  }
  return { spotChecksPassed: passed, spotChecksFailed: failed, failingClients: failing.size, uptimeReports: reports, uptimeBps: reports ? Math.floor(bpsSum / reports) : null };
}

/** Reads `device`'s reputation from the logs of `sources` over [fromBlock, toBlock]. */
export async function readReputation(
  client: Pick<PublicClient, "getContractEvents" | "getBlockNumber">,
  sources: ReputationSources,
  device: Address,
  options: Partial<ScanOptions> = {},
): Promise<Reputation> {
  // One consistent span for every scan: "latest" read once.
  const toBlock = options.toBlock === undefined || options.toBlock === "latest" ? await client.getBlockNumber({ cacheTime: 0 }) : options.toBlock;
  const scan: ScanOptions = { ...options, fromBlock: options.fromBlock ?? 0n, toBlock };
  const counts: ReputationCounts = { ...EMPTY_COUNTS };

  const slashes = await getContractEventsPaged(client, { address: sources.deviceRegistry, abi: deviceRegistryAbi, eventName: "DeviceSlashed", args: { device } }, scan);
  // One slash per transaction: a dispute pays reporter and treasury in two DeviceSlashed logs of one transaction.
  counts.slashes = new Set(slashes.map((e) => e.transactionHash)).size;
  counts.slashedAmount = slashes.reduce((sum, e) => sum + e.args.amount!, 0n);

  if (sources.flightRecorder) {
    const recorder = { address: sources.flightRecorder, abi: flightRecorderAbi } as const;
    const [anchors, answered, enforced, equivocations] = await Promise.all([
      getContractEventsPaged(client, { ...recorder, eventName: "Anchored", args: { device } }, scan),
      getContractEventsPaged(client, { ...recorder, eventName: "OmissionAnswered", args: { device } }, scan),
      getContractEventsPaged(client, { ...recorder, eventName: "OmissionEnforced", args: { device } }, scan),
      getContractEventsPaged(client, { ...recorder, eventName: "EquivocationProven", args: { device } }, scan),
    ]);
    counts.receiptsAnchored = anchors.reduce((sum, e) => sum + (e.args.toSeq! - e.args.fromSeq! + 1n), 0n);
    counts.disputesWon += answered.length;
    counts.disputesLost += enforced.length + equivocations.length;
  }

  if (sources.answerDisputes) {
    const disputes = { address: sources.answerDisputes, abi: answerDisputesAbi } as const;
    const opened = await getContractEventsPaged(client, { ...disputes, eventName: "DisputeOpened", args: { device } }, scan);
    const ids = opened.map((e) => e.args.id!);
    if (ids.length) {
      const resolved = await getContractEventsPaged(client, { ...disputes, eventName: "DisputeResolved", args: { id: ids } }, scan);
      for (const e of resolved) {
        if (e.args.outcome === DisputeOutcome.DeviceLost) counts.disputesLost++;
        else if (e.args.outcome === DisputeOutcome.ReporterLost) counts.disputesWon++;
      }
    }
  }

  if (sources.deviceReputation) {
    Object.assign(counts, feedbackCounts(await readFeedback(client, sources.deviceReputation, device, scan)));
  }
  return { device, ...counts, score: reputationScore(counts) };
}

/** Every feedback entry given to `device`, revocations applied. */
export async function readFeedback(
  client: Pick<PublicClient, "getContractEvents" | "getBlockNumber">,
  deviceReputation: Address,
  device: Address,
  scan: ScanOptions,
): Promise<FeedbackEntry[]> {
  const registry = { address: deviceReputation, abi: deviceReputationAbi } as const;
  const agentId = agentIdOf(device);
  const [given, revoked] = await Promise.all([
    getContractEventsPaged(client, { ...registry, eventName: "NewFeedback", args: { agentId } }, scan),
    getContractEventsPaged(client, { ...registry, eventName: "FeedbackRevoked", args: { agentId } }, scan),
  ]);
  const key = (client: string, index: bigint) => `${client.toLowerCase()}:${index}`;
  const gone = new Set(revoked.map((e) => key(e.args.clientAddress!, e.args.feedbackIndex!)));
  return given.map((e) => ({
    client: e.args.clientAddress!,
    value: e.args.value!,
    valueDecimals: e.args.valueDecimals!,
    tag1: e.args.tag1!,
    revoked: gone.has(key(e.args.clientAddress!, e.args.feedbackIndex!)),
  }));
}

/** Wire form (decimal strings for bigints), for HTTP and the dashboard. */
export function reputationToWire(r: Reputation): Record<string, string | number | null> {
  return { ...r, receiptsAnchored: r.receiptsAnchored.toString(), slashedAmount: r.slashedAmount.toString() };
}

