// The Ponder indexer (indexer/) against a real Hardhat chain with real activity: devices, models, licenses, channels,
// single and batch claims, a top-up, a close request, royalties withdrawn, anchors and a proven equivocation (a slash). Every table is
// checked against the chain's own state and logs (amounts exact, one row per event). Faults: the indexer reads through
// a proxy that caps eth_getLogs ranges, fails every ninth call and (at first) is slow; it is stopped in the middle
// of its backfill and restarted; then a reorg (evm_snapshot / evm_revert, then other blocks). The index must come out
// exactly equal to the chain each time. Two indexer start-ups (Ponder's build and PGlite set-up) dominate the runtime.
import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { keccak256, toHex, type Address, type Hex, type PublicClient } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { deviceRegistryAbi, flightRecorderAbi, modelRegistryAbi, paymentChannelsAbi, testUsdcAbi } from "../../protocol/generated/contracts.ts";
import { signVoucher } from "../../protocol/voucher.ts";
import { freePort, rpc } from "../../scripts/lib/chain.ts";
import { indexerQuery, indexerStatus, startIndexer, waitCaughtUp, type RunningIndexer } from "../../scripts/lib/indexer.ts";
import { clientsFor, startLocalnet, type Localnet } from "../../scripts/lib/localnet.ts";
import { receiptArg, signReceiptWith } from "../helpers/disputes.ts";
import { startRpcProxy, type RpcProxy } from "../../scripts/lib/rpc-proxy.ts";
import { MODEL_OWNER_INDEX, openChannel, PPOCR_DIRECTION_CLS, setupMarket, SILERO_VAD_V5, type Market, type TestChannel } from "../../scripts/lib/worker-fixture.ts";

const lower = (s: string) => s.toLowerCase();

