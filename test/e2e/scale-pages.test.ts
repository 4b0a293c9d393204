// The scale rehearsal's browser half, small (1/500 of `npm run scale` seeded, then `npm run scale:pages`' functions):
// the production dashboard in Chromium shows the busy buyer's channels, the busy provider's claims, the market and a
// model owner's models, before (RPC scans) and with the indexer configured; a page with nothing to list is reported
// as timed out, not as fast. Then a short live load (real opens and claims on 1 s blocks at 10 tx/s; whether 50 tx/s
// is followed is the script's figure and depends on the machine) that the indexer must follow to its end, with the
// money it moved checked on the chain and in the index.
import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createPublicClient, http, type Address, type PublicClient } from "viem";
import { paymentChannelsAbi, testUsdcAbi } from "../../protocol/generated/contracts.ts";
import { freePort } from "../../scripts/lib/chain.ts";
import { indexerQuery, startIndexer, waitCaughtUp, type RunningIndexer } from "../../scripts/lib/indexer.ts";
import { startLocalnet, type Localnet } from "../../scripts/lib/localnet.ts";
import { BulkRpc } from "../../scripts/lib/scale-rpc.ts";
import { scaledTargets, seedMarket, type SeedResult } from "../../scripts/lib/scale-seed.ts";
import { channelTemplate, followLoad } from "../../scripts/lib/scale-follow.ts";
import { measurePages, scalePageSpecs } from "../../scripts/lib/scale-pages.ts";
import { newestModelOwner, runScalePages, formatScalePages, type ScalePagesResult } from "../../scripts/lib/scale-pages-run.ts";
import type { ScaleState } from "../../scripts/lib/scale-state.ts";

