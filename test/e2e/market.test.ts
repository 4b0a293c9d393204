// The dashboard issue's remaining items in a real browser (Debian chromium through playwright-core) against the
// production Next build, a real Hardhat chain and a real worker: withdrawable credits (a payout and a refund whose
// transfer failed, made to happen for real with a USDC-like pausable/blacklisting token deployed here), provider
// onboarding (no prefilled endpoint, errors next to the field, nothing sent), and the device page and Buy from a
// Market row. Every test asserts on the chain: balances, credits, the channel's terms, and the number of
// `eth_sendTransaction` requests the page made to the injected wallet.
import { expect } from "chai";
import { readFileSync } from "node:fs";
import path from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { erc20Abi, type Abi, type Address, type Hex } from "viem";
import { deviceRegistryAbi, flightRecorderAbi, paymentChannelsAbi, testUsdcAbi } from "../../protocol/generated/contracts.ts";
import { Buyer, MemoryBuyerStore } from "../../protocol/client/index.ts";
import { readReputation } from "../../protocol/reputation.ts";
import { initialVadState, sileroVadInputs } from "../../protocol/client/inputs.ts";
import { channelIdOf, type ChannelTerms } from "../../protocol/terms.ts";
import { signVoucher } from "../../protocol/voucher.ts";
import { freePort } from "../../scripts/lib/chain.ts";
import { ROOT } from "../../scripts/lib/paths.ts";
import { SILERO_VAD_V5 } from "../../worker/models/demo.ts";
import { registerDevice, signDeviceBinding } from "../../worker/register.ts";
import { clientsFor, startLocalnet, TEST_KEYS, type Localnet } from "../../scripts/lib/localnet.ts";
import { setupMarket, type Market } from "../../scripts/lib/worker-fixture.ts";
import { startDashboard, type RunningDashboard } from "./dashboard.ts";
import { connect, until, within } from "./pages.ts";
import { injectTestWallet } from "./wallet.ts";

const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const PRICE = 10_000n;
const PROVIDER = privateKeyToAccount(TEST_KEYS[2]).address;
const PAYER = privateKeyToAccount(TEST_KEYS[6]).address;
const blkArtifact = JSON.parse(readFileSync(path.join(ROOT, "artifacts/contracts/test/BlacklistableERC20.sol/BlacklistableERC20.json"), "utf8")) as { abi: Abi; bytecode: Hex };
const blkAbi = [
  ...erc20Abi,
  { type: "function", name: "faucet", stateMutability: "nonpayable", inputs: [{ name: "to", type: "address" }, { name: "amount", type: "uint256" }], outputs: [] },
  { type: "function", name: "setPaused", stateMutability: "nonpayable", inputs: [{ name: "on", type: "bool" }], outputs: [] },
  { type: "function", name: "setBlacklisted", stateMutability: "nonpayable", inputs: [{ name: "account", type: "address" }, { name: "on", type: "bool" }], outputs: [] },
] as const;

