// Sealed requests from a real browser: the buyer client bundled into a page (no dashboard build needed) pays a real
// worker through a recording relay with WebCrypto sealing, and refuses a worker whose offered key is not the
// registered device's. Chromium is Debian's, through playwright-core, as in the dashboard suite.
import { expect } from "chai";
import { build } from "esbuild";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { chromium, type Browser } from "playwright-core";
import { channelRecordToJson } from "../../protocol/client/index.ts";
import { innerTypeOf, isSealedType } from "../../protocol/sealed.ts";
import { TENSORS_MEDIA_TYPE } from "../../protocol/tensor-binary.ts";
import { publicKeyOf } from "../../protocol/session.ts";
import { ROOT } from "../../scripts/lib/paths.ts";
import { startLocalnet, TEST_KEYS, type Localnet } from "../../scripts/lib/localnet.ts";
import { startRelay, type Relay } from "../helpers/relay.ts";
import { openChannel, setupMarket, SILERO_VAD_V5, type Market } from "../../scripts/lib/worker-fixture.ts";
import type { BrowserRun } from "./sealed-browser-entry.ts";

const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

type RunResult = { ok: true; amount: string; output: number[]; secure: boolean } | { ok: false; code: string; message: string };

describe("sealed requests from a browser (the buyer client in chromium)", function () {
  this.timeout(300_000);
  let net: Localnet;
  let market: Market;
  let relay: Relay;
  let page: Server;
  let browser: Browser;
  let pageUrl: string;

  before(async () => {
    net = await startLocalnet({ challengePeriod: 600n });
    market = await setupMarket(net, { models: [{ file: SILERO_VAD_V5, name: "Silero VAD v5", price: 1_000n }] });
    relay = await startRelay(market.worker!.url);
    const bundle = await build({ entryPoints: [path.join(ROOT, "test/e2e/sealed-browser-entry.ts")], bundle: true, format: "iife", platform: "browser", target: "es2022", write: false, logLevel: "silent" });
    const js = bundle.outputFiles[0]!.text;
    page = createServer((req, res) => {
      if (req.url === "/bundle.js") {
        res.writeHead(200, { "content-type": "text/javascript" });
        res.end(js);
      } else {
        res.writeHead(200, { "content-type": "text/html" });
        res.end('<!doctype html><meta charset="utf-8"><title>sealed</title><script src="/bundle.js"></script>');
      }
    });
    await new Promise<void>((resolve) => page.listen(0, "127.0.0.1", resolve));
    pageUrl = `http://127.0.0.1:${(page.address() as AddressInfo).port}/`;
    browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", args: CHROMIUM_ARGS });
  });
  after(async () => {
    await browser?.close();
    await new Promise((r) => page?.close(r));
    await relay?.close();
    await market?.stop();
    await net?.stop();
  });

  async function runInBrowser(args: BrowserRun): Promise<RunResult> {
    const tab = await browser.newPage();
    try {
      await tab.goto(pageUrl);
      return (await tab.evaluate((a) => (window as unknown as { edgepayRun: (x: unknown) => Promise<unknown> }).edgepayRun(a), args as unknown)) as RunResult;
    } finally {
      await tab.close();
    }
  }

  it("pays a real worker with sealed requests: the relay sees only sealed bodies, the receipt verifies in the browser", async () => {
    const channel = await openChannel(market, { buyer: 3, deposit: 10_000n });
    const record = channelRecordToJson({
      channelId: channel.id,
      chainId: market.chainId,
      paymentChannels: market.contracts.paymentChannels,
      terms: channel.terms,
      signerKey: channel.signer.privateKey,
      paid: 0n,
      signed: 0n,
      deposit: channel.deposit,
      closing: false,
      endpoint: relay.url,
      openedAt: Date.now(),
    });
    const args: BrowserRun = { rpcUrl: net.chain.url, paymentChannels: market.contracts.paymentChannels, worker: relay.url, modelId: market.models[0]!.modelId.toString(), record };
    const r = await runInBrowser(args);
    expect(r, JSON.stringify(r)).to.include({ ok: true, amount: "1000", secure: true });
    const infer = relay.seen.filter((e) => e.method === "POST" && e.path.startsWith("/v1/infer/"));
    expect(infer).to.have.length(1);
    expect(isSealedType(String(infer[0]!.requestHeaders["content-type"]))).to.equal(true);
    expect(isSealedType(String(infer[0]!.responseHeaders["content-type"]))).to.equal(true);
    // The client's default encoding, the binary frame, inside the seal both ways.
    expect(innerTypeOf(String(infer[0]!.requestHeaders["content-type"]))).to.equal(TENSORS_MEDIA_TYPE);
    expect(innerTypeOf(String(infer[0]!.responseHeaders["content-type"]))).to.equal(TENSORS_MEDIA_TYPE);
    for (const word of ['"inputs"', '"outputs"', '"receipt"']) {
      expect(infer[0]!.requestBody.includes(Buffer.from(word))).to.equal(false);
      expect(infer[0]!.responseBody.includes(Buffer.from(word))).to.equal(false);
    }
    // Nor the raw float32 samples the page sent (the entry's signal), nor those it got back.
    const sent = new Float32Array(512).map((_, i) => 0.2 * Math.sin((2 * Math.PI * 211 * i) / 16000));
    expect(infer[0]!.requestBody.includes(Buffer.from(sent.buffer, 4, 32))).to.equal(false);
    if (r.ok) expect(infer[0]!.responseBody.includes(Buffer.from(Float32Array.from(r.output).buffer, 0, 4))).to.equal(false);

    // The relay offers its own key under the device's address: the browser refuses before sending anything.
    relay.seen = [];
    relay.onResponse = (p, _s, res) => {
      if (p !== "/v1/offerings") return res;
      const o = JSON.parse(res.body.toString()) as Record<string, unknown>;
      o.devicePublicKey = publicKeyOf(TEST_KEYS[8]);
      return { headers: res.headers, body: Buffer.from(JSON.stringify(o)) };
    };
    const refused = await runInBrowser({ ...args, record: { ...record, paid: "1000", signed: "1000" } });
    expect(refused.ok).to.equal(false);
    if (!refused.ok) {
      expect(refused.code).to.equal("device_key_mismatch");
      expect(refused.message).to.include(market.device.address);
    }
    expect(relay.seen.filter((e) => e.path.startsWith("/v1/infer/")), "not even a preflight").to.have.length(0);
  });
});
