// The dashboard's list reads (web/lib/list-reads.ts) from the indexer and from the chain, on one seeded chain: the
// same rows in the same order for every list, page sizes equal to, one below and one above the row count, both sort
// directions, and filters (payer, devices, payee, owner, models). Then the freshness banner's numbers: the indexer's RPC
// fails every call while blocks are mined, so the index is behind by exactly those blocks, and catches up when the RPC
// heals; an unreachable indexer makes every list come from the chain (said, not hidden). The buyer CLI's `channels`
// prints the same channels from either source.
import { expect } from "chai";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { keccak256, toHex, type Address, type Hex, type PublicClient } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { deviceRegistryAbi, flightRecorderAbi, paymentChannelsAbi, testUsdcAbi } from "../../protocol/generated/contracts.ts";
import { indexerClient, indexLag, type IndexerClient } from "../../protocol/indexer/client.ts";
import { signVoucher } from "../../protocol/voucher.ts";
import { freePort, rpc } from "../../scripts/lib/chain.ts";
import { startIndexer, waitCaughtUp, type RunningIndexer } from "../../scripts/lib/indexer.ts";
import { clientsFor, startLocalnet, TEST_KEYS, type Localnet } from "../../scripts/lib/localnet.ts";
import { ROOT } from "../../scripts/lib/paths.ts";
import { startRpcProxy, type RpcProxy } from "../../scripts/lib/rpc-proxy.ts";
import { openChannel, PPOCR_DIRECTION_CLS, setupMarket, SILERO_VAD_V5, type Market, type TestChannel } from "../../scripts/lib/worker-fixture.ts";
import {
  readAnchorsPage,
  readChannelsPage,
  readClaimsPage,
  readDevicesPage,
  readLicensesPage,
  readModelsPage,
  type ListSource,
  type PageRequest,
  type SourcedPage,
} from "../../web/lib/list-reads.ts";
import { readMarketDevicesPage, type MarketFilter, type MarketSort } from "../../web/lib/market-reads.ts";
import type { RuntimeConfig } from "../../web/lib/runtime-config.ts";
import { registerDevice } from "../../worker/register.ts";

const run = promisify(execFile);
const json = (v: unknown) => JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? x.toString() : x))) as unknown;

