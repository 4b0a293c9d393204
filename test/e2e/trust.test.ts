// Issue 12, "a dashboard that a person can trust with money", in a real browser (Debian chromium through
// playwright-core) against the production Next build, a real Hardhat chain and a real worker serving Silero VAD v5.
// Every test asserts on money: which channel the chain or the worker moved, token balances and allowances before and
// after, and how many transactions the page asked the (injected EIP-6963) wallet to send.
// One stack (chain, worker, dashboard, browser) is shared by all tests; the market is set up from Node, not the UI.
import { expect } from "chai";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { formatUnits, type Address, type Hex } from "viem";
import { deviceRegistryAbi, modelRegistryAbi, paymentChannelsAbi, testUsdcAbi } from "../../protocol/generated/contracts.ts";
import { channelRecordToJson, type ChannelRecord } from "../../protocol/client/store.ts";
import { fetchChannelInfo } from "../../protocol/client/worker-api.ts";
import { freePort } from "../../scripts/lib/chain.ts";
import { PPOCR_DIRECTION_CLS, SILERO_VAD_V5 } from "../../worker/models/demo.ts";
import { registerDevice, signDeviceBinding } from "../../worker/register.ts";
import { clientsFor, startLocalnet, TEST_KEYS, type Localnet } from "../../scripts/lib/localnet.ts";
import { openChannel, setupMarket, sha256OfFile, type Market, type TestChannel } from "../../scripts/lib/worker-fixture.ts";
import { startDashboard, type RunningDashboard } from "./dashboard.ts";
import { confirmTx, connect, until, within } from "./pages.ts";
import { injectTestWallet } from "./wallet.ts";
import { makeWav } from "./wav.ts";

const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const PRICE = 10_000n; // 0.01 tUSDC per call
const PROVIDER = privateKeyToAccount(TEST_KEYS[2]).address;
const BUYER_A = privateKeyToAccount(TEST_KEYS[4]).address; // channels, Try, close
const BUYER_B = privateKeyToAccount(TEST_KEYS[5]).address; // balances, approvals, double clicks
const formatTokens = (v: bigint) => `${Number(formatUnits(v, 6)).toLocaleString("en-US", { maximumFractionDigits: 6 })} tUSDC`;