describe("scale rehearsal, small: pages in chromium before/after the indexer, and the indexer following 10 tx/s", function () {
  this.timeout(600_000);
  // Tiny on purpose: the pages' speed at size is the script's job; this checks what they show and how it is timed.
  const targets = scaledTargets(0.002);
  let net: Localnet;
  let seeded: SeedResult;
  let indexer: RunningIndexer;
  let dataDir: string;
  let state: ScaleState;
  let client: PublicClient;
  let result: ScalePagesResult;

  before(async () => {
    const t0 = performance.now();
    const step = (what: string) => console.log(`      [${((performance.now() - t0) / 1000).toFixed(0)} s] ${what}`);
    net = await startLocalnet({ challengePeriod: 86_400n });
    const d = net.deployment;
    seeded = await seedMarket(new BulkRpc(net.chain.url), { chainId: d.chainId, token: d.token, modelRegistry: d.modelRegistry, deviceRegistry: d.deviceRegistry, paymentChannels: d.paymentChannels }, targets, () => {});
    step(`seeded ${JSON.stringify(targets)}`);
    dataDir = mkdtempSync(path.join(tmpdir(), "edgepay-scale-pages-"));
    indexer = await startIndexer({ rpcUrl: net.chain.url, chainId: d.chainId, contracts: d, port: await freePort(), dataDir, schema: `scale_pages_${net.chain.port}` });
    await waitCaughtUp(indexer, net.chain.url, { timeoutMs: 300_000 });
    step("indexer caught up");
    client = createPublicClient({ transport: http(net.chain.url) }) as PublicClient;
    state = {
      chainUrl: net.chain.url,
      chainId: d.chainId,
      deploymentId: `scale-pages-${net.chain.port}`,
      contracts: { token: d.token, modelRegistry: d.modelRegistry, deviceRegistry: d.deviceRegistry, paymentChannels: d.paymentChannels, flightRecorder: d.flightRecorder },
      indexerUrl: indexer.url,
      busyBuyer: seeded.busyBuyer,
      busyProvider: seeded.busyProvider,
      indexerPid: indexer.child.pid,
    };
  });
  after(async () => {
    await indexer?.stop();
    await net?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it("every page shows its list in chromium before and after, with the rows the chain holds", async () => {
    result = await runScalePages(state, { pageTimeoutMs: 90_000, follow: { seconds: 0, txPerSecond: 1 } });
    console.log(formatScalePages(result));
    const channelsOf = await client.getContractEvents({ address: state.contracts.paymentChannels, abi: paymentChannelsAbi, eventName: "ChannelOpened", args: { payer: seeded.busyBuyer }, fromBlock: 0n });
    const claimsOf = await client.getContractEvents({ address: state.contracts.paymentChannels, abi: paymentChannelsAbi, eventName: "Claimed", args: { payee: seeded.busyProvider }, fromBlock: 0n });
    const expectedRows: Record<string, number> = { Market: targets.devices, Buy: channelsOf.length, Provider: claimsOf.length };
    for (const run of [result.before!, result.after]) {
      expect(run.loads.map((l) => l.page)).to.deep.equal(["Market", "Buy", "Provider", "Model owner"]);
      expect(run.dashboardRssMB, `${run.label} dashboard RSS`).to.be.greaterThan(20);
      for (const load of run.loads) {
        const what = `${run.label} ${load.page}`;
        expect(load.error, what).to.equal(undefined);
        expect(load.seconds, `${what}: content appeared`).to.be.a("number").and.to.be.greaterThan(0).and.lessThan(90);
        expect(load.rows, `${what} rows`).to.be.greaterThan(0);
        const full = expectedRows[load.page];
        // Both sources show one page (20 rows, web/hooks/usePaged.ts): every row when the chain holds no more than a
        // page, never more rows than the chain holds.
        if (full !== undefined) {
          expect(load.rows, what).to.be.at.most(full);
          if (full <= 20) expect(load.rows, what).to.equal(full);
        }
      }
      // The page must say where its list came from once the dashboard reads the index; before, never the index.
      for (const load of run.loads) {
        if (run.label === "before") expect(load.source, `before ${load.page}`).to.not.equal("indexer");
        else if (run.configIndexerUrl) expect(load.source, `after ${load.page}`).to.equal("indexer");
      }
    }
    expect(result.before!.configIndexerUrl).to.equal(undefined);
  });

  it("a page with nothing to list for its account is reported as timed out, not as fast", async () => {
    const nobody = "0x000000000000000000000000000000000000dEaD" as Address;
    const specs = scalePageSpecs({ busyBuyer: nobody, busyProvider: nobody, modelOwner: await newestModelOwner(state.chainUrl, state.contracts.modelRegistry) }).filter((s) => s.page === "Buy");
    const run = await measurePages(state, specs, { label: "nobody", timeoutMs: 5_000 });
    expect(run.loads[0]!.seconds).to.equal(undefined);
    expect(run.loads[0]!.rows).to.equal(0);
    expect(run.loads[0]!.timeoutSeconds).to.equal(5);
  });

  it("the indexer follows 10 tx/s of real opens and claims, and indexes exactly the money they moved", async () => {
    const token = state.contracts.token;
    const balance = () => client.readContract({ address: token, abi: testUsdcAbi, functionName: "balanceOf", args: [state.busyBuyer] });
    const before = await balance();
    const template = await channelTemplate(state.indexerUrl, state.busyBuyer);
    const countBefore = (await indexerQuery<{ channels: { totalCount: number } }>(state.indexerUrl, `query ($p: String!) { channels(where: { payer: $p }) { totalCount } }`, { p: state.busyBuyer.toLowerCase() })).channels.totalCount;
    const f = await followLoad({
      chainUrl: state.chainUrl,
      chainId: state.chainId,
      paymentChannels: state.contracts.paymentChannels,
      indexerUrl: state.indexerUrl,
      payer: state.busyBuyer,
      template,
      seconds: 10,
      txPerSecond: 10,
      catchUpGraceMs: 60_000,
      indexerPid: state.indexerPid,
      log: (line) => console.log(`      ${line}`),
    });
    expect(f.txSent).to.be.within(90, 101);
    expect(f.txReverted).to.equal(0);
    expect(f.txMined).to.equal(f.txSent);
    expect(f.opens + f.claims).to.equal(f.txSent);
    expect(f.claims).to.be.greaterThan(f.opens);
    expect(f.txPerSecondAchieved).to.be.greaterThan(7);
    // 1 s blocks for 10 s: about ten real blocks (fewer on a starved node), not one per transaction.
    expect(f.blocks).to.be.within(4, 16);
    expect(f.samples.length).to.be.greaterThan(8);
    // The verdict follows from the figures; the index reached the final head, and never fell far behind.
    expect(f.keptUp).to.equal(f.reason === "");
    expect(f.catchUpAfterStop, "the indexer reached the final head").to.be.a("number");
    expect(f.lagSeconds.max).to.be.lessThan(30);
    expect(f.lagBlocks.max).to.be.at.least(f.lagBlocks.median);
    expect(f.indexerRssMB).to.be.greaterThan(20);
    // Money: the payer was given 10,000 tokens by the faucet and paid one deposit per channel opened.
    expect(await balance()).to.equal(before + 10_000_000_000n - 1_000_000n * BigInt(f.opens));
    // The index holds every new channel and every claim's amount.
    const after = await indexerQuery<{ channels: { totalCount: number } }>(state.indexerUrl, `query ($p: String!) { channels(where: { payer: $p }) { totalCount } }`, { p: state.busyBuyer.toLowerCase() });
    expect(after.channels.totalCount).to.equal(countBefore + f.opens);
    const newest = await indexerQuery<{ channels: { items: { claimed: string; claims: number }[] } }>(
      state.indexerUrl,
      `query ($p: String!, $n: Int!) { channels(where: { payer: $p }, orderBy: "openedBlock", orderDirection: "desc", limit: $n) { items { claimed claims } } }`,
      { p: state.busyBuyer.toLowerCase(), n: f.opens },
    );
    const claimedSum = newest.channels.items.reduce((s, c) => s + BigInt(c.claimed), 0n);
    expect(claimedSum).to.equal(template.price * BigInt(f.claims));
    expect(newest.channels.items.reduce((s, c) => s + c.claims, 0)).to.equal(f.claims);
  });
});
