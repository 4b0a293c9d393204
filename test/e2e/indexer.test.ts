// The dashboard reading its lists from the indexer, in Chromium against the production build, a real chain, a real
// worker and the real Ponder indexer: the Market's device and models, the Buy page's channels of the connected buyer
// (one opened in the page, two opened elsewhere), the Provider's claim history, each page showing the index's
// freshness. Paying from the Try page still moves the selected channel: checked on-chain after the worker claims.
// Then the index falls behind (its RPC fails while blocks are mined: "behind by N") and goes away ("unreachable";
// the lists still show, read from the chain).
import { expect } from "chai";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { erc20Abi, toHex, type Address, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { deviceRegistryAbi, paymentChannelsAbi, testUsdcAbi } from "../../protocol/generated/contracts.ts";
import { readReputation } from "../../protocol/reputation.ts";
import { freePort, rpc } from "../../scripts/lib/chain.ts";
import { startIndexer, waitCaughtUp, type RunningIndexer } from "../../scripts/lib/indexer.ts";
import { clientsFor, startLocalnet, TEST_KEYS, type Localnet } from "../../scripts/lib/localnet.ts";
import { startRpcProxy, type RpcProxy } from "../../scripts/lib/rpc-proxy.ts";
import { openChannel, setupMarket, type Market } from "../../scripts/lib/worker-fixture.ts";
import { SILERO_VAD_V5 } from "../../worker/models/demo.ts";
import { startDashboard, type RunningDashboard } from "./dashboard.ts";
import { confirmTx, connect, until, within } from "./pages.ts";
import { injectTestWallet } from "./wallet.ts";
import { makeWav } from "./wav.ts";

const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const PRICE = 10_000n;
const BUYER_INDEX = 7;
const BUYER = privateKeyToAccount(TEST_KEYS[BUYER_INDEX]).address;
const PROVIDER = privateKeyToAccount(TEST_KEYS[2]).address;
const FRAMES = 4;

describe("dashboard in chromium with the indexer: lists from it, freshness banner, paying moves the selected channel", function () {
  this.timeout(300_000);
  let net: Localnet;
  let market: Market;
  let proxy: RpcProxy;
  let indexer: RunningIndexer;
  let dashboard: RunningDashboard;
  let browser: Browser;
  let workerUrl: string;
  let tmp: string;
  let paidChannel: Hex;
  const elsewhere: Hex[] = [];
  const contexts: BrowserContext[] = [];
  const reads = () => clientsFor(net, 0).publicClient;
  const channelState = (id: Hex) => reads().readContract({ address: net.deployment.paymentChannels, abi: paymentChannelsAbi, functionName: "getChannel", args: [id] });

  async function pageFor(account: Address): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    contexts.push(context);
    await injectTestWallet(context, { rpcUrl: net.chain.url, account, chainId: net.deployment.chainId });
    const page = await context.newPage();
    page.on("pageerror", (e) => console.error(`[page error] ${e.message}`));
    return page;
  }
  const banner = (page: Page) => page.getByTestId("index-status");

  before(async () => {
    net = await startLocalnet();
    const port = await freePort();
    workerUrl = `http://127.0.0.1:${port}`;
    market = await setupMarket(net, { models: [{ file: SILERO_VAD_V5, name: "Silero VAD v5", price: PRICE }], start: false, config: { port } });
    const owner = clientsFor(net, 2);
    await reads().waitForTransactionReceipt({
      hash: await owner.walletClient.writeContract({ address: net.deployment.deviceRegistry, abi: deviceRegistryAbi, functionName: "updateDevice", args: [market.device.address, workerUrl, "{}"] }),
    });
    await market.startWorker();
    // Two channels the buyer opened elsewhere (no session key in the browser): listed, never paid from the page.
    for (let i = 0; i < 2; i++) elsewhere.push((await openChannel(market, { buyer: BUYER_INDEX, deposit: 200_000n + BigInt(i) })).id);
    const buyer = clientsFor(net, BUYER_INDEX);
    await reads().waitForTransactionReceipt({ hash: await buyer.walletClient.writeContract({ address: net.deployment.token, abi: testUsdcAbi, functionName: "faucet", args: [BUYER, 5_000_000n] }) });
    tmp = mkdtempSync(path.join(tmpdir(), "edgepay-e2e-ix-"));
    // The indexer reads through a proxy the test can break (to make the index fall behind).
    proxy = await startRpcProxy(net.chain.url);
    indexer = await startIndexer({ rpcUrl: proxy.url, chainId: net.deployment.chainId, contracts: market.contracts, port: await freePort(), dataDir: path.join(tmp, "pglite"), logFile: path.join(tmp, "indexer.log") });
    await waitCaughtUp(indexer, net.chain.url);
    dashboard = await startDashboard(net, { EDGEPAY_WORKERS: workerUrl, EDGEPAY_INDEXER_URL: indexer.url });
    browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", args: CHROMIUM_ARGS });
  });

  after(async () => {
    await within(60_000, "the worker's stop", market?.stop() ?? Promise.resolve()).catch((e: unknown) => console.error(String(e)));
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await dashboard?.stop();
    await indexer?.stop().catch(() => undefined);
    await proxy?.stop();
    await net?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it("Market: the device with its offering and the model, from the index, under 'Index caught up'", async () => {
    const config = (await (await fetch(`${dashboard.url}/api/config`)).json()) as { indexerUrl?: string };
    expect(config.indexerUrl).to.equal(indexer.url);
    const p = await pageFor(BUYER);
    await p.goto(dashboard.url);
    await until("caught-up banner", async () => (await banner(p).getAttribute("data-state")) === "caught-up");
    await p.locator(`tr[data-device="${market.device.address}"]`).waitFor({ timeout: 30_000 });
    expect(await p.locator("body").innerText()).to.contain("Silero VAD v5");
    expect(await p.locator('section[aria-label="devices"]').getAttribute("data-read-source")).to.equal("indexer");
    // The row's reputation badge comes from the index's reputation table (one request for the list) and says what
    // the chain says (protocol/reputation.ts over the same logs).
    const { deviceRegistry, flightRecorder, answerDisputes, deviceReputation } = net.deployment;
    const rep = await readReputation(reads(), { deviceRegistry, flightRecorder, answerDisputes, deviceReputation }, market.device.address);
    const badge = p.locator(`tr[data-device="${market.device.address}"] [data-reputation-score]`);
    await badge.waitFor({ timeout: 30_000 });
    expect(Number(await badge.getAttribute("data-reputation-score"))).to.equal(rep.score);
  });

  it("Buy: the buyer's three channels come from the index; a paid run from Try moves only the selected channel, on-chain", async () => {
    const b = await pageFor(BUYER);
    await b.goto(`${dashboard.url}/buy`);
    await connect(b);
    await b.getByLabel("deposit", { exact: true }).fill("1");
    await b.getByLabel("approval mode").selectOption("approve");
    await confirmTx(b, "Open channel", () => b.getByRole("button", { name: "Open channel" }).click());
    await b.getByTestId("opened-channel").waitFor({ timeout: 30_000 });
    paidChannel = (await b.getByTestId("opened-channel").locator("[data-value]").getAttribute("data-value")) as Hex;
    // The list is the index's: all three of the buyer's channels, the new one once indexed.
    for (const id of [paidChannel, ...elsewhere]) await b.locator(`tr[data-channel="${id}"]`).waitFor({ timeout: 30_000 });
    expect(await b.locator("section[aria-label='my channels'] tbody tr").count()).to.equal(3);
    expect(await b.locator("section[aria-label='my channels'] h2").innerText()).to.contain("(3)");
    expect(await banner(b).getAttribute("data-state")).to.be.oneOf(["caught-up", "behind"]);

    const before = await Promise.all([paidChannel, ...elsewhere].map(channelState));
    const tokenBefore = await reads().readContract({ address: net.deployment.token, abi: erc20Abi, functionName: "balanceOf", args: [BUYER] });
    const wav = path.join(tmp, "tone.wav");
    writeFileSync(wav, makeWav(0.5));
    await b.goto(`${dashboard.url}/try`);
    await b.getByLabel("audio file").setInputFiles(wav);
    await b.getByLabel("frames").fill(String(FRAMES));
    await b.getByRole("button", { name: "Run paid inference" }).click();
    await b.getByTestId("result").waitFor({ timeout: 60_000 });
    // Vouchers move no tokens; the worker claims what it accepted when it stops: only the selected channel is paid.
    await within(60_000, "the worker's stop", market.stop());
    const after = await Promise.all([paidChannel, ...elsewhere].map(channelState));
    expect(after[0]!.claimed - before[0]!.claimed).to.equal(PRICE * BigInt(FRAMES));
    expect(after.slice(1).map((s) => s.claimed)).to.deep.equal(before.slice(1).map((s) => s.claimed));
    expect(await reads().readContract({ address: net.deployment.token, abi: erc20Abi, functionName: "balanceOf", args: [BUYER] })).to.equal(tokenBefore);
  });

  it("Provider: the claim history comes from the index; the index falls behind by N blocks, then goes away and the lists come from the chain", async () => {
    const p = await pageFor(PROVIDER);
    await p.goto(`${dashboard.url}/provider`);
    await connect(p);
    const claims = await reads().getContractEvents({ address: net.deployment.paymentChannels, abi: paymentChannelsAbi, eventName: "Claimed", args: { channelId: paidChannel }, fromBlock: 0n });
    expect(claims).to.have.length(1);
    await p.locator(`tr[data-claim="${claims[0]!.transactionHash}"]`).waitFor({ timeout: 30_000 });

    proxy.faults.failEvery = 1;
    await new Promise((r) => setTimeout(r, 1_000));
    await rpc(net.chain.url, "hardhat_mine", [toHex(12)]);
    await until("behind banner", async () => (await banner(p).getAttribute("data-state")) === "behind", 30_000);
    expect(Number(await banner(p).getAttribute("data-behind"))).to.be.at.least(12);
    expect(await banner(p).innerText()).to.match(/Index behind by \d+ blocks/);

    await indexer.stop();
    await until("unreachable banner", async () => (await banner(p).getAttribute("data-state")) === "unreachable", 30_000);
    await p.reload();
    await until("unreachable banner after reload", async () => (await banner(p).getAttribute("data-state")) === "unreachable", 30_000);
    // The same claim, now read from the chain.
    await p.locator(`tr[data-claim="${claims[0]!.transactionHash}"]`).waitFor({ timeout: 60_000 });
  });
});
