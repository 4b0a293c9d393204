// The scale rehearsal's browser and live-follow half, on a market that is already seeded and indexed (a held
// `npm run scale`, or scale.ts itself inline): every page loaded in Chromium before (RPC scans) and after (indexer),
// then a steady transaction load while the indexer follows. Used by scripts/scale-pages.ts and the e2e test.
import { createPublicClient, http, type Address, type PublicClient } from "viem";
import { modelRegistryAbi } from "../../protocol/generated/contracts.ts";
import { followLoad, channelTemplate, type FollowResult } from "./scale-follow.ts";
import { measurePages, scalePageSpecs, type PageSpec, type PagesRun } from "./scale-pages.ts";
import { treeRssMB } from "./proc-rss.ts";
import type { ScaleState } from "./scale-state.ts";

export interface ScalePagesOptions {
  /** Per page load (default 120 s; a page that shows nothing by then is reported as ">120 s"). */
  pageTimeoutMs?: number;
  /** Skip the "before" loads (e.g. when a full-size run already knows they time out). */
  skipBefore?: boolean;
  /** The live-follow load: 0 seconds skips it. Defaults: 60 s at 50 tx/s, 1 s blocks. */
  follow?: { seconds: number; txPerSecond: number; blockTimeMs?: number; maxLagSeconds?: number };
  log?: (line: string) => void;
}

export interface ScalePagesResult {
  modelOwner: Address;
  before: PagesRun | undefined;
  after: PagesRun;
  follow: FollowResult | undefined;
  indexerRssMB: number;
}

/** The owner of the newest model (the seeding spreads models over a few owners, so this one has several). */
export async function newestModelOwner(chainUrl: string, modelRegistry: Address): Promise<Address> {
  const client = createPublicClient({ transport: http(chainUrl) }) as PublicClient;
  const count = await client.readContract({ address: modelRegistry, abi: modelRegistryAbi, functionName: "modelCount" });
  if (count === 0n) throw new Error(`no model published on ${modelRegistry}: is this a seeded scale chain?`);
  const model = await client.readContract({ address: modelRegistry, abi: modelRegistryAbi, functionName: "getModel", args: [count] });
  return model.owner;
}

export async function runScalePages(state: ScaleState, options: ScalePagesOptions = {}): Promise<ScalePagesResult> {
  const log = options.log ?? (() => {});
  const modelOwner = state.modelOwner ?? (await newestModelOwner(state.chainUrl, state.contracts.modelRegistry));
  const specs: PageSpec[] = scalePageSpecs({ busyBuyer: state.busyBuyer, busyProvider: state.busyProvider, modelOwner });
  const target = { chainUrl: state.chainUrl, chainId: state.chainId, deploymentId: state.deploymentId, contracts: state.contracts };
  const timeoutMs = options.pageTimeoutMs ?? 120_000;

  const before = options.skipBefore ? undefined : await measurePages(target, specs, { label: "before", timeoutMs, log });
  const after = await measurePages({ ...target, indexerUrl: state.indexerUrl }, specs, { label: "after", timeoutMs, log });
  if (!after.configIndexerUrl) log(`after: the dashboard's /api/config has no indexerUrl: this build of web/ does not read lists from the indexer yet`);

  const f = options.follow ?? { seconds: 60, txPerSecond: 50 };
  let follow: FollowResult | undefined;
  if (f.seconds > 0) {
    log(`follow: ${f.txPerSecond} tx/s for ${f.seconds} s (${f.blockTimeMs ?? 1_000} ms blocks) while the indexer follows...`);
    follow = await followLoad({
      chainUrl: state.chainUrl,
      chainId: state.chainId,
      paymentChannels: state.contracts.paymentChannels,
      indexerUrl: state.indexerUrl,
      payer: state.busyBuyer,
      template: await channelTemplate(state.indexerUrl, state.busyBuyer),
      seconds: f.seconds,
      txPerSecond: f.txPerSecond,
      blockTimeMs: f.blockTimeMs,
      maxLagSeconds: f.maxLagSeconds,
      indexerPid: state.indexerPid,
      log,
    });
  }
  return { modelOwner, before, after, follow, indexerRssMB: treeRssMB(state.indexerPid) };
}

const cell = (s: string, n: number) => s.padEnd(n);

/** The README table: one line per page, before and after side by side, then the follow figures. */
export function formatScalePages(r: ScalePagesResult): string {
  const time = (l: PagesRun["loads"][number] | undefined) =>
    !l ? "-" : l.error ? `error` : `${l.seconds === undefined ? `>${l.timeoutSeconds} s` : `${l.seconds.toFixed(2)} s`}${l.walletSeconds === undefined ? "" : ` (w ${l.walletSeconds.toFixed(1)})`}`;
  const lines = [
    `${cell("page", 12)} ${cell("before: time to content", 24)} ${cell("rows", 6)} ${cell("after: time to content", 23)} ${cell("rows", 6)} source`,
  ];
  for (const a of r.after.loads) {
    const b = r.before?.loads.find((x) => x.page === a.page);
    lines.push(`${cell(a.page, 12)} ${cell(time(b), 24)} ${cell(b ? String(b.rows) : "-", 6)} ${cell(time(a), 23)} ${cell(String(a.rows), 6)} ${b ? `${b.source} -> ` : ""}${a.source}`);
  }
  const errors = [...(r.before?.loads ?? []), ...r.after.loads].filter((l) => l.error).map((l) => `  ${l.page}: ${l.error}`);
  if (errors.length) lines.push("errors:", ...errors);
  lines.push("(w s): when the page showed the wallet connected, from navigation start.");
  lines.push(
    `dashboard RSS: before ${r.before ? `${r.before.dashboardRssMB.toFixed(0)} MB` : "-"}, after ${r.after.dashboardRssMB.toFixed(0)} MB; indexer RSS ${r.indexerRssMB ? `${r.indexerRssMB.toFixed(0)} MB` : "unknown (no indexerPid in the state)"}`,
  );
  if (!r.after.configIndexerUrl) lines.push("note: the dashboard build ignores indexerUrl (no indexerUrl in /api/config): the \"after\" loads read over RPC too.");
  const f = r.follow;
  if (f) {
    lines.push(
      `follow: ${f.txPerSecondAsked} tx/s asked, ${f.txPerSecondAchieved.toFixed(1)} tx/s mined (${f.opens} opens, ${f.claims} claims, ${f.txReverted} reverted) over ${f.seconds.toFixed(0)} s in ${f.blocks} blocks (${f.blockTimeMs ? `${f.blockTimeMs} ms blocks` : "automine"}): chain ${f.chainBlocksPerSecond.toFixed(2)} blocks/s, indexer ${f.indexerBlocksPerSecond.toFixed(2)} blocks/s`,
      `        indexer lag: max ${f.lagBlocks.max} blocks / ${f.lagSeconds.max.toFixed(2)} s, median ${f.lagBlocks.median} blocks / ${f.lagSeconds.median.toFixed(2)} s; first/last third median ${f.lagTrend.firstThird}/${f.lagTrend.lastThird} blocks; ` +
        `caught up ${f.catchUpAfterStop === undefined ? "not within the grace period" : `${f.catchUpAfterStop.toFixed(2)} s`} after the load stopped: ${f.keptUp ? "KEPT UP" : `DID NOT KEEP UP (${f.reason})`}`,
    );
  }
  return lines.join("\n");
}