describe("indexer: Ponder over the marketplace contracts", function () {
  this.timeout(300_000);
  let net: Localnet;
  let market: Market;
  let reader: PublicClient;
  let dir: string;
  let indexer: RunningIndexer | undefined;
  let proxy: RpcProxy | undefined;
  let port: number;
  const channels: TestChannel[] = [];

  async function mined(hash: Promise<Hex>) {
    const receipt = await reader.waitForTransactionReceipt({ hash: await hash });
    if (receipt.status !== "success") throw new Error(`transaction ${receipt.transactionHash} reverted`);
    return receipt;
  }

  /** The device key sends its own claims and anchors (as the worker does). */
  const device = () => ({ account: privateKeyToAccount(market.device.privateKey) });

  async function claimOne(ch: TestChannel, amount: bigint) {
    const v = await signVoucher(ch.signer, { chainId: market.chainId, paymentChannels: market.contracts.paymentChannels, channelId: ch.id, cumulativeAmount: amount });
    const { account } = device();
    return mined(
      clientsFor(net, 0).walletClient.writeContract({ account, address: market.contracts.paymentChannels, abi: paymentChannelsAbi, functionName: "claim", args: [ch.terms, amount, v.signature] }),
    );
  }

  async function claimBatch(items: [TestChannel, bigint][]) {
    const claims = [];
    for (const [ch, amount] of items) {
      const v = await signVoucher(ch.signer, { chainId: market.chainId, paymentChannels: market.contracts.paymentChannels, channelId: ch.id, cumulativeAmount: amount });
      claims.push({ terms: ch.terms, cumulativeAmount: amount, signature: v.signature });
    }
    const { account } = device();
    return mined(clientsFor(net, 0).walletClient.writeContract({ account, address: market.contracts.paymentChannels, abi: paymentChannelsAbi, functionName: "claimMany", args: [claims] }));
  }

  async function anchor(fromSeq: bigint, toSeq: bigint) {
    const { account } = device();
    const root = keccak256(toHex(`root ${fromSeq}-${toSeq}`));
    const head = keccak256(toHex(`head ${toSeq}`));
    return mined(clientsFor(net, 0).walletClient.writeContract({ account, address: market.contracts.flightRecorder, abi: flightRecorderAbi, functionName: "anchor", args: [root, fromSeq, toSeq, head] }));
  }

  /** Two receipts for the same input with different outputs, signed by the device key: a proven equivocation slashes it. */
  async function proveEquivocation() {
    const ch = channels[0]!;
    const base = {
      channelId: ch.id,
      cumulativeAmount: 1_000n,
      units: 1n,
      sequence: 1n,
      modelId: ch.terms.modelId,
      modelHash: market.models[0]!.hash,
      inputHash: keccak256(toHex("input")),
      outputHash: keccak256(toHex("output a")),
      previous: `0x${"00".repeat(32)}` as Hex,
      timestamp: 1n,
    };
    const a = await signReceiptWith(market.device.privateKey, base, market.chainId, market.contracts.paymentChannels);
    const b = await signReceiptWith(market.device.privateKey, { ...base, outputHash: keccak256(toHex("output b")) }, market.chainId, market.contracts.paymentChannels);
    const reporter = clientsFor(net, 7);
    return mined(
      reporter.walletClient.writeContract({
        address: market.contracts.flightRecorder,
        abi: flightRecorderAbi,
        functionName: "reportEquivocation",
        args: [market.device.address, receiptArg(a), a.signature, receiptArg(b), b.signature],
      }),
    );
  }

  /**
   * Adds `blocks` empty blocks. hardhat_mine is fast but the blocks it reserves do not link (their parentHash is not
   * the previous block's hash), which Ponder's live sync rightly takes for a reorg deeper than finality; so only
   * blocks that end up below the finality window (30) come from it, the newest ones are mined one by one.
   */
  async function mine(blocks: number) {
    const linked = Math.min(blocks, 40);
    if (blocks > linked) await rpc(net.chain.url, "hardhat_mine", [toHex(blocks - linked)]);
    for (let i = 0; i < linked; i++) await rpc(net.chain.url, "evm_mine");
  }

  async function start(rpcUrl: string, getLogsRange?: number) {
    indexer = await startIndexer({
      rpcUrl,
      chainId: market.chainId,
      contracts: market.contracts,
      port,
      dataDir: path.join(dir, "pglite"),
      getLogsRange,
      pollingIntervalMs: 200,
      logFile: path.join(dir, "indexer.log"),
    });
    return indexer;
  }

  async function stopIndexer() {
    await indexer?.stop();
    indexer = undefined;
  }

  // ------------------------------------------------------------------ the index against the chain

  const PAGE = 1000;
  async function rows<T>(table: string, fields: string): Promise<T[]> {
    const data = await indexerQuery<Record<string, { items: T[]; totalCount: number }>>(indexer!.url, `{ ${table}(limit: ${PAGE}) { totalCount items { ${fields} } } }`);
    const page = data[table]!;
    expect(page.totalCount, `${table}: more rows than one page`).to.be.at.most(PAGE);
    return page.items;
  }

  /** Every table compared with the chain: contract state for balances and status, logs for one-row-per-event. */
  async function expectIndexEqualsChain() {
    const pc = market.contracts.paymentChannels;
    const events = async (address: Address, abi: typeof paymentChannelsAbi | typeof deviceRegistryAbi | typeof modelRegistryAbi | typeof flightRecorderAbi, eventName: string) =>
      reader.getContractEvents({ address, abi, eventName: eventName as never, fromBlock: 0n, toBlock: "latest" }) as Promise<{ args: Record<string, unknown>; transactionHash: Hex; logIndex: number }[]>;

    // Channels: deposit, claimed, close state from getChannel; the paid-out split from the Claimed logs.
    const opened = await events(pc, paymentChannelsAbi, "ChannelOpened");
    const claimedLogs = await events(pc, paymentChannelsAbi, "Claimed");
    const indexedChannels = await rows<{ id: Hex; deposit: string; claimed: string; providerPaid: string; royaltyPaid: string; claims: number; state: string; closesAt: string | null; modelId: string; payer: Hex }>(
      "channels",
      "id deposit claimed providerPaid royaltyPaid claims state closesAt modelId payer",
    );
    expect(indexedChannels.map((c) => c.id).sort()).to.deep.equal(opened.map((l) => lower(l.args.channelId as string)).sort());
    for (const row of indexedChannels) {
      const onChain = await reader.readContract({ address: pc, abi: paymentChannelsAbi, functionName: "getChannel", args: [row.id] });
      const mine = claimedLogs.filter((l) => lower(l.args.channelId as string) === row.id);
      expect({ deposit: row.deposit, claimed: row.claimed, closesAt: row.closesAt ?? "0", state: row.state }, `channel ${row.id}`).to.deep.equal({
        deposit: onChain.deposit.toString(),
        claimed: onChain.claimed.toString(),
        closesAt: onChain.closesAt.toString(),
        state: onChain.settled ? "settled" : onChain.closesAt !== 0 ? "closing" : "open",
      });
      expect(row.claims).to.equal(mine.length);
      expect(row.providerPaid).to.equal(mine.reduce((s, l) => s + (l.args.providerAmount as bigint), 0n).toString());
      expect(row.royaltyPaid).to.equal(mine.reduce((s, l) => s + (l.args.royalty as bigint), 0n).toString());
    }

    // Claims: exactly one row per Claimed log (no duplicates after restarts and reorgs), gas from the receipt.
    const indexedClaims = await rows<{ txHash: Hex; logIndex: number; cumulativeAmount: string; providerAmount: string; royalty: string; txGasUsed: string; channelId: Hex }>(
      "claims",
      "txHash logIndex cumulativeAmount providerAmount royalty txGasUsed channelId",
    );
    const key = (tx: string, i: number) => `${lower(tx)}#${i}`;
    expect(indexedClaims.map((c) => key(c.txHash, c.logIndex)).sort()).to.deep.equal(claimedLogs.map((l) => key(l.transactionHash, l.logIndex)).sort());
    const gas = new Map<string, bigint>();
    for (const c of indexedClaims) {
      const log = claimedLogs.find((l) => key(l.transactionHash, l.logIndex) === key(c.txHash, c.logIndex))!;
      expect([c.cumulativeAmount, c.providerAmount, c.royalty, c.channelId]).to.deep.equal([
        (log.args.cumulativeAmount as bigint).toString(),
        (log.args.providerAmount as bigint).toString(),
        (log.args.royalty as bigint).toString(),
        lower(log.args.channelId as string),
      ]);
      if (!gas.has(c.txHash)) gas.set(c.txHash, (await reader.getTransactionReceipt({ hash: c.txHash })).gasUsed);
      expect(c.txGasUsed).to.equal(gas.get(c.txHash)!.toString());
    }

    // Royalties per model and token: accrued minus withdrawn is what the contract still holds.
    const royalties = await rows<{ modelId: string; token: Hex; accrued: string; withdrawn: string }>("royaltys", "modelId token accrued withdrawn");
    const withdrawnLogs = await events(pc, paymentChannelsAbi, "RoyaltiesWithdrawn");
    for (const r of royalties) {
      const held = await reader.readContract({ address: pc, abi: paymentChannelsAbi, functionName: "royaltiesOf", args: [BigInt(r.modelId), r.token] });
      expect(BigInt(r.accrued) - BigInt(r.withdrawn), `royalties of model ${r.modelId}`).to.equal(held);
      const sumWithdrawn = withdrawnLogs.filter((l) => (l.args.modelId as bigint).toString() === r.modelId).reduce((s, l) => s + (l.args.amount as bigint), 0n);
      expect(r.withdrawn).to.equal(sumWithdrawn.toString());
    }
    const royaltyModels = new Set(indexedChannels.filter((c) => c.claims > 0).map((c) => c.modelId));
    expect(new Set(royalties.map((r) => r.modelId))).to.deep.equal(royaltyModels);

    // Devices and offerings.
    const devices = await rows<{ id: Hex; owner: Hex; stake: string; status: string; slashedTotal: string }>("devices", "id owner stake status slashedTotal");
    expect(devices.map((d) => d.id)).to.deep.equal([lower(market.device.address)]);
    const statusNames = ["none", "active", "paused", "exiting", "removed", "withdrawn"];
    for (const d of devices) {
      const onChain = await reader.readContract({ address: market.contracts.deviceRegistry, abi: deviceRegistryAbi, functionName: "getDevice", args: [d.id] });
      expect({ owner: d.owner, stake: d.stake, status: d.status }).to.deep.equal({ owner: lower(onChain.owner), stake: onChain.stake.toString(), status: statusNames[onChain.status] });
    }
    const offerings = await rows<{ device: Hex; modelId: string; token: Hex; price: string; active: boolean }>("offerings", "device modelId token price active");
    expect(offerings.length).to.equal(market.models.length);
    for (const o of offerings) {
      const price = await reader.readContract({ address: market.contracts.deviceRegistry, abi: deviceRegistryAbi, functionName: "offeringPrice", args: [o.device, BigInt(o.modelId), o.token] });
      expect([o.price, o.active]).to.deep.equal([price.toString(), price !== 0n]);
    }

    // Models and licenses.
    const models = await rows<{ id: string; owner: Hex; royaltyBps: number; licenseFee: string; name: string; deprecated: boolean; licenses: number }>("models", "id owner royaltyBps licenseFee name deprecated licenses");
    expect(models.length).to.equal(Number(await reader.readContract({ address: market.contracts.modelRegistry, abi: modelRegistryAbi, functionName: "modelCount" })));
    for (const m of models) {
      const onChain = await reader.readContract({ address: market.contracts.modelRegistry, abi: modelRegistryAbi, functionName: "getModel", args: [BigInt(m.id)] });
      expect([m.owner, m.royaltyBps, m.licenseFee, m.name, m.deprecated]).to.deep.equal([lower(onChain.owner), onChain.royaltyBps, onChain.licenseFee.toString(), onChain.name, onChain.deprecated]);
    }
    const licenses = await rows<{ modelId: string; licensee: Hex; fee: string }>("licenses", "modelId licensee fee");
    expect(licenses.length).to.equal((await events(market.contracts.modelRegistry, modelRegistryAbi, "LicenseTaken")).length);
    for (const l of licenses) expect(await reader.readContract({ address: market.contracts.modelRegistry, abi: modelRegistryAbi, functionName: "hasLicense", args: [BigInt(l.modelId), l.licensee] })).to.equal(true);

    // Anchors and slashes.
    const anchors = await rows<{ device: Hex; fromSeq: string; toSeq: string; root: Hex }>("anchors", "device fromSeq toSeq root");
    expect(anchors.length).to.equal((await events(market.contracts.flightRecorder, flightRecorderAbi, "Anchored")).length);
    for (const a of anchors) {
      expect(
        await reader.readContract({ address: market.contracts.flightRecorder, abi: flightRecorderAbi, functionName: "isAnchored", args: [a.device, a.root, BigInt(a.fromSeq), BigInt(a.toSeq)] }),
      ).to.equal(true);
    }
    const slashes = await rows<{ amount: string }>("slashs", "amount");
    const slashLogs = await events(market.contracts.deviceRegistry, deviceRegistryAbi, "DeviceSlashed");
    expect(slashes.map((s) => s.amount).sort()).to.deep.equal(slashLogs.map((l) => (l.args.amount as bigint).toString()).sort());
    expect(devices[0]!.slashedTotal).to.equal(slashLogs.reduce((s, l) => s + (l.args.amount as bigint), 0n).toString());
    const disputes = await rows<{ kind: string; state: string; reporter: Hex; slashed: string | null; reward: string | null }>("disputes", "kind state reporter slashed reward");
    const proven = await events(market.contracts.flightRecorder, flightRecorderAbi, "EquivocationProven");
    expect(disputes.filter((d) => d.kind === "equivocation").map((d) => [d.state, d.reporter, d.slashed, d.reward])).to.deep.equal(
      proven.map((l) => ["proven", lower(l.args.reporter as string), (l.args.slashed as bigint).toString(), (l.args.reward as bigint).toString()]),
    );
    return { channels: indexedChannels.length, claims: indexedClaims.length, slashes: slashes.length, disputes: disputes.length };
  }

  async function countLogs(): Promise<number> {
    let n = 0;
    for (const address of [market.contracts.modelRegistry, market.contracts.deviceRegistry, market.contracts.paymentChannels, market.contracts.flightRecorder]) {
      n += (await reader.getLogs({ address, fromBlock: 0n, toBlock: "latest" })).length;
    }
    return n;
  }

  // ------------------------------------------------------------------ set-up

  before(async () => {
    net = await startLocalnet({ challengePeriod: 3600n });
    reader = clientsFor(net, 0).publicClient as PublicClient;
    market = await setupMarket(net, {
      start: false,
      models: [
        { file: SILERO_VAD_V5, name: "Silero VAD v5", royaltyBps: 1_000 },
        { file: PPOCR_DIRECTION_CLS, name: "PP-OCR cls", royaltyBps: 333, licenseFee: 0n },
      ],
    });
    dir = mkdtempSync(path.join(tmpdir(), "edgepay-indexer-"));
    port = await freePort();

    // Activity before the indexer starts (indexed by its backfill).
    channels.push(await openChannel(market, { buyer: 3, deposit: 1_000_000n }));
    channels.push(await openChannel(market, { buyer: 4, deposit: 500_000n }));
    channels.push(await openChannel(market, { buyer: 5, deposit: 300_000n, modelId: market.models[1]!.modelId }));
    await claimOne(channels[0]!, 10_007n);
    await claimBatch([
      [channels[0]!, 25_013n],
      [channels[1]!, 7_001n],
      [channels[2]!, 3_331n],
    ]);
    await anchor(1n, 5n);
    const buyer5 = clientsFor(net, 5);
    await mined(buyer5.walletClient.writeContract({ address: market.contracts.paymentChannels, abi: paymentChannelsAbi, functionName: "requestClose", args: [channels[2]!.terms] }));
    const owner = clientsFor(net, MODEL_OWNER_INDEX);
    await mined(
      owner.walletClient.writeContract({ address: market.contracts.paymentChannels, abi: paymentChannelsAbi, functionName: "withdrawRoyalties", args: [market.models[0]!.modelId, market.token, owner.account.address] }),
    );
    // A longer chain with more activity in its middle, so a sync has many eth_getLogs ranges to fetch and can be stopped
    // half-way; all of this lies deeper than Ponder's finality window (30 blocks) and goes through its backfill.
    await mine(150);
    await claimBatch([
      [channels[0]!, 31_000n],
      [channels[1]!, 12_000n],
    ]);
    await anchor(6n, 9n);
    await mine(150);
  });

  after(async () => {
    await indexer?.stop().catch(() => undefined);
    await proxy?.stop();
    await market?.stop();
    await net?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("backfills through a capped, failing, slow RPC; stopped mid-sync and restarted, it resumes without duplicates; tables equal the chain", async () => {
    const head = Number(await reader.getBlockNumber());
    const events = await countLogs();
    proxy = await startRpcProxy(net.chain.url, { maxLogRange: 25, failEvery: 9, delayMs: 40 });
    await start(proxy.url);
    // Stop it as soon as it has indexed something but before it is done.
    let stoppedAt: number | undefined;
    for (const deadline = Date.now() + 60_000; Date.now() < deadline && stoppedAt === undefined; ) {
      const s = await indexerStatus(indexer!.url);
      if (s.indexedBlock !== undefined && s.indexedBlock > 0) stoppedAt = s.indexedBlock;
      else await new Promise((r) => setTimeout(r, 50));
    }
    await stopIndexer();
    expect(stoppedAt, "the indexer made progress before the restart").to.be.a("number");
    expect(stoppedAt!).to.be.below(head);

    const spawned = Date.now();
    await start(proxy.url);
    const serving = Date.now();
    const caught = await waitCaughtUp(indexer!, net.chain.url, { timeoutMs: 120_000 });
    console.log(
      `      stopped at block ${stoppedAt} of ${head}; the restarted indexer answered ${((serving - spawned) / 1000).toFixed(1)} s after spawn and caught up ${caught.seconds.toFixed(1)} s later` +
        ` (${events} events, ${(events / caught.seconds).toFixed(1)} events/s; ${proxy.refused.range} eth_getLogs refused for their range, ${proxy.refused.transient} calls failed on purpose)`,
    );
    expect(proxy.refused.range, "the proxy capped some eth_getLogs ranges").to.be.greaterThan(0);
    expect(proxy.refused.transient, "the proxy failed some calls").to.be.greaterThan(0);
    const counts = await expectIndexEqualsChain();
    expect(counts).to.deep.equal({ channels: 3, claims: 6, slashes: 0, disputes: 0 });
  });

  it("follows new blocks live, and a reorg (evm_snapshot, evm_revert, other blocks) leaves only the surviving chain", async () => {
    // Still through the capped, failing proxy, without the added latency.
    proxy!.faults.delayMs = 0;
    const buyer3 = clientsFor(net, 3);
    await mined(buyer3.walletClient.writeContract({ address: market.token, abi: testUsdcAbi, functionName: "faucet", args: [buyer3.account.address, 50_000n] }));
    await mined(buyer3.walletClient.writeContract({ address: market.token, abi: testUsdcAbi, functionName: "approve", args: [market.contracts.paymentChannels, 50_000n] }));
    await mined(buyer3.walletClient.writeContract({ address: market.contracts.paymentChannels, abi: paymentChannelsAbi, functionName: "topUp", args: [channels[0]!.terms, 50_000n] }));
    await claimOne(channels[1]!, 19_999n);
    await waitCaughtUp(indexer!, net.chain.url);
    expect(await expectIndexEqualsChain()).to.deep.equal({ channels: 3, claims: 7, slashes: 0, disputes: 0 });

    // A branch that will be orphaned: a new channel and claims, indexed, then reverted.
    const snapshot = await rpc<string>(net.chain.url, "evm_snapshot");
    const doomed = await openChannel(market, { buyer: 6, deposit: 100_000n });
    await claimOne(doomed, 4_444n);
    await claimOne(channels[0]!, 40_000n);
    await waitCaughtUp(indexer!, net.chain.url);
    expect((await rows<{ id: Hex }>("channels", "id")).map((c) => c.id)).to.include(lower(doomed.id));
    expect(await rpc<boolean>(net.chain.url, "evm_revert", [snapshot])).to.equal(true);
    // The surviving branch: other transactions, and more blocks than were reverted so its head is higher.
    await claimOne(channels[0]!, 35_000n);
    await proveEquivocation();
    await mine(12);
    await waitCaughtUp(indexer!, net.chain.url, { timeoutMs: 60_000 });
    const counts = await expectIndexEqualsChain();
    expect((await rows<{ id: Hex }>("channels", "id")).map((c) => c.id)).to.not.include(lower(doomed.id));
    expect(counts.claims).to.equal(8);
    expect(counts.disputes).to.equal(1);
    expect(counts.slashes).to.be.greaterThan(0);
  });
});
