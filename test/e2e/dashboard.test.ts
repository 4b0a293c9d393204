// The dashboard end to end in a real browser (Debian's chromium through playwright-core) against the production
// Next build, a real Hardhat chain with the contracts, and a real worker serving Silero VAD v5:
// a model owner publishes (built-in dev wallet), a provider registers a device from the worker's `init` binding and
// offers the model, a buyer opens a channel and runs paid inferences from the page (injected EIP-6963 wallet),
// the worker claims for the provider, the model owner withdraws royalties, the buyer closes and withdraws.
// Every amount is checked on-chain to the token unit. Screenshots of each page go to test-results/screenshots/
// (to docs/screenshots/, the committed ones, only with UPDATE_SCREENSHOTS=1).
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { privateKeyToAccount } from "viem/accounts";
import { formatUnits, type Address } from "viem";
import { deviceRegistryAbi, flightRecorderAbi, modelRegistryAbi, paymentChannelsAbi, testUsdcAbi } from "../../protocol/generated/contracts.ts";
import { freePort, rpc } from "../../scripts/lib/chain.ts";
import { ROOT } from "../../scripts/lib/paths.ts";
import { PPOCR_DIRECTION_CLS, SILERO_VAD_V5 } from "../../worker/models/demo.ts";
import { textImages } from "../../scripts/lib/demo-inputs.ts";
import { startWorker, type RunningWorker } from "../../worker/service.ts";
import { clientsFor, startLocalnet, TEST_KEYS, type Localnet } from "../../scripts/lib/localnet.ts";
import { sha256OfFile } from "../../scripts/lib/worker-fixture.ts";
import { startDashboard, type RunningDashboard } from "./dashboard.ts";
import { confirmTx, connect, runTx, until, within } from "./pages.ts";
import { injectTestWallet } from "./wallet.ts";
import { makeWav } from "./wav.ts";

// The committed screenshots are only rewritten on request (UPDATE_SCREENSHOTS=1); a normal run writes to test-results/.
const SCREENSHOTS = process.env.UPDATE_SCREENSHOTS === "1" ? path.join(ROOT, "docs/screenshots") : path.join(ROOT, "test-results/screenshots");
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const MODEL_OWNER = privateKeyToAccount(TEST_KEYS[1]).address;
const PROVIDER = privateKeyToAccount(TEST_KEYS[2]).address;
const BUYER = privateKeyToAccount(TEST_KEYS[3]).address;
const PRICE = 10_000n; // 0.01 tUSDC per inference
const FRAMES = 32; // one second of audio, one paid call per 32 ms frame
const ROYALTY_BPS = 1_000n;
const LICENSE_FEE = 2_000_000n;
const DEPOSIT = 1_000_000n;
const TOP_UP = 500_000n;
const OCR_PRICE = 20_000n;
const OCR_ROYALTY_BPS = 500n;
const OCR_DEPOSIT = 500_000n;
const STAKE = 10_000_000n;

