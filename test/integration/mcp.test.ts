// The MCP server as an agent uses it: an SDK Client spawns `mcp/server.ts` over stdio and goes list -> infer ->
// receipts -> close against a real worker on a local chain; the operator's budget refuses calls before any voucher
// is signed or deposit made (checked at the worker and in token balances), and survives a restart.
import { expect } from "chai";
import { execFile, spawn } from "node:child_process";
import { mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { promisify } from "node:util";
import type { Hex } from "viem";
import { FileBuyerStore } from "../../protocol/node/file-store.ts";
import { PNG } from "pngjs";
import { deviceRegistryAbi, testUsdcAbi } from "../../protocol/generated/contracts.ts";
import { fetchChannelInfo } from "../../protocol/client/index.ts";
import { marketListingWire } from "../../protocol/discovery.ts";
import { encodeWav16 } from "../../protocol/node/inputs.ts";
import { ROOT } from "../../scripts/lib/paths.ts";
import { clientsFor, startLocalnet, TEST_KEYS, type Localnet } from "../../scripts/lib/localnet.ts";
import { PPOCR_DIRECTION_CLS, PROVIDER_INDEX, setupMarket, SILERO_VAD_V5, vadInputs, type Market } from "../../scripts/lib/worker-fixture.ts";

const SERVER = path.join(ROOT, "mcp/server.ts");
const BUYER = 7;

interface CallResult {
  isError?: boolean;
  content: { type: string; text?: string }[];
  structuredContent?: Record<string, unknown>;
}

describe("mcp: agents find and pay devices within a budget", function () {
  this.timeout(300_000);
  let net: Localnet;
  let market: Market;
  let dir: string;
  let env: Record<string, string>;
  let client: Client | undefined;
  let serverLog = "";
  const buyer = () => clientsFor(net, BUYER);
  const signedOn = async (channelId: string) => (await new FileBuyerStore(path.join(dir, "store")).getChannel(channelId as Hex))!.signed;
  const vadChannel = async () => ((await ok("channels")).channels as unknown as { channelId: string; modelId: string }[]).find((c) => c.modelId === "1")!.channelId;
  const balance = () => buyer().publicClient.readContract({ address: market.token, abi: testUsdcAbi, functionName: "balanceOf", args: [buyer().account.address] });

  const connect = async () => {
    const transport = new StdioClientTransport({ command: process.execPath, args: [SERVER], env, cwd: ROOT, stderr: "pipe" });
    const c = new Client({ name: "edgepay-test-agent", version: "1.0.0" });
    transport.stderr?.on("data", (d: Buffer) => void (serverLog += d.toString()));
    await c.connect(transport).catch((error: Error) => {
      throw new Error(`${error.message}; server said: ${serverLog}`);
    });
    client = c;
    return c;
  };
  const call = async (name: string, args: Record<string, unknown> = {}) => (await client!.callTool({ name, arguments: args })) as CallResult;
  const ok = async (name: string, args: Record<string, unknown> = {}) => {
    const r = await call(name, args);
    expect(r.isError, r.content[0]?.text).to.not.equal(true);
    return r.structuredContent as Record<string, unknown> & Record<string, never>;
  };
  const failed = async (name: string, args: Record<string, unknown>) => {
    const r = await call(name, args);
    expect(r.isError, JSON.stringify(r.content)).to.equal(true);
    return { text: r.content[0]!.text!, error: (r.structuredContent?.error ?? {}) as Record<string, string> };
  };

  before(async () => {
    net = await startLocalnet({ challengePeriod: 600n });
    market = await setupMarket(net, {
      models: [
        { file: SILERO_VAD_V5, name: "Silero VAD v5", price: 1_000n },
        { file: PPOCR_DIRECTION_CLS, name: "PaddleOCR direction", price: 5_000n },
      ],
    });
    // The registry must point at the running worker: agents find devices through the chain.
    const provider = clientsFor(net, PROVIDER_INDEX);
    const d = await provider.publicClient.readContract({ address: market.contracts.deviceRegistry, abi: deviceRegistryAbi, functionName: "getDevice", args: [market.device.address] });
    await provider.publicClient.waitForTransactionReceipt({
      hash: await provider.walletClient.writeContract({ address: market.contracts.deviceRegistry, abi: deviceRegistryAbi, functionName: "updateDevice", args: [market.device.address, market.worker!.url, d.metadata] }),
    });
    const b = buyer();
    await b.publicClient.waitForTransactionReceipt({ hash: await b.walletClient.writeContract({ address: market.token, abi: testUsdcAbi, functionName: "faucet", args: [b.account.address, 1_000_000n] }) });

    dir = await mkdtemp(path.join(tmpdir(), "edgepay-mcp-"));
    const tone = Int16Array.from({ length: 8000 }, (_, i) => Math.round(9000 * Math.sin((2 * Math.PI * 180 * i) / 16000)));
    await writeFile(path.join(dir, "tone.wav"), encodeWav16(tone, 16000));
    const png = new PNG({ width: 120, height: 30 });
    png.data.fill(255);
    for (let y = 8; y < 22; y++) for (let x = 4; x < 116; x++) if (x % 10 < 6) png.data.fill(30, (y * 120 + x) * 4, (y * 120 + x) * 4 + 3);
    await writeFile(path.join(dir, "line.png"), PNG.sync.write(png));
    env = {
      PATH: process.env.PATH ?? "",
      EDGEPAY_RPC_URL: net.chain.url,
      EDGEPAY_PAYMENT_CHANNELS: market.contracts.paymentChannels,
      EDGEPAY_BUYER_KEY: TEST_KEYS[BUYER]!,
      EDGEPAY_BUYER_HOME: path.join(dir, "store"),
      EDGEPAY_MCP_MAX_PER_CALL: "4000",
      EDGEPAY_MCP_MAX_PER_HOUR: "1000000",
      EDGEPAY_MCP_MAX_TOTAL: "9000",
      EDGEPAY_MCP_DEPOSIT: "50000",
      EDGEPAY_MCP_FILES_DIR: dir,
    };
    await symlink("/etc/hostname", path.join(dir, "escape.png"));
    await connect();
  });
  after(async () => {
    await client?.close();
    await market?.stop();
    await net?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("lists the tools, the models with prices and the device with its health", async () => {
    const tools = (await client!.listTools()).tools.map((t) => t.name).sort();
    expect(tools).to.deep.equal(["budget", "channels", "close_channel", "infer", "list_devices", "list_models", "list_offerings", "receipts"]);
    const { models } = await ok("list_models");
    const list = models as unknown as { modelId: string; name: string; offers: { device: string; price: string }[] }[];
    expect(list.map((m) => [m.modelId, m.name, m.offers.map((o) => o.price)])).to.deep.equal([
      ["1", "Silero VAD v5", ["1000"]],
      ["2", "PaddleOCR direction", ["5000"]],
    ]);
    const { devices } = await ok("list_devices", { model_id: 1 });
    const dev = (devices as unknown as { device: string; status: string; endpoint: string; live: { reachable: boolean; healthy: boolean; models: { modelId: string; price: string }[] } }[])[0]!;
    expect(dev.device.toLowerCase()).to.equal(market.device.address.toLowerCase());
    expect(dev.status).to.equal("active");
    expect(dev.endpoint).to.equal(market.worker!.url);
    expect(dev.live.reachable && dev.live.healthy).to.equal(true);
    expect(dev.live.models.map((m) => m.price)).to.deep.equal(["1000", "5000"]);
    // The x402 discovery listing (the same code as `npm run market -- list --json`), filtered to model 2.
    const listing = marketListingWire.parse(await ok("list_offerings", { model_id: 2 }));
    expect(listing.items.map((i) => [i.type, i.metadata.modelId, i.metadata.price])).to.deep.equal([
      ["http", "2", "5000"],
      ["mcp", "2", "5000"],
    ]);
    expect(listing.devices.map((d) => d.reachable)).to.deep.equal([true]);
  });

  it("pays for a WAV file per frame and for JSON tensors, opening a channel with the operator's deposit", async () => {
    const before = await balance();
    // A relative path resolves in the operator's files directory.
    const audio = await ok("infer", { model_id: 1, file: "tone.wav", max_frames: 3 });
    expect(audio.kind).to.equal("audio");
    expect(audio.frames).to.equal(3);
    expect(audio.cost).to.equal("3000");
    const json = await ok("infer", { model_id: "1", inputs: vadInputs(1) });
    expect(json.cost).to.equal("1000");
    const outputs = json.outputs as unknown as Record<string, { type: string; dims: number[] }>;
    expect(outputs.output!.dims).to.deep.equal([1, 1]);
    // Only the deposit left the wallet; vouchers are paid from it.
    expect(before - (await balance())).to.equal(50_000n);
    const b = await ok("budget");
    expect(b.spentTotal).to.equal("4000");
  });

  it("shows verified receipts and the channel's credit", async () => {
    const r = await ok("receipts");
    const receipts = r.receipts as unknown as { cumulativeAmount: string; verification: { valid: boolean } }[];
    expect(receipts.map((x) => x.cumulativeAmount)).to.deep.equal(["1000", "2000", "3000", "4000"]);
    expect(receipts.every((x) => x.verification.valid)).to.equal(true);
    const c = await ok("channels");
    const channels = c.channels as unknown as { status: string; deposit: string; remaining: string; modelId: string }[];
    expect(channels).to.have.length(1);
    expect(channels[0]).to.include({ status: "open", deposit: "50000", remaining: "46000", modelId: "1" });
  });

  it("refuses a call over the per-call cap before opening a channel: no deposit, no voucher", async () => {
    const before = await balance();
    const { text, error } = await failed("infer", { model_id: 2, file: path.join(dir, "line.png") });
    expect(error).to.include({ code: "budget_exceeded", cap: "per_call", limit: "4000", requested: "5000", over: "1000" });
    expect(text).to.match(/^budget_exceeded: the per_call cap of 4000 would be exceeded by 1000/);
    expect(await balance()).to.equal(before);
    const c = await ok("channels");
    expect(c.channels as unknown as unknown[]).to.have.length(1);
  });

  it("refuses a call over the per-call cap on an existing channel before signing its voucher", async () => {
    // A channel for the 5,000-a-call model, opened by the operator with the buyer CLI on the same store while the
    // server is stopped (a store has one writer at a time).
    await client!.close();
    await promisify(execFile)(process.execPath, [path.join(ROOT, "protocol/node/cli.ts"), "open", "--worker", market.worker!.url, "--model", "2", "--deposit", "0.05"], { cwd: ROOT, env });
    await connect();
    const list = (await ok("channels")).channels as unknown as { channelId: string; modelId: string }[];
    const ocr = list.find((c) => c.modelId === "2")!.channelId;
    const before = await balance();
    const { error } = await failed("infer", { model_id: 2, file: path.join(dir, "line.png"), channel_id: ocr });
    expect(error).to.include({ code: "budget_exceeded", cap: "per_call", over: "1000" });
    expect(await signedOn(ocr)).to.equal(0n);
    expect(await balance()).to.equal(before);
    expect((await ok("budget")).spentTotal).to.equal("4000");

    // An audio file is one paid request per frame: 5 frames at 1,000 are refused whole, before the first voucher.
    const vad = await vadChannel();
    const audio = await failed("infer", { model_id: 1, file: "tone.wav", max_frames: 5 });
    expect(audio.error).to.include({ code: "budget_exceeded", cap: "per_call", requested: "5000", over: "1000" });
    expect(await signedOn(vad)).to.equal(4000n);
    expect((await fetchChannelInfo(market.worker!.url, vad)).lastAccepted).to.equal(4000n);
  });

  it("refuses once the total cap is reached: the worker accepted nothing more, and the refusal survives a restart", async () => {
    await ok("infer", { model_id: 1, file: path.join(dir, "tone.wav"), max_frames: 4 });
    await ok("infer", { model_id: 1, inputs: vadInputs(2) });
    const channel = await vadChannel();
    const accepted = (await fetchChannelInfo(market.worker!.url, channel)).lastAccepted;
    expect(accepted).to.equal(9000n);
    const before = await balance();

    const refused = await failed("infer", { model_id: 1, inputs: vadInputs(3) });
    expect(refused.error).to.include({ code: "budget_exceeded", cap: "total", limit: "9000", requested: "1000", over: "1000" });
    expect((await fetchChannelInfo(market.worker!.url, channel)).lastAccepted).to.equal(9000n);
    expect(await signedOn(channel)).to.equal(9000n);
    const receipts = (await ok("receipts")).receipts as unknown as unknown[];
    expect(receipts).to.have.length(9);

    await client!.close();
    await connect();
    const b = await ok("budget");
    expect(b).to.deep.include({ spentTotal: "9000" });
    const again = await failed("infer", { model_id: 1, inputs: vadInputs(3) });
    expect(again.error).to.include({ code: "budget_exceeded", cap: "total" });
    expect((await fetchChannelInfo(market.worker!.url, channel)).lastAccepted).to.equal(9000n);
    expect(await balance()).to.equal(before);
  });

  it("answers bad arguments with a stable code and keeps serving", async () => {
    expect((await failed("infer", { model_id: "abc", inputs: vadInputs() })).error.code).to.equal("bad_arguments");
    expect((await failed("infer", { model_id: 1 })).error.code).to.equal("bad_arguments");
    expect((await failed("infer", { model_id: 1, inputs: vadInputs(), file: "/x.wav" })).error.code).to.equal("bad_arguments");
    expect((await failed("infer", { model_id: 1, file: path.join(dir, "missing.wav") })).text).to.match(/^bad_input_file: cannot read .*missing\.wav: ENOENT/);
    expect((await failed("infer", { model_id: 1, file: path.join(dir, "line.txt") })).error.code).to.equal("bad_input_file");
    expect((await failed("infer", { model_id: 1, inputs: { input: { type: "float32", dims: [2], data: [1] } } })).error.code).to.equal("invalid_tensor");
    expect((await failed("infer", { model_id: 99, inputs: vadInputs() })).error.code).to.equal("no_device");
    expect((await failed("close_channel", { channel_id: "0x1234" })).error.code).to.equal("bad_arguments");
    expect((await failed("receipts", { limit: -1 })).error.code).to.equal("bad_arguments");
    expect((await failed("no_such_tool", {})).error.code).to.equal("unknown_tool");
    // Files outside the operator's directory are refused, links included.
    expect((await failed("infer", { model_id: 1, file: "/etc/hostname" })).error.code).to.equal("file_not_allowed");
    expect((await failed("infer", { model_id: 2, file: "escape.png" })).error.code).to.equal("file_not_allowed");
    expect((await failed("infer", { model_id: 1, file: "../../etc/passwd" })).error.code).to.equal("file_not_allowed");
    expect((await ok("budget")).spentTotal).to.equal("9000");
  });

  it("closes the channel cooperatively: the device gets what was paid, the rest comes back", async () => {
    const channel = await vadChannel();
    const before = await balance();
    const closed = await ok("close_channel", { channel_id: channel });
    expect(closed.paid).to.equal("9000");
    expect((await balance()) - before).to.equal(41_000n);
    const c = (await ok("channels")).channels as unknown as { channelId: string; status: string; claimed: string }[];
    expect(c.find((x) => x.channelId === channel)).to.include({ status: "settled", claimed: "9000" });
    const again = await failed("close_channel", { channel_id: channel });
    expect(again.error.code).to.match(/^[a-z_]+$/);
  });

  it("serves the same tools over streamable HTTP on 127.0.0.1, one session per client", async () => {
    const child = spawn(process.execPath, [SERVER, "--http", "0"], { cwd: ROOT, env, stdio: ["ignore", "ignore", "pipe"] });
    try {
      const endpoint = await new Promise<string>((resolve, reject) => {
        let log = "";
        child.stderr!.on("data", (d: Buffer) => {
          log += d.toString();
          const m = /on (http:\/\/127\.0\.0\.1:\d+\/mcp)/.exec(log);
          if (m) resolve(m[1]!);
        });
        child.once("exit", (code) => reject(new Error(`server exited ${code}: ${log}`)));
      });
      const agents = await Promise.all(
        [1, 2].map(async () => {
          const c = new Client({ name: "http-agent", version: "1.0.0" });
          await c.connect(new StreamableHTTPClientTransport(new URL(endpoint)));
          return c;
        }),
      );
      for (const c of agents) {
        const r = (await c.callTool({ name: "budget", arguments: {} })) as CallResult;
        expect(r.structuredContent?.spentTotal).to.equal("9000");
        const bad = (await c.callTool({ name: "infer", arguments: { model_id: 0 } })) as CallResult;
        expect(bad.isError).to.equal(true);
        expect(bad.content[0]!.text).to.match(/^bad_arguments: /);
        await c.close();
      }
      const stray = await fetch(endpoint.replace("/mcp", "/other"));
      expect(stray.status).to.equal(404);
    } finally {
      child.kill("SIGTERM");
    }
  });
});