describe("dashboard in chromium: a dashboard a person can trust with money (issue 12)", function () {
  this.timeout(300_000);
  let net: Localnet;
  let market: Market;
  let dashboard: RunningDashboard;
  let browser: Browser;
  let tmp: string;
  let workerUrl: string;
  let wav: string;
  const contexts: BrowserContext[] = [];
  let a: Page; // buyer A
  let b: Page; // buyer B
  let big: TestChannel; // 7.5 tUSDC, opened first
  let small: TestChannel; // 0.2 tUSDC, opened second (the newest)
  let bChannel: Hex; // buyer B's channel, opened from the page

  const reads = () => clientsFor(net, 0).publicClient;
  const balance = (who: Address) => reads().readContract({ address: net.deployment.token, abi: testUsdcAbi, functionName: "balanceOf", args: [who] });
  const allowance = (who: Address, spender: Address) =>
    reads().readContract({ address: net.deployment.token, abi: testUsdcAbi, functionName: "allowance", args: [who, spender] });
  const channel = (id: Hex) => reads().readContract({ address: net.deployment.paymentChannels, abi: paymentChannelsAbi, functionName: "getChannel", args: [id] });
  const accepted = async (id: Hex) => (await fetchChannelInfo(workerUrl, id)).lastAccepted;
  /** eth_sendTransaction requests the page made to the injected wallet so far. */
  const sentTx = (page: Page) =>
    page.evaluate(() => (window as unknown as { __edgepayTestWallet: { requests: string[] } }).__edgepayTestWallet.requests.filter((m) => m === "eth_sendTransaction").length);

  async function pageFor(account: Address): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    contexts.push(context);
    await injectTestWallet(context, { rpcUrl: net.chain.url, account, chainId: net.deployment.chainId });
    const page = await context.newPage();
    page.on("pageerror", (e) => console.error(`[page error] ${e.message}`));
    return page;
  }

  /** Puts a channel's session key into the page's store, as the Buy page does when it opens one. */
  async function keepSessionKey(page: Page, c: TestChannel, openedAt: number) {
    const record: ChannelRecord = {
      channelId: c.id,
      chainId: net.deployment.chainId,
      paymentChannels: net.deployment.paymentChannels,
      terms: c.terms,
      signerKey: c.signer.privateKey,
      paid: 0n,
      signed: 0n,
      deposit: c.deposit,
      closing: false,
      endpoint: workerUrl,
      openedAt,
    };
    const key = `edgepay.v1.${net.deployment.chainId}.${net.deployment.paymentChannels.toLowerCase()}.channel.${c.id.toLowerCase()}`;
    await page.evaluate(([k, v]) => window.localStorage.setItem(k!, v!), [key, JSON.stringify(channelRecordToJson(record))]);
  }

  before(async () => {
    net = await startLocalnet();
    const port = await freePort();
    workerUrl = `http://127.0.0.1:${port}`;
    market = await setupMarket(net, { models: [{ file: SILERO_VAD_V5, name: "Silero VAD v5", price: PRICE }], start: false, config: { port } });
    const provider = clientsFor(net, 2);
    await reads().waitForTransactionReceipt({
      hash: await provider.walletClient.writeContract({ address: net.deployment.deviceRegistry, abi: deviceRegistryAbi, functionName: "updateDevice", args: [market.device.address, workerUrl, "{}"] }),
    });
    await market.startWorker();
    dashboard = await startDashboard(net);
    browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", args: CHROMIUM_ARGS });
    tmp = mkdtempSync(path.join(tmpdir(), "edgepay-trust-"));
    wav = path.join(tmp, "tone.wav");
    writeFileSync(wav, makeWav(1.5));

    // Buyer A: two channels to the same device and model; the 0.2 one is the newest.
    big = await openChannel(market, { buyer: 4, deposit: 7_500_000n });
    small = await openChannel(market, { buyer: 4, deposit: 200_000n });
    a = await pageFor(BUYER_A);
    await a.goto(`${dashboard.url}/buy`);
    await keepSessionKey(a, big, Date.now() - 60_000);
    await keepSessionKey(a, small, Date.now());
    await connect(a);

    // Buyer B: 1,091 tUSDC in the wallet, no allowance.
    const bClients = clientsFor(net, 5);
    await reads().waitForTransactionReceipt({
      hash: await bClients.walletClient.writeContract({ address: net.deployment.token, abi: testUsdcAbi, functionName: "faucet", args: [BUYER_B, 1_091_000_000n] }),
    });
    b = await pageFor(BUYER_B);
    await b.goto(`${dashboard.url}/buy`);
    await connect(b);
  });

  after(async () => {
    await within(60_000, "the worker's stop", market?.stop() ?? Promise.resolve()).catch((e: unknown) => console.error(String(e)));
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await dashboard?.stop();
    await net?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it("1: Try pays from the selected channel, not the newest one to the same device and model; the receipt names it", async () => {
    await a.goto(`${dashboard.url}/try`);
    const picker = a.getByLabel("channel", { exact: true });
    await picker.waitFor();
    await until("both channels in the picker", async () => (await picker.locator("option").count()) === 2);
    await picker.selectOption(big.id);
    await a.getByLabel("audio file").setInputFiles(wav);
    await a.getByLabel("frames").fill("3");
    const txBefore = await sentTx(a);
    await a.getByRole("button", { name: "Run paid inference" }).click();
    await a.getByTestId("result").waitFor({ timeout: 60_000 }).catch(async (e) => {
      throw new Error(`no result: ${await a.locator("[role=alert]").allInnerTexts()} ${e}`);
    });
    // The worker accepted 3 calls on the selected channel and nothing on the other.
    expect(await accepted(big.id)).to.equal(3n * PRICE);
    expect(await accepted(small.id)).to.equal(0n);
    expect(await a.getByTestId("receipt-valid").innerText()).to.equal("verified");
    const channelCheck = a.locator("[data-testid=receipt-checks] li").filter({ has: a.locator("b", { hasText: /^channel$/ }) });
    expect(await channelCheck.getAttribute("data-ok")).to.equal("true");
    expect((await channelCheck.innerText()).toLowerCase()).to.contain(big.id.toLowerCase());
    expect(await sentTx(a)).to.equal(txBefore); // paying needs no wallet transaction
    // Item 8: both channels are told apart in the picker by id, deposit and credit.
    const labels = (await picker.locator("option").allInnerTexts()).join("\n");
    expect(labels).to.contain(`channel ${big.id.slice(0, 8)}`).and.to.contain(`channel ${small.id.slice(0, 8)}`);
    expect(labels).to.match(/deposit 7\.5 tUSDC · credit 7\.47 tUSDC/).and.to.match(/deposit 0\.2 tUSDC · credit 0\.2 tUSDC/);
  });

  it("3: the frames field refuses 0, empty, -5, 600 and more than the audio next to the field, and shows the cost first", async () => {
    const before = await accepted(big.id);
    const frames = a.getByLabel("frames");
    const run = a.getByRole("button", { name: "Run paid inference" });
    const error = a.getByTestId("frames-error");
    // Money first: with 0 frames a click pays nothing (it used to run 16 paid calls).
    await frames.fill("0");
    await run.click({ force: true, timeout: 2_000 }).catch(() => undefined);
    await a.waitForTimeout(3_000);
    expect(await accepted(big.id)).to.equal(before);
    expect(await accepted(small.id)).to.equal(0n);
    await until("the audio's frame count", async () => /the audio has \d+ frames/.test(await a.locator("section[aria-label=inference]").innerText()));
    const inAudio = Number(/the audio has (\d+) frames/.exec(await a.locator("section[aria-label=inference]").innerText())![1]);
    expect(inAudio).to.be.within(40, 50); // 1.5 s of 32 ms frames
    for (const [value, message] of [
      ["0", "At least 1 frame"],
      ["", "whole number"],
      ["-5", "whole number"],
      ["600", "At most 500"],
      [String(inAudio + 1), `only ${inAudio} frames`],
    ] as const) {
      await frames.fill(value);
      await until(`the message for "${value}"`, async () => (await error.innerText()).includes(message));
      expect(await run.isDisabled(), `run enabled with frames "${value}"`).to.equal(true);
      expect(await a.getByTestId("cost-preview").count()).to.equal(0);
    }
    expect(await accepted(big.id)).to.equal(before); // nothing was paid
    await frames.fill("2");
    await until("no frames error", async () => (await error.count()) === 0);
    expect(await a.getByTestId("cost-preview").innerText()).to.match(/^2 calls × 0\.01 tUSDC = 0\.02 tUSDC/);
    await run.click();
    await until("2 more calls accepted", async () => (await accepted(big.id)) === before + 2n * PRICE, 60_000);
    await a.getByTestId("result").waitFor();
    expect(await a.getByTestId("calls").innerText()).to.equal("2");
    expect(await accepted(small.id)).to.equal(0n);
    // Item 8: another channel (another offering) clears the result and the inputs of the previous one.
    await a.getByLabel("channel", { exact: true }).selectOption(small.id);
    await until("the old result cleared", async () => (await a.getByTestId("result").count()) === 0);
    expect(await a.locator("section[aria-label=inference]").innerText()).not.to.match(/the audio has \d+ frames/); // the old audio went too
  });

  it("2: a deposit above the balance is refused next to the field before any approval; Max fills the balance", async () => {
    const pc = net.deployment.paymentChannels;
    const [balBefore, allowBefore, txBefore] = [await balance(BUYER_B), await allowance(BUYER_B, pc), await sentTx(b)];
    expect(balBefore).to.equal(1_091_000_000n);
    await b.getByLabel("deposit", { exact: true }).fill("5000");
    const open = b.getByRole("button", { name: "Open channel" });
    // Money first: a click sends nothing (it used to mine an approve of 5,000, then fail to open).
    await b.waitForTimeout(300);
    await open.click({ force: true, timeout: 2_000 }).catch(() => undefined);
    await b.waitForTimeout(3_000);
    expect(await sentTx(b)).to.equal(txBefore);
    expect(await allowance(BUYER_B, pc)).to.equal(allowBefore);
    expect(await balance(BUYER_B)).to.equal(balBefore);
    await until("the balance message", async () => (await b.getByTestId("deposit-error").innerText()).includes("Your balance is 1,091 tUSDC"));
    expect(await open.isDisabled()).to.equal(true);

    await b.getByRole("button", { name: "Max" }).click();
    expect(await b.getByLabel("deposit", { exact: true }).inputValue()).to.equal("1091");
    await until("no balance message", async () => (await b.getByTestId("deposit-error").count()) === 0);
    expect(await open.isDisabled()).to.equal(false);
  });

  it("2: a wrong binding signature on the provider form sends nothing (no stake approval)", async () => {
    const p = await pageFor(PROVIDER);
    await p.goto(`${dashboard.url}/provider`);
    await connect(p);
    const reg = net.deployment.deviceRegistry;
    const block = await reads().getBlock();
    const signed = await signDeviceBinding({ devicePrivateKey: generatePrivateKey(), owner: PROVIDER, chainId: net.deployment.chainId, deviceRegistry: reg, deadline: block.timestamp + 3600n });
    const otherDevice = privateKeyToAccount(generatePrivateKey()).address; // the signature is not this device's
    const [allowBefore, balBefore, txBefore] = [await allowance(PROVIDER, reg), await balance(PROVIDER), await sentTx(p)];
    await p.getByLabel("binding json").fill(JSON.stringify({ device: otherDevice, owner: PROVIDER, deadline: signed.deadline.toString(), signature: signed.signature }));
    await p.getByLabel("endpoint", { exact: true }).fill("http://127.0.0.1:9");
    await p.getByLabel("stake", { exact: true }).fill("10");
    await p.getByRole("button", { name: "Register device" }).click();
    // Wait for the attempt to end either way (inline error, or a failed registration in the log), then count.
    await until("the registration attempt to end", async () => (await p.getByTestId("register-error").count()) > 0 || (await p.locator("ul.txlist li[data-status=failed]").count()) > 0);
    expect(await sentTx(p)).to.equal(txBefore);
    expect(await allowance(PROVIDER, reg)).to.equal(allowBefore);
    expect(await balance(PROVIDER)).to.equal(balBefore);
    expect(await p.getByTestId("register-error").innerText()).to.contain("binding signature is not the device's");
  });

  it("2: a license fee above the balance is refused next to the form, with no approval sent", async () => {
    const NEWCOMER = privateKeyToAccount(TEST_KEYS[7]).address; // holds no tUSDC
    const p = await pageFor(NEWCOMER);
    await p.goto(`${dashboard.url}/provider`);
    await connect(p);
    const mr = net.deployment.modelRegistry;
    await p.getByLabel("license model").selectOption(market.models[0]!.modelId.toString());
    const [txBefore, allowBefore] = [await sentTx(p), await allowance(NEWCOMER, mr)];
    await p.getByRole("button", { name: "Take license" }).click();
    await until("the attempt to end", async () => (await p.getByTestId("license-error").count()) > 0 || (await p.locator("ul.txlist li[data-status=failed]").count()) > 0);
    expect(await sentTx(p)).to.equal(txBefore);
    expect(await allowance(NEWCOMER, mr)).to.equal(allowBefore);
    expect(await reads().readContract({ address: mr, abi: modelRegistryAbi, functionName: "hasLicense", args: [market.models[0]!.modelId, NEWCOMER] })).to.equal(false);
    expect(await p.getByTestId("license-error").innerText()).to.contain("Your balance is 0 tUSDC");
  });

  it("4: a double click on a provider action (Pause, then Unpause) sends one transaction each", async () => {
    const p = await pageFor(PROVIDER);
    await p.goto(`${dashboard.url}/provider`);
    await connect(p);
    const card = p.locator(`div.card[data-device="${market.device.address}"]`);
    await card.waitFor();
    const status = async () =>
      (await reads().readContract({ address: net.deployment.deviceRegistry, abi: deviceRegistryAbi, functionName: "getDevice", args: [market.device.address] })).status;
    for (const [name, expected] of [
      ["Pause", 2],
      ["Unpause", 1],
    ] as const) {
      const button = card.getByRole("button", { name, exact: true });
      await button.waitFor();
      const txBefore = await sentTx(p);
      await button.evaluate((el: HTMLElement) => {
        el.click();
        el.click();
      });
      await until(`${name} mined`, async () => (await status()) === expected);
      await p.waitForTimeout(1_500);
      expect(await sentTx(p), name).to.equal(txBefore + 1);
    }
  });

  it("4: a double click sends one transaction: the faucet once, and one approve + one open for a channel", async () => {
    const pc = net.deployment.paymentChannels;
    // Two clicks in the same task, before React can re-render a disabled button: the harshest double click.
    const doubleClick = (name: string) =>
      b.evaluate((n) => {
        const button = [...document.querySelectorAll("button")].find((x) => x.textContent?.trim().startsWith(n))!;
        button.click();
        button.click();
      }, name);
    let [bal, txBefore] = [await balance(BUYER_B), await sentTx(b)];
    await b.getByLabel("faucet amount").fill("9");
    await doubleClick("Get");
    await until("the faucet", async () => (await balance(BUYER_B)) > bal);
    await b.waitForTimeout(1_500);
    expect(await sentTx(b)).to.equal(txBefore + 1);
    expect(await balance(BUYER_B)).to.equal(bal + 9_000_000n);

    [bal, txBefore] = [await balance(BUYER_B), await sentTx(b)];
    await b.getByLabel("deposit", { exact: true }).fill("1");
    await b.getByLabel("approval mode").selectOption("approve");
    await doubleClick("Open channel");
    await b.getByTestId("opened-channel").waitFor({ timeout: 30_000 });
    await b.waitForTimeout(1_500);
    expect(await sentTx(b)).to.equal(txBefore + 2); // one approve, one open
    expect(await balance(BUYER_B)).to.equal(bal - 1_000_000n);
    expect(await allowance(BUYER_B, pc)).to.equal(0n); // exactly the deposit was approved, and used
    const id = (await b.getByTestId("opened-channel").locator("[data-value]").getAttribute("data-value")) as Hex;
    expect((await channel(id)).deposit).to.equal(1_000_000n);
    bChannel = id;
  });

  it("7: activity survives a reload per account and chain; errors show next to their form; toasts carry the hash; header shows balance and network", async () => {
    const pc = net.deployment.paymentChannels;
    const wallet = (page: Page, account: Address) =>
      page.evaluate((acc) => (window as unknown as { __edgepayTestWallet: { setAccount(a: string): void } }).__edgepayTestWallet.setAccount(acc), account);
    await b.reload();
    // The open of the test above is in the history after a reload (IndexedDB), with its real transaction hash.
    const opened = b.locator("ul.txlist li", { hasText: "Open channel, deposit 1 tUSDC" }).first();
    await opened.waitFor({ timeout: 15_000 });
    const hash = (await opened.locator("[data-hash]").getAttribute("data-hash")) as Hex;
    const receipt = await reads().getTransactionReceipt({ hash });
    expect(receipt.from.toLowerCase()).to.equal(BUYER_B.toLowerCase());
    expect(receipt.to!.toLowerCase()).to.equal(pc.toLowerCase());
    expect(await b.getByTestId("header-network").innerText()).to.contain("Local Hardhat (31337)");
    await until("B's balance in the header", async () => (await b.getByTestId("header-balance").innerText()) === formatTokens(await balance(BUYER_B)));

    // Another account in the same browser sees none of B's activity, and its own balance.
    await wallet(b, BUYER_A);
    await until("B's history gone", async () => (await b.locator(`[data-hash="${hash}"]`).count()) === 0);
    await until("A's balance in the header", async () => (await b.getByTestId("header-balance").innerText()) === formatTokens(await balance(BUYER_A)));
    await wallet(b, BUYER_B);
    await b.locator(`ul.txlist [data-hash="${hash}"]`).waitFor({ timeout: 15_000 });

    // A refused top-up shows next to that channel's form; nothing moved.
    const row = b.locator(`tr[data-channel="${bChannel}"]`);
    await row.waitFor();
    const [bal, deposit] = [await balance(BUYER_B), (await channel(bChannel)).deposit];
    await b.evaluate(() => ((window as unknown as { __edgepayTestWallet: { rejectNext: boolean } }).__edgepayTestWallet.rejectNext = true));
    await row.getByLabel("top up amount").fill("0.5");
    await row.getByRole("button", { name: "Top up" }).click();
    await until("the refusal in the row", async () => (await row.locator("[role=alert]").innerText()).includes("Refused in the wallet"));
    expect(await balance(BUYER_B)).to.equal(bal);
    expect((await channel(bChannel)).deposit).to.equal(deposit);

    // The top-up again: a toast in view carries the transaction's full hash.
    await row.getByRole("button", { name: "Top up" }).click();
    const toast = b.getByTestId("toast").filter({ hasText: "Top up 0.5 tUSDC" });
    await until("the confirmed toast", async () => (await toast.getAttribute("data-status")) === "confirmed");
    const toastHash = (await toast.locator("[data-hash]").getAttribute("data-hash")) as Hex;
    expect((await reads().getTransactionReceipt({ hash: toastHash })).to!.toLowerCase()).to.equal(pc.toLowerCase());
    expect((await channel(bChannel)).deposit).to.equal(deposit + 500_000n);
    expect(await balance(BUYER_B)).to.equal(bal - 500_000n);
    expect(await row.locator("[role=alert]").count()).to.equal(0); // the old error went with the new attempt
  });

  it("8: Buy warns about a device whose worker does not answer and sends nothing without an explicit choice", async () => {
    const modelId = market.models[0]!.modelId;
    const { device: dead } = await registerDevice({
      rpcUrl: net.chain.url,
      contracts: market.contracts,
      ownerKey: TEST_KEYS[2],
      devicePrivateKey: generatePrivateKey(),
      endpoint: "http://127.0.0.1:9",
      models: [{ modelId, price: PRICE }],
      fundEth: "0",
    });
    await b.goto(`${dashboard.url}/buy`);
    const offering = b.getByLabel("offering");
    await until("the dead device's offering", async () => (await offering.locator(`option[value="${dead}:${modelId}"]`).count()) === 1);
    await offering.selectOption(`${dead}:${modelId}`);
    await b.getByLabel("deposit", { exact: true }).fill("1");
    const health = b.getByTestId("offering-health");
    const open = b.getByRole("button", { name: "Open channel" });
    // Money first: once the health check has had time to answer, a click sends nothing and moves no token.
    await b.waitForTimeout(5_000);
    const [txBefore, bal] = [await sentTx(b), await balance(BUYER_B)];
    await open.click({ force: true, timeout: 2_000 }).catch(() => undefined);
    await b.waitForTimeout(3_000);
    expect(await sentTx(b)).to.equal(txBefore);
    expect(await balance(BUYER_B)).to.equal(bal);
    expect(await health.getAttribute("data-health")).to.equal("down");
    expect(await health.innerText()).to.contain("does not answer");
    expect(await open.isDisabled()).to.equal(true);
    // The live device is offered without a warning.
    await offering.selectOption(`${market.device.address}:${modelId}`);
    await until("the live device reported up", async () => (await health.getAttribute("data-health")) === "up", 20_000);
    expect(await open.isDisabled()).to.equal(false);
  });

  it("5: Publish refuses a .txt and a text file named .onnx before any transaction; the URI follows the file picked last", async () => {
    const OWNER = privateKeyToAccount(TEST_KEYS[6]).address;
    const o = await pageFor(OWNER);
    await o.goto(`${dashboard.url}/models`);
    await connect(o);
    const notes = path.join(tmp, "notes.txt");
    const fake = path.join(tmp, "fake.onnx");
    writeFileSync(notes, "not a model\n".repeat(20));
    writeFileSync(fake, "not a model either\n".repeat(20));
    const count = () => reads().readContract({ address: net.deployment.modelRegistry, abi: modelRegistryAbi, functionName: "modelCount" });
    const [before, txBefore] = [await count(), await sentTx(o)];
    const publish = o.getByRole("button", { name: "Publish" });
    await o.getByLabel("model name").fill("junk");
    for (const file of [notes, fake]) {
      await o.getByLabel("onnx file").setInputFiles(file);
      await o.waitForTimeout(500);
      await publish.click({ force: true, timeout: 2_000 }).catch(() => undefined);
      await o.waitForTimeout(1_500);
      expect(await sentTx(o), path.basename(file)).to.equal(txBefore);
      expect(await count()).to.equal(before);
    }
    expect(await o.getByTestId("onnx-error").innerText()).to.contain("not an ONNX model");

    await o.getByLabel("onnx file").setInputFiles(SILERO_VAD_V5);
    await o.getByTestId("content-hash").waitFor();
    expect(await o.getByLabel("model uri").inputValue()).to.equal(`npm:${path.basename(SILERO_VAD_V5)}`);
    await o.getByLabel("onnx file").setInputFiles(PPOCR_DIRECTION_CLS);
    await o.getByTestId("content-hash").locator(`[data-value="${sha256OfFile(PPOCR_DIRECTION_CLS)}"]`).waitFor();
    expect(await o.getByLabel("model uri").inputValue()).to.equal(`npm:${path.basename(PPOCR_DIRECTION_CLS)}`);
    await o.getByLabel("model name").fill("direction classifier");
    await confirmTx(o, "Publish direction classifier", () => publish.click());
    expect(await count()).to.equal(before + 1n);
    expect(await sentTx(o)).to.equal(txBefore + 1);
    const model = await reads().readContract({ address: net.deployment.modelRegistry, abi: modelRegistryAbi, functionName: "getModel", args: [before + 1n] });
    expect(model.uri).to.equal(`npm:${path.basename(PPOCR_DIRECTION_CLS)}`);
    expect(model.contentHash).to.equal(sha256OfFile(PPOCR_DIRECTION_CLS));
  });

  it("6: Close now refunds at once with the device's signature; a settled channel shows no credit", async () => {
    await a.goto(`${dashboard.url}/buy`);
    const row = a.locator(`tr[data-channel="${big.id}"]`);
    await row.waitFor();
    const paid = await accepted(big.id);
    expect(paid).to.equal(5n * PRICE);
    const [bal, provBal] = [await balance(BUYER_A), await balance(PROVIDER)];
    await confirmTx(a, "Close now", () => row.getByRole("button", { name: "Close now" }).click());
    const state = await channel(big.id);
    expect(state.settled).to.equal(true);
    expect(state.claimed).to.equal(paid);
    expect(await balance(BUYER_A)).to.equal(bal + big.deposit - paid);
    expect(await balance(PROVIDER)).to.equal(provBal + paid - (paid * 1_000n) / 10_000n); // 10% royalty
    await until("settled row", async () => (await row.getAttribute("data-state")) === "settled");
    expect(await row.getByTestId("credit-left").innerText()).to.match(/^0 tUSDC/);
  });

  it("6: Request close asks first; the chain-time countdown survives a reload; the dev panel advances chain time", async () => {
    const row = a.locator(`tr[data-channel="${small.id}"]`);
    await row.waitFor();
    let txBefore = await sentTx(a);
    // Dismissing the confirmation sends nothing.
    a.once("dialog", (d) => void d.dismiss());
    await row.getByRole("button", { name: "Request close" }).click();
    await a.waitForTimeout(500);
    expect(await sentTx(a)).to.equal(txBefore);
    expect(Number((await channel(small.id)).closesAt)).to.equal(0);

    a.once("dialog", (d) => void d.accept());
    await confirmTx(a, "Request close", () => row.getByRole("button", { name: "Request close" }).click());
    expect(await sentTx(a)).to.equal(txBefore + 1);
    const closesAt = Number((await channel(small.id)).closesAt);
    expect(closesAt).to.be.greaterThan(0);
    await row.getByTestId("countdown").waitFor();
    expect(await row.getByTestId("countdown").innerText()).to.match(/closing · (59 min|1 h)/);

    await a.reload();
    await a.locator(`tr[data-channel="${small.id}"] [data-testid=countdown]`).waitFor();
    expect(await a.locator(`tr[data-channel="${small.id}"] [data-testid=countdown]`).innerText()).to.match(/closing · (59 min|1 h)/);

    // The developer panel (local chain only) moves chain time: the countdown ends and the refund can be withdrawn.
    await a.getByRole("button", { name: "+1 h" }).click();
    await until("the period is over", async () => (await a.locator(`tr[data-channel="${small.id}"]`).getAttribute("data-state")) === "withdrawable", 30_000);
    expect(Number((await reads().getBlock()).timestamp)).to.be.greaterThanOrEqual(closesAt);
    const bal = await balance(BUYER_A);
    txBefore = await sentTx(a);
    await confirmTx(a, "Withdraw refund", () => a.locator(`tr[data-channel="${small.id}"]`).getByRole("button", { name: /^Withdraw/ }).click());
    expect(await sentTx(a)).to.equal(txBefore + 1);
    expect(await balance(BUYER_A)).to.equal(bal + small.deposit);
    expect((await channel(small.id)).settled).to.equal(true);
  });

  it("10: with storage full, Try refuses before paying; receipts go to IndexedDB, not localStorage", async () => {
    await b.goto(`${dashboard.url}/try`);
    await b.getByLabel("channel", { exact: true }).selectOption(bChannel);
    await b.getByLabel("audio file").setInputFiles(wav);
    await b.getByLabel("frames").fill("2");
    // Fill this origin's localStorage to the brim, as months of receipts used to.
    await b.evaluate(() => {
      let i = 0;
      for (const size of [100_000, 10_000, 1_000, 100, 10]) {
        const chunk = "x".repeat(size);
        for (;;) {
          try {
            window.localStorage.setItem(`filler.${i++}`, chunk);
          } catch {
            break;
          }
        }
      }
    });
    const [before, txBefore] = [await accepted(bChannel), await sentTx(b)];
    expect(before).to.equal(0n);
    await b.getByRole("button", { name: "Run paid inference" }).click();
    const alert = b.locator("section[aria-label=inference] [role=alert]");
    await until("the storage message", async () => (await alert.innerText()).includes("Nothing was paid"), 20_000);
    expect(await alert.innerText()).to.contain("full");
    expect(await accepted(bChannel)).to.equal(before);
    expect(await sentTx(b)).to.equal(txBefore);

    await b.evaluate(() => Object.keys(window.localStorage).filter((k) => k.startsWith("filler.")).forEach((k) => window.localStorage.removeItem(k)));
    await b.getByRole("button", { name: "Run paid inference" }).click();
    await b.getByTestId("result").waitFor({ timeout: 60_000 });
    expect(await accepted(bChannel)).to.equal(2n * PRICE);
    const stored = await b.evaluate(
      (id) =>
        new Promise<number>((resolve, reject) => {
          const req = indexedDB.open("edgepay-receipts");
          req.onerror = () => reject(req.error);
          req.onsuccess = () => {
            const all = req.result.transaction("receipts").objectStore("receipts").getAll();
            all.onsuccess = () => resolve((all.result as { channelId: string }[]).filter((r) => r.channelId === id.toLowerCase()).length);
            all.onerror = () => reject(all.error);
          };
        }),
      bChannel,
    );
    expect(stored).to.equal(2);
    expect(await b.evaluate(() => Object.keys(window.localStorage).filter((k) => k.includes(".receipts.")).length)).to.equal(0);
  });

  it("10: session keys export encrypted with a passphrase and import into another browser, where the key pays", async () => {
    await b.goto(`${dashboard.url}/buy`);
    const signerKey = await b.evaluate(
      (id) => (JSON.parse(window.localStorage.getItem(Object.keys(window.localStorage).find((k) => k.endsWith(`.channel.${id.toLowerCase()}`))!)!) as { signerKey: string }).signerKey,
      bChannel,
    );
    expect(signerKey).to.match(/^0x[0-9a-f]{64}$/);
    await b.getByLabel("backup passphrase").fill("correct horse battery staple");
    const download = b.waitForEvent("download");
    await b.getByRole("button", { name: "Export session keys" }).click();
    const file = path.join(tmp, "keys.json");
    await (await download).saveAs(file);
    const text = readFileSync(file, "utf8");
    expect(JSON.parse(text).format).to.equal("edgepay-session-keys");
    expect(text.toLowerCase()).not.to.contain(signerKey.slice(2).toLowerCase()); // encrypted, not in clear

    const c = await pageFor(BUYER_B); // another browser profile: no session key
    await c.goto(`${dashboard.url}/buy`);
    await connect(c);
    const row = c.locator(`tr[data-channel="${bChannel}"]`);
    await row.waitFor();
    expect(await row.innerText()).to.contain("session key not in this browser");
    await c.getByLabel("backup file").setInputFiles(file);
    await c.getByLabel("backup passphrase").fill("not the passphrase");
    await c.getByRole("button", { name: "Import session keys" }).click();
    await until("the wrong-passphrase message", async () => (await c.getByTestId("backup-message").innerText()).includes("Wrong passphrase"), 20_000);
    expect(await c.evaluate(() => Object.keys(window.localStorage).filter((k) => k.includes(".channel.")).length)).to.equal(0);
    await c.getByLabel("backup passphrase").fill("correct horse battery staple");
    await c.getByRole("button", { name: "Import session keys" }).click();
    await until("imported", async () => (await c.getByTestId("backup-message").innerText()).startsWith("Imported"), 20_000);
    await until("the key in this browser", async () => (await c.locator(`tr[data-channel="${bChannel}"]`).innerText()).includes("session key in this browser"));

    // The imported key pays, continuing from what the other browser paid.
    await c.goto(`${dashboard.url}/try`);
    await c.getByLabel("channel", { exact: true }).selectOption(bChannel);
    await c.getByLabel("audio file").setInputFiles(wav);
    await c.getByLabel("frames").fill("1");
    await c.getByRole("button", { name: "Run paid inference" }).click();
    await c.getByTestId("result").waitFor({ timeout: 60_000 }).catch(async (e) => {
      throw new Error(`no result: ${await c.locator("[role=alert]").allInnerTexts()} ${e}`);
    });
    expect(await accepted(bChannel)).to.equal(3n * PRICE);
    expect(await c.getByTestId("receipt-valid").innerText()).to.equal("verified");
  });
});