describe("dashboard in chromium: publish, register, buy, infer, claim, royalties, refund, exit", function () {
  this.timeout(300_000);
  let net: Localnet;
  let dashboard: RunningDashboard;
  let browser: Browser;
  let worker: RunningWorker | undefined;
  let tmp: string;
  let workerPort: number;
  let workerConfig: Parameters<typeof startWorker>[0];
  const contexts: BrowserContext[] = [];
  let owner: Page;
  let provider: Page;
  let buyer: Page;
  let modelId: bigint;
  let ocrModelId: bigint;
  let device: Address;
  let channelId: `0x${string}`;
  let ocrChannelId: `0x${string}`;
  /** Requests any page made to a host other than this machine: the dashboard must work offline. */
  const external: string[] = [];
  const reads = () => clientsFor(net, 0).publicClient;
  const balance = (who: Address) => reads().readContract({ address: net.deployment.token, abi: testUsdcAbi, functionName: "balanceOf", args: [who] });

  async function pageFor(account: Address | undefined): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    contexts.push(context);
    if (account) await injectTestWallet(context, { rpcUrl: net.chain.url, account, chainId: net.deployment.chainId });
    context.on("request", (r) => {
      const u = new URL(r.url());
      if (!["data:", "blob:"].includes(u.protocol) && !["127.0.0.1", "localhost"].includes(u.hostname)) external.push(r.url());
    });
    const page = await context.newPage();
    page.on("pageerror", (e) => console.error(`[page error] ${e.message}`));
    return page;
  }

  async function shot(page: Page, name: string) {
    await page.waitForTimeout(300);
    await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
  }

  before(async () => {
    net = await startLocalnet();
    dashboard = await startDashboard(net);
    browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", args: CHROMIUM_ARGS });
    tmp = mkdtempSync(path.join(tmpdir(), "edgepay-e2e-"));
    mkdirSync(SCREENSHOTS, { recursive: true });
    workerPort = await freePort();
    owner = await pageFor(undefined);
    provider = await pageFor(PROVIDER);
    buyer = await pageFor(BUYER);
  });

  after(async () => {
    if (worker) await within(60_000, "the worker's stop", worker.stop()).catch((e: unknown) => console.error(String(e)));
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await dashboard?.stop();
    await net?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it("serves the runtime config from the environment, not from the build", async () => {
    const config = (await (await fetch(`${dashboard.url}/api/config`)).json()) as Record<string, unknown>;
    expect(config.rpcUrl).to.equal(net.chain.url);
    expect(config.chainId).to.equal(31337);
    expect((config.contracts as Record<string, string>).paymentChannels).to.equal(net.deployment.paymentChannels);
    expect((config.contracts as Record<string, string>).flightRecorder).to.equal(net.deployment.flightRecorder);
    expect(JSON.stringify(config)).not.to.match(/privateKey|0x[0-9a-f]{64}"/i);
  });

  it("model owner publishes a model with the built-in dev wallet; the browser hashes the .onnx file", async () => {
    await owner.goto(`${dashboard.url}/models`);
    await connect(owner, "Dev wallet (Hardhat test accounts)");
    await owner.getByRole("combobox", { name: "dev account" }).selectOption("1");
    await owner.getByLabel("onnx file").setInputFiles(SILERO_VAD_V5);
    const expectedHash = sha256OfFile(SILERO_VAD_V5);
    await owner.getByTestId("content-hash").locator(`[data-value="${expectedHash}"]`).waitFor();
    await owner.getByLabel("model name").fill("Silero VAD v5");
    await owner.getByLabel("royalty", { exact: true }).fill("10");
    await owner.getByLabel("license fee").fill("2");
    await confirmTx(owner, "Publish Silero VAD v5", () => owner.getByRole("button", { name: "Publish" }).click());

    const count = await reads().readContract({ address: net.deployment.modelRegistry, abi: modelRegistryAbi, functionName: "modelCount" });
    modelId = count;
    const model = await reads().readContract({ address: net.deployment.modelRegistry, abi: modelRegistryAbi, functionName: "getModel", args: [modelId] });
    expect(model.owner).to.equal(MODEL_OWNER);
    expect(model.contentHash).to.equal(expectedHash);
    expect(BigInt(model.royaltyBps)).to.equal(ROYALTY_BPS);
    expect(model.licenseFee).to.equal(LICENSE_FEE);

    // A second model with a free license and another royalty: the image classifier.
    await owner.getByLabel("onnx file").setInputFiles(PPOCR_DIRECTION_CLS);
    await owner.getByTestId("content-hash").locator(`[data-value="${sha256OfFile(PPOCR_DIRECTION_CLS)}"]`).waitFor();
    await owner.getByLabel("model name").fill("PaddleOCR direction");
    await owner.getByLabel("royalty", { exact: true }).fill("5");
    await owner.getByLabel("license fee").fill("0");
    await confirmTx(owner, "Publish PaddleOCR direction", () => owner.getByRole("button", { name: "Publish" }).click());
    ocrModelId = await reads().readContract({ address: net.deployment.modelRegistry, abi: modelRegistryAbi, functionName: "modelCount" });
    expect(ocrModelId).to.equal(modelId + 1n);
    const ocr = await reads().readContract({ address: net.deployment.modelRegistry, abi: modelRegistryAbi, functionName: "getModel", args: [ocrModelId] });
    expect(BigInt(ocr.royaltyBps)).to.equal(OCR_ROYALTY_BPS);
    expect(ocr.licenseFee).to.equal(0n);
  });

  it("provider gets test tokens, takes the license, and registers the device from the worker's init output", async () => {
    await provider.goto(`${dashboard.url}/buy`);
    await connect(provider);
    await provider.getByLabel("faucet amount").fill("100");
    await confirmTx(provider, "Faucet", () => provider.getByRole("button", { name: /^Get/ }).click());
    expect(await balance(PROVIDER)).to.equal(100_000_000n);

    await provider.goto(`${dashboard.url}/provider`);
    await provider.getByRole("button", { name: "Disconnect" }).waitFor();
    for (const id of [modelId, ocrModelId]) {
      await provider.getByLabel("license model").selectOption(id.toString());
      await confirmTx(provider, `Take license for #${id}`, () => provider.getByRole("button", { name: "Take license" }).click());
      expect(await reads().readContract({ address: net.deployment.modelRegistry, abi: modelRegistryAbi, functionName: "hasLicense", args: [id, PROVIDER] })).to.equal(true);
    }

    // The device side: `worker/cli.ts init --owner` creates the key and prints the binding, as on a real device.
    const dataDir = path.join(tmp, "device");
    const configFile = path.join(tmp, "worker.json");
    workerConfig = {
      dataDir,
      rpcUrl: net.chain.url,
      contracts: { ...net.deployment },
      host: "127.0.0.1",
      port: workerPort,
      models: [
        { modelId: modelId.toString(), file: SILERO_VAD_V5 },
        { modelId: ocrModelId.toString(), file: PPOCR_DIRECTION_CLS },
      ],
      settlement: { claimThreshold: (PRICE * BigInt(FRAMES)).toString(), maxAgeSeconds: 3600, closeSafetySeconds: 30, minBatch: 1, pollIntervalMs: 200 },
      logLevel: "error",
    } as Parameters<typeof startWorker>[0];
    writeFileSync(configFile, JSON.stringify(workerConfig));
    const init = spawnSync(process.execPath, ["worker/cli.ts", "init", "--config", configFile, "--owner", PROVIDER], { cwd: ROOT, encoding: "utf8" });
    expect(init.status, init.stderr).to.equal(0);
    expect(init.stdout).to.match(/bindingSignature: 0x[0-9a-f]{130}/);
    device = /device: (0x[0-9a-fA-F]{40})/.exec(init.stdout)![1] as Address;

    const endpoint = `http://127.0.0.1:${workerPort}`;
    await provider.getByLabel("binding json").fill(init.stdout);
    await provider.getByLabel("endpoint", { exact: true }).fill(endpoint);
    // Below the registry's minimum stake: the contract's custom error comes back as a readable sentence.
    await provider.getByLabel("stake", { exact: true }).fill("1");
    const low = await runTx(provider, "Register device", () => provider.getByRole("button", { name: "Register device" }).click());
    expect(low.status).to.equal("failed");
    expect(low.text).to.contain("below the minimum");
    await provider.getByLabel("stake", { exact: true }).fill("10");
    await confirmTx(provider, "Register device", () => provider.getByRole("button", { name: "Register device" }).click());

    const card = provider.locator(`div.card[data-device="${device}"]`);
    await card.waitFor();
    await card.getByLabel("offering model").selectOption(modelId.toString());
    await card.getByLabel("price", { exact: true }).fill("0.01");
    await confirmTx(provider, `Offer model #${modelId}`, () => card.getByRole("button", { name: "Set offering" }).click());
    await card.getByLabel("offering model").selectOption(ocrModelId.toString());
    await card.getByLabel("price", { exact: true }).fill("0.02");
    await confirmTx(provider, `Offer model #${ocrModelId}`, () => card.getByRole("button", { name: "Set offering" }).click());
    await card.getByLabel("fund eth").fill("0.05");
    await confirmTx(provider, "Send 0.05 ETH", () => card.getByRole("button", { name: "Send ETH" }).click());

    const record = await reads().readContract({ address: net.deployment.deviceRegistry, abi: deviceRegistryAbi, functionName: "getDevice", args: [device] });
    expect(record.owner).to.equal(PROVIDER);
    expect(record.status).to.equal(1); // Active
    expect(record.stake).to.equal(STAKE);
    expect(record.endpoint).to.equal(endpoint);
    expect(
      await reads().readContract({ address: net.deployment.deviceRegistry, abi: deviceRegistryAbi, functionName: "offeringPrice", args: [device, modelId, net.deployment.token] }),
    ).to.equal(PRICE);
    expect(
      await reads().readContract({ address: net.deployment.deviceRegistry, abi: deviceRegistryAbi, functionName: "offeringPrice", args: [device, ocrModelId, net.deployment.token] }),
    ).to.equal(OCR_PRICE);
    expect(await reads().getBalance({ address: device })).to.equal(50_000_000_000_000_000n);

    // The device's owner set it up in the page; now the device serves.
    worker = await startWorker(workerConfig);
    await provider.locator(`div.card[data-device="${device}"] [data-health="up"]`).waitFor({ timeout: 20_000 });
  });

  it("market lists the device with its offering and live health, and the model with its terms", async () => {
    const market = await pageFor(undefined);
    await market.goto(dashboard.url);
    const row = market.locator("tr[data-device]");
    await row.first().waitFor();
    await market.locator("tr[data-device] [data-health='up']").waitFor({ timeout: 20_000 });
    // Names arrive with the model registry's reads, which may land after the device rows.
    await until("offerings with model names", async () => /Silero VAD v5 · 0.01 tUSDC[\s\S]*PaddleOCR direction · 0.02 tUSDC/.test(await row.innerText()));
    // Filter by model, then sort models by royalty.
    await market.getByLabel("filter by model").selectOption(ocrModelId.toString());
    expect(await market.locator("tr[data-device]").count()).to.equal(1);
    await market.getByLabel("sort models").selectOption("royalty");
    expect(await market.locator("tr[data-model]").first().getAttribute("data-model")).to.equal(ocrModelId.toString());
    await market.getByLabel("filter by model").selectOption("all");
    const modelRow = market.locator(`tr[data-model="${modelId}"]`);
    await until("model terms and license count", async () => /Silero VAD v5[\s\S]*10%[\s\S]*2 tUSDC\s+1\b/.test(await modelRow.innerText()));
    await shot(market, "market");
  });

  it("buyer gets tokens, a rejected permit is a normal message, then opens a channel with a permit and tops up", async () => {
    await buyer.goto(`${dashboard.url}/buy`);
    await connect(buyer);
    await buyer.getByLabel("faucet amount").fill("50");
    await confirmTx(buyer, "Faucet", () => buyer.getByRole("button", { name: /^Get/ }).click());
    expect(await balance(BUYER)).to.equal(50_000_000n);

    await buyer.getByLabel("deposit").fill("1");
    await buyer.getByLabel("approval mode").selectOption("permit");
    await buyer.evaluate(() => ((window as unknown as { __edgepayTestWallet: { rejectNext: boolean } }).__edgepayTestWallet.rejectNext = true));
    const rejected = await runTx(buyer, "Sign permit", () => buyer.getByRole("button", { name: "Open channel" }).click());
    expect(rejected.status).to.equal("rejected");
    expect(rejected.text).to.contain("You rejected the request");

    await confirmTx(buyer, "Open channel with permit", () => buyer.getByRole("button", { name: "Open channel" }).click());
    await buyer.getByTestId("opened-channel").waitFor();
    channelId = (await buyer.getByTestId("opened-channel").locator("[data-value]").getAttribute("data-value")) as `0x${string}`;
    const state = await reads().readContract({ address: net.deployment.paymentChannels, abi: paymentChannelsAbi, functionName: "getChannel", args: [channelId] });
    expect(state.deposit).to.equal(DEPOSIT);

    const row = buyer.locator(`tr[data-channel="${channelId}"]`);
    await row.waitFor();
    await row.getByLabel("top up amount").fill("0.5");
    await confirmTx(buyer, "Top up", () => row.getByRole("button", { name: "Top up" }).click());
    const after = await reads().readContract({ address: net.deployment.paymentChannels, abi: paymentChannelsAbi, functionName: "getChannel", args: [channelId] });
    expect(after.deposit).to.equal(DEPOSIT + TOP_UP);
    expect(await balance(BUYER)).to.equal(50_000_000n - DEPOSIT - TOP_UP);
    await until("credit shown", async () => (await row.getByTestId("credit-left").innerText()).includes("1.5 tUSDC"));
    expect(await row.innerText()).to.contain("session key in this browser");
    await shot(buyer, "buy");
  });

  it("buyer runs paid inferences on an uploaded WAV from the page; every receipt checks out", async () => {
    // Real speech from espeak-ng when the machine has it (22.05 kHz: the browser resamples to 16 kHz), else a
    // synthetic voiced waveform.
    const wav = path.join(tmp, "speech.wav");
    const espeak = spawnSync("espeak-ng", ["-w", wav, "Edge devices sell inference one call at a time."], { encoding: "utf8" });
    if (espeak.status !== 0) writeFileSync(wav, makeWav(1.5));
    await buyer.goto(`${dashboard.url}/try`);
    await buyer.getByLabel("audio file").setInputFiles(wav);
    await buyer.getByLabel("frames").fill(String(FRAMES));
    await buyer.getByRole("button", { name: "Run paid inference" }).click();
    const result = buyer.getByTestId("result");
    await result.waitFor({ timeout: 60_000 }).catch(async (e) => {
      throw new Error(`no result: ${await buyer.locator("[role=alert]").allInnerTexts()} ${e}`);
    });
    expect(await buyer.getByTestId("calls").innerText()).to.equal(String(FRAMES));
    expect(await buyer.getByTestId("paid").innerText()).to.equal(`${formatUnits(PRICE * BigInt(FRAMES), 6)} tUSDC`);
    expect(await buyer.getByTestId("receipt-valid").innerText()).to.equal("verified");
    const checks = buyer.locator("[data-testid=receipt-checks] li");
    expect(await checks.count()).to.equal(6);
    expect(await buyer.locator("[data-testid=receipt-checks] li[data-ok=false]").count()).to.equal(0);
    expect(await buyer.getByTestId("summary").innerText()).to.match(new RegExp(`of ${FRAMES} frames`));
    await shot(buyer, "try");
  });

  it("the worker claims for the provider; the provider page shows the earnings, and balances match to the unit", async () => {
    const paid = PRICE * BigInt(FRAMES);
    const royalty = (paid * ROYALTY_BPS) / 10_000n;
    const providerBefore = 100_000_000n - LICENSE_FEE - STAKE;
    await until(
      "the worker's claim",
      async () =>
        (await reads().readContract({ address: net.deployment.paymentChannels, abi: paymentChannelsAbi, functionName: "getChannel", args: [channelId] })).claimed === paid,
      30_000,
    );
    expect(await balance(PROVIDER)).to.equal(providerBefore + paid - royalty);
    expect(
      await reads().readContract({ address: net.deployment.paymentChannels, abi: paymentChannelsAbi, functionName: "royaltiesOf", args: [modelId, net.deployment.token] }),
    ).to.equal(royalty);

    await provider.goto(`${dashboard.url}/provider`);
    await until("earnings in the page", async () => (await provider.getByTestId("earned").innerText()) === `${formatUnits(paid - royalty, 6)} tUSDC`);
    await until("one claim in the history", async () => (await provider.locator("tr[data-claim]").count()) === 1);
    await until("gas share", async () => /%$/.test(await provider.getByTestId("gas-share").innerText()));
    await provider.locator("svg[aria-label^='cumulative earnings']").waitFor();
  });

  it("buyer audits a receipt of that session: signature, hashes, inclusion in the worker's anchor, model version", async () => {
    await buyer.goto(`${dashboard.url}/audit`);
    // Bad JSON is refused with a sentence naming what is wrong.
    await buyer.getByLabel("receipt JSON").fill('{"channelId":"0x12"}');
    await buyer.getByRole("button", { name: "Check receipt" }).click();
    expect(await buyer.locator("p[role=alert]").innerText()).to.match(/channelId: expected 32 bytes of hex/);

    const picker = buyer.getByLabel("session receipt");
    await until("the session's receipts in the picker", async () => (await picker.locator("option").count()) === FRAMES + 1);
    await picker.selectOption({ index: 1 });
    await buyer.getByRole("button", { name: "Check receipt" }).click();
    const result = buyer.getByTestId("audit-result");
    await result.waitFor({ timeout: 30_000 }).catch(async (e) => {
      throw new Error(`no audit result: ${await buyer.locator("[role=alert]").allInnerTexts()} ${e}`);
    });
    const check = (name: string) => buyer.locator(`[data-testid=audit-checks] li[data-check=${name}]`);
    for (const name of ["signature", "arrival", "model"]) expect(await check(name).getAttribute("data-ok"), name).to.equal("true");
    const model = await reads().readContract({ address: net.deployment.modelRegistry, abi: modelRegistryAbi, functionName: "getModel", args: [modelId] });
    expect(await buyer.getByTestId("model-name").innerText()).to.equal("Silero VAD v5");
    expect(await buyer.getByTestId("model-version-number").innerText()).to.equal(String(model.version));
    expect(await buyer.getByTestId("model-hash").innerText()).to.equal(model.contentHash);
    // The worker anchors its receipts with its claims (the claim above): then the inclusion proof must hold.
    const anchored = await reads().readContract({ address: net.deployment.flightRecorder, abi: flightRecorderAbi, functionName: "deviceLog", args: [device] });
    const sequence = BigInt(await buyer.getByTestId("audit-sequence").innerText());
    if (anchored.anchoredSeq >= sequence) {
      expect(await check("inclusion").getAttribute("data-ok")).to.equal("true");
      expect(await buyer.getByTestId("audit-status").innerText()).to.equal("proven");
      const tx = await buyer.getByTestId("anchor-tx").innerText();
      const receipt = await reads().getTransactionReceipt({ hash: tx as `0x${string}` });
      expect(receipt.to?.toLowerCase()).to.equal(net.deployment.flightRecorder.toLowerCase());
      expect(await buyer.getByTestId("anchor-block").innerText()).to.equal(receipt.blockNumber.toString());
    } else {
      expect(await check("inclusion").locator("[data-reason]").getAttribute("data-reason")).to.equal("not_anchored");
      expect(await check("inclusion").innerText()).to.match(/not anchored yet/);
      expect(await buyer.getByTestId("audit-status").innerText()).to.equal("missing");
    }
    await shot(buyer, "audit");
  });

  it("model owner sees the royalty per model and the license, and withdraws the royalties", async () => {
    const royalty = (PRICE * BigInt(FRAMES) * ROYALTY_BPS) / 10_000n;
    const before = await balance(MODEL_OWNER);
    expect(before).to.equal(LICENSE_FEE); // the provider's license fee, paid straight to the owner
    await owner.goto(`${dashboard.url}/models`);
    const row = owner.locator(`tr[data-model="${modelId}"]`);
    const shown = `${formatUnits(royalty, 6)} tUSDC`;
    await until("royalties in the page", async () => (await row.getByTestId("royalties-earned").innerText()) === shown);
    await until("withdrawable royalties", async () => (await row.getByTestId("royalties-withdrawable").innerText()) === shown);
    await until("the provider's license", async () => (await row.innerText()).includes(PROVIDER.slice(0, 8)));
    await shot(owner, "models");
    await confirmTx(owner, "Withdraw royalties", () => row.getByRole("button", { name: "Withdraw" }).click());
    expect(await balance(MODEL_OWNER)).to.equal(before + royalty);
  });

  it("buyer opens a second channel with approve + open and classifies an uploaded image", async () => {
    await buyer.goto(`${dashboard.url}/buy`);
    await buyer.getByLabel("offering").selectOption(`${device}:${ocrModelId}`);
    await buyer.getByLabel("deposit").fill("0.5");
    await buyer.getByLabel("approval mode").selectOption("approve");
    await confirmTx(buyer, "Open channel, deposit", () => buyer.getByRole("button", { name: "Open channel" }).click());
    ocrChannelId = (await buyer.getByTestId("opened-channel").locator("[data-value]").getAttribute("data-value")) as `0x${string}`;
    expect(ocrChannelId).not.to.equal(channelId);
    const state = await reads().readContract({ address: net.deployment.paymentChannels, abi: paymentChannelsAbi, functionName: "getChannel", args: [ocrChannelId] });
    expect(state.deposit).to.equal(OCR_DEPOSIT);

    const [, upsideDown] = textImages(path.join(tmp, "images"), 2);
    await buyer.goto(`${dashboard.url}/try`);
    await buyer.getByLabel("channel", { exact: true }).selectOption(ocrChannelId);
    await buyer.getByLabel("image file").setInputFiles(upsideDown!.file);
    await buyer.getByRole("button", { name: "Run paid inference" }).click();
    await buyer.getByTestId("result").waitFor({ timeout: 30_000 });
    expect(await buyer.getByTestId("paid").innerText()).to.equal("0.02 tUSDC");
    expect(await buyer.getByTestId("receipt-valid").innerText()).to.equal("verified");
    expect(await buyer.getByTestId("summary").innerText()).to.match(/^text is rotated (0°|180°) \(p = [01]\.[0-9]{3}\)$/);
    await shot(buyer, "try-image");

    // The provider sees the image call as value the worker holds unclaimed (below its claim threshold).
    await provider.goto(`${dashboard.url}/provider`);
    const risk = provider.locator(`tr[data-risk="${ocrChannelId}"]`);
    await until("unclaimed value read from the worker", async () => (await risk.getByTestId("unclaimed").innerText()) === "0.02 tUSDC");
    await shot(provider, "provider");

    // The device page (linked from the Market row): the worker's claim of the VAD session and its anchor.
    await provider.goto(`${dashboard.url}/device/${device}`);
    await provider.locator(`[data-testid=device-claim][data-channel="${channelId.toLowerCase()}"]`).waitFor({ timeout: 30_000 });
    await provider.getByTestId("device-anchor").first().waitFor({ timeout: 30_000 });
    await provider.locator("[data-testid=health-history] li[data-ok=true]").first().waitFor({ timeout: 20_000 });
    await shot(provider, "device");
  });

  it("stopping the worker settles what it accepted: the image call is claimed to the unit", async () => {
    const royalty = (OCR_PRICE * OCR_ROYALTY_BPS) / 10_000n;
    const before = await balance(PROVIDER);
    const stopping = worker!;
    worker = undefined;
    // A graceful stop claims everything accepted; it must not hang.
    await within(60_000, "the worker's graceful stop", stopping.stop());
    const state = await reads().readContract({ address: net.deployment.paymentChannels, abi: paymentChannelsAbi, functionName: "getChannel", args: [ocrChannelId] });
    expect(state.claimed).to.equal(OCR_PRICE);
    expect(await balance(PROVIDER)).to.equal(before + OCR_PRICE - royalty);
    expect(
      await reads().readContract({ address: net.deployment.paymentChannels, abi: paymentChannelsAbi, functionName: "royaltiesOf", args: [ocrModelId, net.deployment.token] }),
    ).to.equal(royalty);
  });

  it("buyer requests a close, watches the countdown, and withdraws the rest after the challenge period", async () => {
    await buyer.goto(`${dashboard.url}/buy`);
    const row = buyer.locator(`tr[data-channel="${channelId}"]`);
    await row.waitFor();
    buyer.once("dialog", (d) => void d.accept()); // an irreversible action asks first
    await confirmTx(buyer, "Request close", () => row.getByRole("button", { name: "Request close" }).click());
    await row.getByTestId("countdown").waitFor();
    expect(await row.getByTestId("countdown").innerText()).to.match(/closing · (59 min|1 h)/);

    await rpc(net.chain.url, "evm_increaseTime", [3601]);
    await rpc(net.chain.url, "evm_mine");
    const before = await balance(BUYER);
    const refund = DEPOSIT + TOP_UP - PRICE * BigInt(FRAMES);
    await confirmTx(buyer, "Withdraw refund", () => row.getByRole("button", { name: /^Withdraw/ }).click());
    expect(await balance(BUYER)).to.equal(before + refund);
    const state = await reads().readContract({ address: net.deployment.paymentChannels, abi: paymentChannelsAbi, functionName: "getChannel", args: [channelId] });
    expect(state.settled).to.equal(true);
  });

  it("provider pauses, unpauses, exits and withdraws the stake after the unbonding delay", async () => {
    await provider.goto(`${dashboard.url}/provider`);
    const card = provider.locator(`div.card[data-device="${device}"]`);
    await card.waitFor();
    const status = async () => (await reads().readContract({ address: net.deployment.deviceRegistry, abi: deviceRegistryAbi, functionName: "getDevice", args: [device] })).status;
    await confirmTx(provider, "Pause device", () => card.getByRole("button", { name: "Pause" }).click());
    expect(await status()).to.equal(2);
    await confirmTx(provider, "Unpause device", () => card.getByRole("button", { name: "Unpause" }).click());
    expect(await status()).to.equal(1);
    provider.once("dialog", (d) => void d.accept()); // an irreversible action asks first
    await confirmTx(provider, "Start exit", () => card.getByRole("button", { name: "Exit" }).click());
    expect(await status()).to.equal(3);
    // Too early: the button says how long the stake still unbonds.
    expect(await card.getByRole("button", { name: /^Withdraw stake/ }).isDisabled()).to.equal(true);

    await rpc(net.chain.url, "evm_increaseTime", [7 * 24 * 3600 + 1]);
    await rpc(net.chain.url, "evm_mine");
    const before = await balance(PROVIDER);
    await until("withdraw enabled", async () => !(await card.getByRole("button", { name: /^Withdraw stake/ }).isDisabled()));
    await confirmTx(provider, "Withdraw stake", () => card.getByRole("button", { name: /^Withdraw stake/ }).click());
    expect(await balance(PROVIDER)).to.equal(before + STAKE);
    expect(await status()).to.equal(5);
  });

  it("made no request to any host but this machine (no fonts, telemetry or CDNs)", () => {
    expect(external).to.deep.equal([]);
  });
});