describe("dashboard lists: indexer and chain agree; freshness and fallback", function () {
  this.timeout(300_000);
  let net: Localnet;
  let market: Market;
  let reader: PublicClient;
  let indexer: RunningIndexer | undefined;
  let proxy: RpcProxy | undefined;
  let dir: string;
  let viaIndex: ListSource;
  let viaChain: ListSource;
  let ix: IndexerClient;
  const buyerA = 3;
  const buyerB = 4;
  const opened: TestChannel[] = [];
  const extraDevices: Record<"b" | "c" | "d" | "e", Address> = { b: "0x", c: "0x", d: "0x", e: "0x" };

  async function mined(hash: Promise<Hex>) {
    const receipt = await reader.waitForTransactionReceipt({ hash: await hash });
    if (receipt.status !== "success") throw new Error(`transaction ${receipt.transactionHash} reverted`);
  }
  const deviceWallet = () => clientsFor(net, 0).walletClient;
  const deviceAccount = () => privateKeyToAccount(market.device.privateKey);

  async function claim(ch: TestChannel, amount: bigint) {
    const v = await signVoucher(ch.signer, { chainId: market.chainId, paymentChannels: market.contracts.paymentChannels, channelId: ch.id, cumulativeAmount: amount });
    await mined(deviceWallet().writeContract({ account: deviceAccount(), address: market.contracts.paymentChannels, abi: paymentChannelsAbi, functionName: "claim", args: [ch.terms, amount, v.signature] }));
  }
  async function anchor(fromSeq: bigint, toSeq: bigint) {
    const root = keccak256(toHex(`root ${fromSeq}`));
    await mined(
      deviceWallet().writeContract({ account: deviceAccount(), address: market.contracts.flightRecorder, abi: flightRecorderAbi, functionName: "anchor", args: [root, fromSeq, toSeq, keccak256(toHex(`head ${toSeq}`))] }),
    );
  }

  before(async () => {
    net = await startLocalnet({ challengePeriod: 3600n });
    market = await setupMarket(net, {
      start: false,
      models: [
        { file: SILERO_VAD_V5, name: "Silero VAD v5", royaltyBps: 1_000 },
        { file: PPOCR_DIRECTION_CLS, name: "PP-OCR cls", royaltyBps: 333, licenseFee: 0n },
      ],
    });
    reader = clientsFor(net, 0).publicClient;
    const t0 = Date.now();
    const note = (what: string) => process.env.EDGEPAY_TEST_PROGRESS && console.log(`  [${((Date.now() - t0) / 1000).toFixed(1)} s] ${what}`);
    // Buyer A: five channels (two models), buyer B: two; claims on four of them, in separate blocks; two anchors.
    for (let i = 0; i < 5; i++) opened.push(await openChannel(market, { buyer: buyerA, deposit: 100_000n + BigInt(i), modelId: market.models[i % 2]!.modelId }));
    for (let i = 0; i < 2; i++) opened.push(await openChannel(market, { buyer: buyerB, deposit: 50_000n + BigInt(i) }));
    note("channels opened");
    await claim(opened[0]!, 10_000n);
    await claim(opened[1]!, 2_000n);
    await claim(opened[0]!, 15_000n);
    await claim(opened[5]!, 7_000n);
    await anchor(1n, 3n);
    await anchor(4n, 6n);
    // Four more devices for the Market's paged list: stakes, prices (a tie, a device on two price pages), a LIKE
    // wildcard in an endpoint, one without offerings, one paused.
    const provider = clientsFor(net, 2);
    const minStake = BigInt(await reader.readContract({ address: market.contracts.deviceRegistry, abi: deviceRegistryAbi, functionName: "minStake" }));
    await mined(provider.walletClient.writeContract({ account: provider.account, chain: provider.walletClient.chain, address: market.token, abi: testUsdcAbi, functionName: "faucet", args: [provider.account.address, minStake * 10n] }));
    const [m0, m1] = [market.models[0]!.modelId, market.models[1]!.modelId];
    const extra = async (endpoint: string, metadata: string, stake: bigint, models: { modelId: bigint; price: bigint }[]) =>
      (await registerDevice({ rpcUrl: net.chain.url, contracts: market.contracts, ownerKey: TEST_KEYS[2], devicePrivateKey: generatePrivateKey(), endpoint, metadata, stake, models, fundEth: "0" })).device;
    extraDevices.b = await extra("http://b.example/eu-west", '{"region":"eu-west"}', minStake + 5_000n, [{ modelId: m0, price: 5_000n }, { modelId: m1, price: 30_000n }]);
    extraDevices.c = await extra("http://c.example/us_east", "{}", minStake + 7_000n, [{ modelId: m1, price: 5_000n }]);
    extraDevices.d = await extra("http://d.example/", "{}", minStake + 1n, []);
    extraDevices.e = await extra("http://e.example/EU-north", "{}", minStake + 2n, [{ modelId: m0, price: 12_345n }]);
    await mined(provider.walletClient.writeContract({ account: provider.account, chain: provider.walletClient.chain, address: market.contracts.deviceRegistry, abi: deviceRegistryAbi, functionName: "pause", args: [extraDevices.e] }));

    note("claims and anchors sent");
    dir = mkdtempSync(path.join(tmpdir(), "edgepay-dash-ix-"));
    proxy = await startRpcProxy(net.chain.url);
    indexer = await startIndexer({
      rpcUrl: proxy.url,
      chainId: market.chainId,
      contracts: market.contracts,
      port: await freePort(),
      dataDir: path.join(dir, "pglite"),
      logFile: path.join(dir, "indexer.log"),
    });
    note("indexer serving");
    await waitCaughtUp(indexer, net.chain.url);
    note("indexer caught up");
    const config: RuntimeConfig = {
      chainId: market.chainId,
      rpcUrl: net.chain.url,
      deploymentId: "test",
      contracts: { ...market.contracts },
      fromBlock: "0",
      workers: [],
      indexerUrl: indexer.url,
    };
    ix = indexerClient(indexer.url);
    viaIndex = { client: reader, config, indexer: ix };
    viaChain = { client: reader, config };
  });

  after(async () => {
    await indexer?.stop().catch(() => undefined);
    await proxy?.stop();
    await market?.stop();
    await net?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Reads `read` from both sources over every page of size n-1, n and n+1 (n = the row count), both directions. */
  async function agree<T>(what: string, read: (src: ListSource, page: PageRequest) => Promise<SourcedPage<T>>, strip: (row: T) => unknown = (r) => r): Promise<T[]> {
    const first = await read(viaChain, { offset: 0, limit: 1000 });
    const n = first.totalCount;
    expect(n, `${what}: rows to compare`).to.be.greaterThan(0);
    for (const size of [n - 1, n, n + 1].filter((s) => s >= 1)) {
      for (const orderDirection of ["asc", "desc"] as const) {
        const seen: unknown[] = [];
        for (let offset = 0; offset < n; offset += size) {
          const page = { offset, limit: size, orderDirection };
          const [a, b] = await Promise.all([read(viaIndex, page), read(viaChain, page)]);
          expect(a.source, `${what}: indexer answered`).to.equal("indexer");
          expect(b.source).to.equal("rpc");
          expect(a.totalCount, `${what} total (size ${size}, ${orderDirection})`).to.equal(n);
          expect(b.totalCount).to.equal(n);
          expect(json(a.items.map(strip)), `${what} offset ${offset} size ${size} ${orderDirection}`).to.deep.equal(json(b.items.map(strip)));
          expect(a.items.length).to.equal(Math.min(size, n - offset));
          seen.push(...a.items.map(strip));
        }
        expect(seen.length, `${what}: pages cover every row once`).to.equal(n);
        expect(new Set(seen.map((r) => JSON.stringify(json(r)))).size).to.equal(n);
      }
    }
    return first.items;
  }

  const noTx = <T extends { openedTx?: Hex }>({ openedTx: _tx, ...rest }: T) => rest;

  it("channels: a payer's and a device's, same rows and order from the index and the chain, pages of n-1, n, n+1", async () => {
    const a = clientsFor(net, buyerA).account.address;
    const b = clientsFor(net, buyerB).account.address;
    const ofA = await agree("channels of buyer A", (src, p) => readChannelsPage(src, { payer: a }, p), noTx);
    expect(ofA.map((c) => c.terms.payer)).to.deep.equal(Array(5).fill(a));
    const ofB = await agree("channels of buyer B", (src, p) => readChannelsPage(src, { payer: b }, p), noTx);
    expect(ofB).to.have.length(2);
    const ofDevice = await agree("channels to the device", (src, p) => readChannelsPage(src, { devices: [market.device.address] }, p), noTx);
    expect(ofDevice).to.have.length(7);
    // Newest first by default, and money as on-chain.
    const page = await readChannelsPage(viaIndex, { payer: a }, { offset: 0, limit: 5 });
    const blocks = page.items.map((c) => c.openedBlock);
    expect(blocks).to.deep.equal([...blocks].sort((x, y) => (x > y ? -1 : x < y ? 1 : 0)));
    const first = page.items.find((c) => c.channelId === opened[0]!.id)!;
    expect(first.claimed).to.equal(15_000n);
    expect(first.deposit).to.equal(100_000n);
    expect(await readChannelsPage(viaIndex, { devices: [clientsFor(net, 9).account.address as Address] }, { offset: 0, limit: 10 })).to.include({ totalCount: 0 });
  });

  it("claims, models, devices, licenses and anchors: same rows and order from both sources, with filters", async () => {
    const claims = await agree("claims to the provider", (src, p) => readClaimsPage(src, { payee: market.provider }, p));
    expect(claims.map((c) => c.providerAmount > 0n)).to.deep.equal(Array(4).fill(true));
    await agree("claims on the device's channels", (src, p) => readClaimsPage(src, { devices: [market.device.address] }, p));
    // By model (the model owner's royalties): each claim is on exactly one model's channel.
    const perModel = [];
    for (const m of market.models) perModel.push(await agree(`claims on model ${m.modelId}`, (src, p) => readClaimsPage(src, { modelIds: [m.modelId] }, p)));
    expect(perModel.reduce((n, list) => n + list.length, 0)).to.equal(claims.length);
    expect(perModel.filter((list) => list.length > 0).length).to.be.greaterThan(0);
    expect(await agree("claims on both models", (src, p) => readClaimsPage(src, { modelIds: market.models.map((m) => m.modelId) }, p))).to.have.length(claims.length);
    expect((await readClaimsPage(viaIndex, { payee: clientsFor(net, 9).account.address }, { offset: 0, limit: 5 })).totalCount).to.equal(0);
    const models = await agree("models", (src, p) => readModelsPage(src, {}, p));
    expect(models.map((m) => m.name).sort()).to.deep.equal(["PP-OCR cls", "Silero VAD v5"]);
    await agree("models of their owner", (src, p) => readModelsPage(src, { owner: market.modelOwner }, p));
    const devices = await agree("devices", (src, p) => readDevicesPage(src, {}, p));
    expect(devices.find((d) => d.device === market.device.address)!.offerings.length).to.equal(2);
    expect(devices).to.have.length(5);
    await agree("licenses", (src, p) => readLicensesPage(src, {}, p));
    await agree("licenses of model 2", (src, p) => readLicensesPage(src, { modelIds: [market.models[1]!.modelId] }, p));
    const anchors = await agree("anchors", (src, p) => readAnchorsPage(src, market.device.address, p));
    expect(anchors.map((x) => x.toSeq).sort()).to.deep.equal([3n, 6n]);
  });

  it("market devices: sorts, model and text filters by the source; the same page from the index and the chain", async () => {
    const all = [market.device.address, extraDevices.b, extraDevices.c, extraDevices.d, extraDevices.e];
    const [m0, m1] = [market.models[0]!.modelId, market.models[1]!.modelId];
    const read = (filter: MarketFilter, sort: MarketSort) => (src: ListSource, p: PageRequest) => readMarketDevicesPage(src, filter, sort, p);
    /** Every page of sizes 1, 2, 3, n-1, n, n+1 equal from both sources; the devices of the pages in order. */
    async function pages(what: string, filter: MarketFilter, sort: MarketSort): Promise<{ total: number; rows: Address[][] }> {
      const first = await read(filter, sort)(viaChain, { offset: 0, limit: 1000 });
      const n = first.totalCount;
      let rows: Address[][] = [];
      for (const size of [...new Set([1, 2, 3, n - 1, n, n + 1])].filter((s) => s >= 1)) {
        const seen: Address[][] = [];
        for (let offset = 0; offset < Math.max(n, 1); offset += size) {
          const page = { offset, limit: size };
          const [a, b] = await Promise.all([read(filter, sort)(viaIndex, page), read(filter, sort)(viaChain, page)]);
          expect([a.source, b.source], what).to.deep.equal(["indexer", "rpc"]);
          expect([a.totalCount, b.totalCount], `${what} total, size ${size}`).to.deep.equal([n, n]);
          expect(json(a.items), `${what} offset ${offset} size ${size}`).to.deep.equal(json(b.items));
          seen.push(a.items.map((d) => d.device));
        }
        if (size === 1000 || size === n || (n === 0 && size === 1)) rows = seen;
        if (sort !== "price") expect(seen.flat(), `${what}: size ${size} covers each device once`).to.deep.equal(first.items.map((d) => d.device));
      }
      return { total: n, rows };
    }
    const stake = await pages("by stake", {}, "stake");
    expect(stake.rows.flat()).to.deep.equal([extraDevices.c, extraDevices.b, extraDevices.e, extraDevices.d, market.device.address]);
    const status = await pages("by status", {}, "status");
    expect(status.rows.flat().at(-1)).to.equal(extraDevices.e); // active before paused
    expect(new Set(status.rows.flat())).to.deep.equal(new Set(all));
    // Price: six active offerings; a page shows each of its devices once, at its cheapest; D (no offering) is absent.
    const price = await pages("by price", {}, "price");
    expect(price.total).to.equal(6);
    const [lo, hi] = [extraDevices.b, extraDevices.c].sort((x, y) => (x.toLowerCase() < y.toLowerCase() ? -1 : 1));
    expect(price.rows).to.deep.equal([[market.device.address, lo, hi, extraDevices.e]]);
    const twoByTwo = await Promise.all([0, 2, 4].map((offset) => readMarketDevicesPage(viaIndex, {}, "price", { offset, limit: 2 })));
    expect(twoByTwo.map((p) => p.items.map((d) => d.device))).to.deep.equal([[market.device.address], [lo, hi], [extraDevices.e, extraDevices.b]]);
    // Model filter: only devices offering that model, whatever the sort.
    const ofM1 = await pages("model 2 by price", { modelId: m1 }, "price");
    expect(ofM1.rows).to.deep.equal([[market.device.address, extraDevices.c, extraDevices.b]]);
    expect((await pages("model 2 by stake", { modelId: m1 }, "stake")).rows.flat()).to.deep.equal([extraDevices.c, extraDevices.b, market.device.address]);
    expect(new Set((await pages("model 1 by status", { modelId: m0 }, "status")).rows.flat())).to.deep.equal(new Set([market.device.address, extraDevices.b, extraDevices.e]));
    // Text: case-insensitive over endpoint and metadata, wildcards literal, an address fragment.
    expect(new Set((await pages("text eu-", { text: "EU-" }, "stake")).rows.flat())).to.deep.equal(new Set([extraDevices.b, extraDevices.e]));
    expect((await pages("text us_east", { text: "us_east" }, "price")).rows.flat()).to.deep.equal([extraDevices.c]);
    expect((await pages("text us%east", { text: "us%east" }, "stake")).total).to.equal(0);
    expect((await pages("text _ by status", { text: "_" }, "status")).rows.flat()).to.deep.equal([extraDevices.c]);
    expect((await pages("address fragment", { text: extraDevices.d.slice(5, 15).toUpperCase() }, "status")).rows.flat()).to.deep.equal([extraDevices.d]);
    expect((await pages("text and model", { text: "eu", modelId: m1 }, "price")).rows.flat()).to.deep.equal([extraDevices.b]);
  });

  it("index behind by N: its RPC fails while N blocks are mined, the lag is exactly N; healed, it catches up to 0", async () => {
    const before = await ix.status();
    const head0 = await reader.getBlockNumber({ cacheTime: 0 });
    expect(indexLag(before, head0).behind).to.equal(0n);
    proxy!.faults.failEvery = 1;
    await new Promise((r) => setTimeout(r, 1_000));
    const stuck = (await ix.status()).indexedBlock!;
    await rpc(net.chain.url, "hardhat_mine", [toHex(7)]);
    const head = await reader.getBlockNumber({ cacheTime: 0 });
    await new Promise((r) => setTimeout(r, 1_500));
    const lag = indexLag(await ix.status(), head);
    expect(lag.indexedBlock).to.equal(stuck);
    expect(lag.behind).to.equal(head - stuck);
    expect(lag.behind >= 7n, `behind ${lag.behind}`).to.equal(true);
    proxy!.faults.failEvery = undefined;
    await waitCaughtUp(indexer!, net.chain.url, { timeoutMs: 60_000 });
    expect(indexLag(await ix.status(), head).behind).to.equal(0n);
  });

  it("an unreachable indexer: every list comes from the chain, saying why, with the same rows", async () => {
    const dead: ListSource = { ...viaIndex, indexer: indexerClient(`http://127.0.0.1:${await freePort()}`, { timeoutMs: 2_000 }) };
    const a = clientsFor(net, buyerA).account.address;
    const page = { offset: 0, limit: 3 };
    const [fromDead, fromChain] = await Promise.all([readChannelsPage(dead, { payer: a }, page), readChannelsPage(viaChain, { payer: a }, page)]);
    expect(fromDead.source).to.equal("rpc");
    expect(fromDead.indexerError).to.match(/does not answer/);
    expect(json(fromDead.items)).to.deep.equal(json(fromChain.items));
    expect(fromDead.totalCount).to.equal(5);
    await dead.indexer!.status().then(
      () => expect.fail("status of a dead indexer"),
      (e: Error & { code?: string }) => expect(e.code).to.equal("indexer_unreachable"),
    );
  });

  it("buyer CLI `channels`: the same channels from the indexer (EDGEPAY_INDEXER_URL), from a paged scan without it, and from the scan when the indexer is down", async () => {
    const home = mkdtempSync(path.join(dir, "home-"));
    const base = { ...process.env, EDGEPAY_RPC_URL: net.chain.url, EDGEPAY_PAYMENT_CHANNELS: market.contracts.paymentChannels, EDGEPAY_BUYER_KEY: TEST_KEYS[buyerA], EDGEPAY_BUYER_HOME: home };
    const cli = async (env: NodeJS.ProcessEnv) => {
      const { stdout, stderr } = await run(process.execPath, [path.join(ROOT, "protocol/node/cli.ts"), "channels", "--json"], { cwd: ROOT, env, timeout: 60_000 });
      return { list: JSON.parse(stdout) as { channelId: string; state: { claimed: string; deposit: string }; status: string }[], stderr };
    };
    const indexed = await cli({ ...base, EDGEPAY_INDEXER_URL: indexer!.url });
    const scanned = await cli({ ...base, EDGEPAY_INDEXER_URL: "" });
    const down = await cli({ ...base, EDGEPAY_INDEXER_URL: `http://127.0.0.1:${await freePort()}` });
    expect(indexed.list).to.have.length(5);
    expect(indexed.list).to.deep.equal(scanned.list);
    expect(down.list).to.deep.equal(scanned.list);
    expect(indexed.stderr).to.not.match(/scanning/);
    expect(down.stderr).to.match(/does not answer.*scanning the chain's logs instead/);
    expect(indexed.list.find((c) => c.channelId === opened[0]!.id)!.state.claimed).to.equal("15000");
  });
});