describe("dashboard in chromium: credits, provider onboarding, device page and Buy from the Market", function () {
  this.timeout(300_000);
  let net: Localnet;
  let market: Market;
  let dashboard: RunningDashboard;
  let browser: Browser;
  let workerUrl: string;
  const contexts: BrowserContext[] = [];

  const reads = () => clientsFor(net, 0).publicClient;
  const pc = () => net.deployment.paymentChannels;
  const sentTx = (page: Page) =>
    page.evaluate(() => (window as unknown as { __edgepayTestWallet: { requests: string[] } }).__edgepayTestWallet.requests.filter((m) => m === "eth_sendTransaction").length);
  /** Sends a transaction from test key `index` and waits for its success. */
  async function tx(index: number, args: Parameters<ReturnType<typeof clientsFor>["walletClient"]["writeContract"]>[0]) {
    const hash = await clientsFor(net, index).walletClient.writeContract(args);
    const receipt = await reads().waitForTransactionReceipt({ hash });
    if (receipt.status !== "success") throw new Error(`${String(args.functionName)} reverted`);
    return receipt;
  }

  async function pageFor(account: Address): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    contexts.push(context);
    await injectTestWallet(context, { rpcUrl: net.chain.url, account, chainId: net.deployment.chainId });
    const page = await context.newPage();
    page.on("pageerror", (e) => console.error(`[page error] ${e.message}`));
    return page;
  }

  before(async () => {
    net = await startLocalnet();
    const port = await freePort();
    workerUrl = `http://127.0.0.1:${port}`;
    market = await setupMarket(net, { models: [{ file: SILERO_VAD_V5, name: "Silero VAD v5", price: PRICE }], start: false, config: { port } });
    await tx(2, { address: net.deployment.deviceRegistry, abi: deviceRegistryAbi, functionName: "updateDevice", args: [market.device.address, workerUrl, "{}"] });
    await market.startWorker();
    // The operator lists the demo worker: the provider form must still not prefill it as anyone's endpoint.
    dashboard = await startDashboard(net, { EDGEPAY_WORKERS: workerUrl });
    browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", args: CHROMIUM_ARGS });
  });

  after(async () => {
    await within(60_000, "the worker's stop", market?.stop() ?? Promise.resolve()).catch((e: unknown) => console.error(String(e)));
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await dashboard?.stop();
    await net?.stop();
  });

  describe("withdrawable credits", () => {
    let blk: Address;
    const blkBalance = (who: Address) => reads().readContract({ address: blk, abi: erc20Abi, functionName: "balanceOf", args: [who] });
    const creditOf = (who: Address) => reads().readContract({ address: pc(), abi: paymentChannelsAbi, functionName: "creditOf", args: [who, blk] });
    const DEPOSIT = 1_000_000n;
    const CLAIMED = 50_000n; // 5 calls; 10% royalty stays with the model's royalties

    before(async () => {
      // A USDC-like token (pause, blacklist) that the provider offers the model in, and one channel in it.
      const owner = clientsFor(net, 0);
      const hash = await owner.walletClient.deployContract({ abi: blkArtifact.abi, bytecode: blkArtifact.bytecode });
      blk = (await reads().waitForTransactionReceipt({ hash })).contractAddress!;
      const modelId = market.models[0]!.modelId;
      await tx(2, { address: net.deployment.deviceRegistry, abi: deviceRegistryAbi, functionName: "setOffering", args: [market.device.address, modelId, blk, PRICE] });
      const signer = privateKeyToAccount(TEST_KEYS[9]);
      const terms: ChannelTerms = {
        payer: PAYER,
        signer: signer.address,
        device: market.device.address,
        payee: PROVIDER,
        token: blk,
        modelId,
        price: PRICE,
        royaltyBps: market.models[0]!.royaltyBps,
        salt: 77n,
      };
      await tx(6, { address: blk, abi: blkAbi, functionName: "faucet", args: [PAYER, DEPOSIT] });
      await tx(6, { address: blk, abi: blkAbi, functionName: "approve", args: [pc(), DEPOSIT] });
      await tx(6, { address: pc(), abi: paymentChannelsAbi, functionName: "open", args: [terms, DEPOSIT] });
      const id = channelIdOf(terms);
      // The provider is blacklisted by the token when the claim pays out: the payout is credited to it.
      await tx(0, { address: blk, abi: blkAbi, functionName: "setBlacklisted", args: [PROVIDER, true] });
      const v = await signVoucher(signer, { chainId: net.deployment.chainId, paymentChannels: pc(), channelId: id, cumulativeAmount: CLAIMED });
      await tx(0, { address: pc(), abi: paymentChannelsAbi, functionName: "claim", args: [terms, CLAIMED, v.signature] });
      // The payer is blacklisted when the refund is due: the refund is credited to it.
      await tx(6, { address: pc(), abi: paymentChannelsAbi, functionName: "requestClose", args: [terms] });
      const period = await reads().readContract({ address: pc(), abi: paymentChannelsAbi, functionName: "challengePeriod" });
      await reads().request({ method: "evm_increaseTime" as never, params: [Number(period) + 1] as never });
      await reads().request({ method: "evm_mine" as never, params: [] as never });
      await tx(0, { address: blk, abi: blkAbi, functionName: "setBlacklisted", args: [PAYER, true] });
      await tx(6, { address: pc(), abi: paymentChannelsAbi, functionName: "withdraw", args: [terms] });
      expect((await reads().readContract({ address: pc(), abi: paymentChannelsAbi, functionName: "getChannel", args: [id] })).settled).to.equal(true);
      // Both transfers failed for real and were credited.
      expect(await creditOf(PROVIDER)).to.equal(CLAIMED - (CLAIMED * 1_000n) / 10_000n);
      expect(await creditOf(PAYER)).to.equal(DEPOSIT - CLAIMED);
      expect(await blkBalance(PROVIDER)).to.equal(0n);
      expect(await blkBalance(PAYER)).to.equal(0n);
      await tx(0, { address: blk, abi: blkAbi, functionName: "setBlacklisted", args: [PROVIDER, false] });
      await tx(0, { address: blk, abi: blkAbi, functionName: "setBlacklisted", args: [PAYER, false] });
    });

    it("1: the provider page shows the payee's credit; a withdrawal while the token is paused fails next to the action, then one click withdraws it", async () => {
      const p = await pageFor(PROVIDER);
      await p.goto(`${dashboard.url}/provider`);
      await connect(p);
      const credit = p.locator(`[data-testid=credit][data-token="${blk.toLowerCase()}"]`);
      await credit.waitFor({ timeout: 30_000 });
      const owed = await creditOf(PROVIDER);
      expect(owed).to.equal(45_000n);
      expect(await credit.getAttribute("data-amount")).to.equal(owed.toString());
      expect(await credit.innerText()).to.contain("0.045 BLK");

      // Paused token: the withdrawal cannot go through; the decoded reason shows next to the action, nothing moved.
      await tx(0, { address: blk, abi: blkAbi, functionName: "setPaused", args: [true] });
      await credit.getByRole("button", { name: "Withdraw credit" }).click();
      await until("the error next to the action", async () => (await credit.getByTestId("credit-error").innerText()).includes("paused")).catch(async (e) => {
        throw new Error(`${e}: ${await p.locator("ul.txlist").innerText().catch(() => "")} | ${await credit.innerText()}`);
      });
      expect(await credit.getByTestId("credit-error").innerText()).to.contain("The token is paused by its issuer");
      expect(await creditOf(PROVIDER)).to.equal(owed);
      expect(await blkBalance(PROVIDER)).to.equal(0n);

      await tx(0, { address: blk, abi: blkAbi, functionName: "setPaused", args: [false] });
      const txBefore = await sentTx(p);
      // A double click in one task, before React can re-render: one transaction.
      await credit.getByRole("button", { name: "Withdraw credit" }).evaluate((el: HTMLElement) => {
        el.click();
        el.click();
      });
      await until("the credit withdrawn", async () => (await creditOf(PROVIDER)) === 0n);
      await until("the credit gone from the page", async () => (await p.locator("[data-testid=credit]").count()) === 0);
      await p.waitForTimeout(1_000);
      expect(await sentTx(p)).to.equal(txBefore + 1);
      expect(await blkBalance(PROVIDER)).to.equal(owed);
    });

    it("1: the buy page shows the payer's refund credit; Withdraw credit sends exactly one transaction and pays it", async () => {
      const b = await pageFor(PAYER);
      await b.goto(`${dashboard.url}/buy`);
      await connect(b);
      const credit = b.locator(`[data-testid=credit][data-token="${blk.toLowerCase()}"]`);
      await credit.waitFor({ timeout: 30_000 });
      const owed = await creditOf(PAYER);
      expect(owed).to.equal(DEPOSIT - CLAIMED);
      expect(await credit.innerText()).to.contain("0.95 BLK");
      const [bal, txBefore] = [await blkBalance(PAYER), await sentTx(b)];
      expect(bal).to.equal(0n);
      await credit.getByRole("button", { name: "Withdraw credit" }).click();
      await until("the credit withdrawn", async () => (await creditOf(PAYER)) === 0n).catch(async (e) => {
        throw new Error(`${e}: ${await b.locator("ul.txlist").innerText().catch(() => "")} | ${await credit.innerText()}`);
      });
      await until("the credit gone from the page", async () => (await b.locator("[data-testid=credit]").count()) === 0);
      await b.waitForTimeout(1_000);
      expect(await sentTx(b)).to.equal(txBefore + 1);
      expect(await blkBalance(PAYER)).to.equal(bal + owed);
      const done = b.locator("ul.txlist li", { hasText: "Withdraw credit" }).first();
      expect(await done.getAttribute("data-status")).to.equal("confirmed");
    });
  });
  describe("provider onboarding", () => {
    it("2: no endpoint is prefilled; Fetch binding and a bad device address say what to do next to the field; nothing is sent", async () => {
      const p = await pageFor(PROVIDER);
      await p.goto(`${dashboard.url}/provider`);
      await connect(p);
      const reg = net.deployment.deviceRegistry;
      const allowance = () => reads().readContract({ address: net.deployment.token, abi: erc20Abi, functionName: "allowance", args: [PROVIDER, reg] });
      const balance = () => reads().readContract({ address: net.deployment.token, abi: erc20Abi, functionName: "balanceOf", args: [PROVIDER] });
      const [txBefore, allowBefore, balBefore] = [await sentTx(p), await allowance(), await balance()];
      const workerField = p.getByLabel("worker url");
      const endpointField = p.getByLabel("endpoint", { exact: true });
      await workerField.waitFor();
      // The operator's worker (EDGEPAY_WORKERS) is only a suggestion: neither field holds an address nobody gave.
      expect(await workerField.inputValue()).to.equal("");
      expect(await endpointField.inputValue()).to.equal("");
      expect(await p.locator("datalist#known-workers option").getAttribute("value")).to.equal(workerUrl);

      const fetchError = p.getByTestId("fetch-binding-error");
      const fetchBinding = p.getByRole("button", { name: "Fetch binding" });
      await fetchBinding.click();
      await until("the empty-URL message", async () => (await fetchError.innerText()).includes("Give the worker's URL first"));
      // A worker that publishes no binding (started without --owner): a 404 that says what to do.
      await workerField.fill(workerUrl);
      await fetchBinding.click();
      await until("the 404 message", async () => (await fetchError.innerText()).includes("HTTP 404"));
      const text404 = await fetchError.innerText();
      expect(text404).to.contain(`node worker/cli.ts init --owner ${PROVIDER}`).and.to.contain("Check the URL");
      expect(await p.getByLabel("binding json").inputValue()).to.equal("");
      expect(await endpointField.inputValue()).to.equal(""); // a failed fetch sets no endpoint
      // Nobody there: the same, with the address it tried.
      await workerField.fill("http://127.0.0.1:9");
      await fetchBinding.click();
      await until("the unreachable message", async () => (await fetchError.innerText()).includes("Could not reach a worker at http://127.0.0.1:9"));
      expect(await fetchError.innerText()).to.contain("Check the URL");

      // 0x1234 as the device address: refused next to the binding field as not an address; Register is off.
      const block = await reads().getBlock();
      const signed = await signDeviceBinding({ devicePrivateKey: generatePrivateKey(), owner: PROVIDER, chainId: net.deployment.chainId, deviceRegistry: reg, deadline: block.timestamp + 3600n });
      const good = { device: signed.device, owner: PROVIDER, deadline: signed.deadline.toString(), signature: signed.signature };
      await p.getByLabel("binding json").fill(JSON.stringify({ ...good, device: "0x1234" }));
      await endpointField.fill("http://127.0.0.1:9");
      const bindingError = p.getByTestId("binding-error");
      await until("the address message", async () => (await bindingError.innerText()).includes("not an address: 40 hex digits after 0x"));
      expect(await bindingError.innerText()).to.contain('"0x1234"');
      const register = p.getByRole("button", { name: "Register device" });
      expect(await register.isDisabled()).to.equal(true);
      await register.click({ force: true, timeout: 2_000 }).catch(() => undefined);
      await p.waitForTimeout(1_500);
      expect(await sentTx(p)).to.equal(txBefore);

      // A good binding without an endpoint: refused before any approval, with the reason next to the form.
      await p.getByLabel("binding json").fill(JSON.stringify(good));
      await until("no binding error", async () => (await bindingError.count()) === 0);
      await endpointField.fill("not a url");
      await until("the endpoint message", async () => (await p.getByTestId("endpoint-error").innerText()).includes("is not a URL"));
      expect(await register.isDisabled()).to.equal(true);
      await endpointField.fill("");
      await register.click();
      await until("the endpoint refusal", async () => (await p.getByTestId("register-error").innerText()).includes("Give the device's HTTP endpoint"));
      await p.waitForTimeout(1_000);

      expect(await sentTx(p)).to.equal(txBefore);
      expect(await allowance()).to.equal(allowBefore);
      expect(await balance()).to.equal(balBefore);
      const lookup = await reads().readContract({ address: reg, abi: deviceRegistryAbi, functionName: "getDevice", args: [signed.device] }).then(
        () => "registered",
        (e: unknown) => String(e),
      );
      expect(lookup).to.contain("DeviceNotFound"); // not registered
    });
  });
  describe("device page and Buy from the Market", () => {
    it("3: the device page shows the device's on-chain stake, offerings, health history, and the worker's real claim and anchor", async () => {
      const device = market.device.address;
      const modelId = market.models[0]!.modelId;
      // A buyer pays 3 calls through the buyer client; then the worker claims them (what its /v1/settle does).
      const buyer = clientsFor(net, 7);
      await tx(7, { address: net.deployment.token, abi: testUsdcAbi, functionName: "faucet", args: [buyer.account.address, 10_000_000n] });
      const client = new Buyer({
        publicClient: buyer.publicClient,
        wallet: buyer.walletClient,
        paymentChannels: pc(),
        store: new MemoryBuyerStore(),
        http: { timeoutMs: 20_000 },
        autoOpen: { deposit: 100n * PRICE },
      });
      let state = initialVadState();
      let channelId: Hex | undefined;
      for (let k = 0; k < 3; k++) {
        const frame = new Float32Array(512).map((_, i) => 0.3 * Math.sin((2 * Math.PI * 220 * (i + 512 * k)) / 16000));
        const r = await client.infer(modelId, sileroVadInputs(frame, state), { workers: [workerUrl] });
        channelId = r.channelId;
        state = initialVadState();
      }
      const claim = await market.worker!.internals.settler.claimNow();
      expect(claim, JSON.stringify(claim, (_, v: unknown) => (typeof v === "bigint" ? v.toString() : v))).to.be.ok;
      const onChain = await reads().readContract({ address: pc(), abi: paymentChannelsAbi, functionName: "getChannel", args: [channelId!] });
      expect(onChain.claimed).to.equal(3n * PRICE);
      const anchorsOnChain = await reads().getContractEvents({ address: net.deployment.flightRecorder, abi: flightRecorderAbi, eventName: "Anchored", args: { device }, fromBlock: 0n });

      const v = await pageFor(PAYER);
      await v.goto(`${dashboard.url}/device/${device}`);
      const stake = v.getByTestId("device-stake");
      await stake.waitFor({ timeout: 30_000 });
      const d = await reads().readContract({ address: net.deployment.deviceRegistry, abi: deviceRegistryAbi, functionName: "getDevice", args: [device] });
      expect(await stake.getAttribute("data-value")).to.equal(d.stake.toString());
      expect(d.stake > 0n).to.equal(true);
      expect(await v.getByTestId("device-status").innerText()).to.equal("Active");
      // Offerings: the model in tUSDC and in the BLK token the credit tests added, each with its price and token.
      const usdc = v.locator(`tr[data-offering="${modelId}"][data-token="${net.deployment.token.toLowerCase()}"]`);
      await usdc.waitFor();
      expect(await usdc.getByTestId("offering-price").getAttribute("data-value")).to.equal(PRICE.toString());
      // The model's name comes from the ModelRegistry after the row itself: wait for it rather than race it.
      await until("the offering's model name", async () => (await usdc.innerText()).includes("Silero VAD v5"));
      expect(await usdc.innerText()).to.contain("Silero VAD v5").and.to.contain("0.01 tUSDC");
      expect(await usdc.getByRole("link", { name: "Buy" }).getAttribute("href")).to.equal(`/buy?device=${device}&model=${modelId}&token=${net.deployment.token}`);
      // The worker's claim, read from Claimed events joined to ChannelOpened terms naming this device.
      const row = v.locator(`[data-testid=device-claim][data-channel="${channelId!.toLowerCase()}"]`);
      await row.waitFor({ timeout: 30_000 });
      expect(await row.getAttribute("data-amount")).to.equal((3n * PRICE).toString());
      expect(await row.innerText()).to.contain("0.03 tUSDC").and.to.contain("0.027 tUSDC");
      // Anchors: exactly the FlightRecorder's Anchored events of this device.
      await until("the anchors", async () => (await v.getByTestId("device-anchor").count()) === anchorsOnChain.length);
      expect(anchorsOnChain.length).to.be.greaterThan(0);
      // Reputation: the counts and score protocol/reputation.ts reads from the same chain.
      const { deviceRegistry, flightRecorder, answerDisputes, deviceReputation } = net.deployment;
      const rep = await readReputation(reads(), { deviceRegistry, flightRecorder, answerDisputes, deviceReputation }, device);
      expect(rep.receiptsAnchored > 0n).to.equal(true);
      await until("the reputation section", async () => (await v.getByTestId("reputation-anchored").innerText()) === rep.receiptsAnchored.toString());
      expect(await v.locator("[aria-label=reputation] [data-reputation-score]").getAttribute("data-reputation-score")).to.equal(String(rep.score));
      expect(await v.getByTestId("reputation-slashes").innerText()).to.equal(String(rep.slashes));
      // Health history: the polled checks are listed (the live worker answers).
      await until("a health check in the history", async () => (await v.locator("[data-testid=health-history] li[data-ok=true]").count()) >= 1, 20_000);
      expect(await v.getByTestId("health-summary").innerText()).to.match(/^up in \d+ of the last \d+ checks$/);
    });

    it("3: Buy on a Market row preselects that device; the deposit opens a channel whose terms name it", async () => {
      const modelId = market.models[0]!.modelId;
      // A second device offering the same model, registered after the first (so it is not the default choice).
      const second = await registerDevice({
        rpcUrl: net.chain.url,
        contracts: market.contracts,
        ownerKey: TEST_KEYS[2],
        devicePrivateKey: generatePrivateKey(),
        endpoint: workerUrl,
        models: [{ modelId, price: 20_000n }],
        fundEth: "0",
      });
      const BUYER = privateKeyToAccount(TEST_KEYS[8]).address;
      await tx(8, { address: net.deployment.token, abi: testUsdcAbi, functionName: "faucet", args: [BUYER, 5_000_000n] });
      const b = await pageFor(BUYER);
      await b.goto(dashboard.url);
      await connect(b);
      const row = b.locator(`tr[data-device="${second.device}"]`);
      await row.waitFor({ timeout: 30_000 });
      await row.getByRole("link", { name: "Buy" }).click();
      await b.waitForURL(/\/buy\?device=/);
      const offering = b.getByLabel("offering");
      await offering.waitFor({ timeout: 30_000 });
      await until("the second device preselected", async () => (await offering.inputValue()) === `${second.device}:${modelId}`);
      expect(await offering.locator("option").count()).to.be.greaterThan(1); // the first device is offered too
      await until("the device reported up", async () => (await b.getByTestId("offering-health").getAttribute("data-health")) === "up", 20_000);

      await b.getByLabel("deposit", { exact: true }).fill("1");
      await b.getByLabel("approval mode").selectOption("approve");
      const [bal, txBefore] = [await reads().readContract({ address: net.deployment.token, abi: erc20Abi, functionName: "balanceOf", args: [BUYER] }), await sentTx(b)];
      await b.getByRole("button", { name: "Open channel" }).click();
      await b.getByTestId("opened-channel").waitFor({ timeout: 30_000 });
      const id = (await b.getByTestId("opened-channel").locator("[data-value]").getAttribute("data-value")) as Hex;
      const [opened] = await reads().getContractEvents({ address: pc(), abi: paymentChannelsAbi, eventName: "ChannelOpened", args: { channelId: id }, fromBlock: 0n });
      expect(opened!.args.terms!.device).to.equal(second.device);
      expect(opened!.args.terms!.price).to.equal(20_000n);
      expect(opened!.args.terms!.payer).to.equal(BUYER);
      expect((await reads().readContract({ address: pc(), abi: paymentChannelsAbi, functionName: "getChannel", args: [id] })).deposit).to.equal(1_000_000n);
      expect(await reads().readContract({ address: net.deployment.token, abi: erc20Abi, functionName: "balanceOf", args: [BUYER] })).to.equal(bal - 1_000_000n);
      expect(await sentTx(b)).to.equal(txBefore + 2); // approve + open
    });

    it("3: Buy for a device with no active offering says so and opens nothing (never another device's channel)", async () => {
      const BUYER = privateKeyToAccount(TEST_KEYS[8]).address;
      const b = await pageFor(BUYER);
      const nobody = privateKeyToAccount(generatePrivateKey()).address;
      await b.goto(`${dashboard.url}/buy?device=${nobody}&model=${market.models[0]!.modelId}`);
      await connect(b);
      const missing = b.getByTestId("offering-missing");
      await missing.waitFor({ timeout: 30_000 });
      expect((await missing.innerText()).toLowerCase()).to.contain(nobody.toLowerCase());
      expect(await b.getByLabel("offering").inputValue()).to.equal("");
      const open = b.getByRole("button", { name: "Open channel" });
      expect(await open.isDisabled()).to.equal(true);
      const txBefore = await sentTx(b);
      await open.click({ force: true, timeout: 2_000 }).catch(() => undefined);
      await b.waitForTimeout(1_500);
      expect(await sentTx(b)).to.equal(txBefore);
    });
  });
});
