// Failover never pays twice for one answer. A proxy in front of device A lets A answer the 150th request in full
// (the payment is committed on A), then kills A (SIGKILL) and drops the buyer's connection, so the buyer has paid
// and has no answer. Before: the client failed over to device B and paid that frame again there, while A (restarted)
// rightly claimed the 150th voucher, and the CLI's closing line counted only what it got back on the last channel.
// Now: the request is kept in doubt, never sent to B; the answer is recovered from A once it is back (the identical
// voucher and inputs, which A replays); every other frame goes on; the closing line sums every channel it paid on,
// and it equals what the chain takes from the buyer, to the token unit.
import { expect } from "chai";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { isAddressEqual, type Address, type Hex, type PublicClient } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { paymentChannelsAbi, testUsdcAbi } from "../../protocol/generated/contracts.ts";
import { encodeWav16 } from "../../protocol/node/inputs.ts";
import { FileBuyerStore } from "../../protocol/node/file-store.ts";
import { freePort, waitFor } from "../../scripts/lib/chain.ts";
import {
  connectMarketplace,
  DEMO_CATALOG,
  ensureDemoModels,
  faucet,
  provisionDevice,
  ROLES,
  runWorker,
  sendEth,
  TEST_KEYS,
  type Marketplace,
  type ProvisionedDevice,
  type PublishedModel,
} from "../../scripts/lib/marketplace.ts";
import type { ManagedChild } from "../../scripts/lib/processes.ts";
import { ROOT } from "../../scripts/lib/paths.ts";
import { startLocalnet, type Localnet } from "../../scripts/lib/localnet.ts";

const PRICE_A = 1_000n;
const PRICE_B = 1_500n;
const FRAMES = 400;
const KILL_AT = 150;
const CLI = path.join(ROOT, "protocol/node/cli.ts");

/**
 * An HTTP proxy to `target` that, on the `killAt`-th POST /v1/infer, waits for the complete answer, calls `kill`,
 * and then drops the client's connection without forwarding the answer.
 */
function killingProxy(target: string, killAt: number, kill: () => Promise<void>) {
  let infers = 0;
  const state = { killed: false, answeredBeforeKill: "" };
  const server = http.createServer((req, res) => {
    const isInfer = req.method === "POST" && (req.url ?? "").startsWith("/v1/infer/");
    const n = isInfer ? ++infers : 0;
    const up = http.request(`${target}${req.url}`, { method: req.method, headers: req.headers }, (upRes) => {
      if (n === killAt && !state.killed) {
        const chunks: Buffer[] = [];
        upRes.on("data", (c: Buffer) => chunks.push(c));
        upRes.on("end", () => {
          state.answeredBeforeKill = `${upRes.statusCode} ${Buffer.concat(chunks).toString("utf8").slice(0, 120)}`;
          state.killed = true;
          void kill().finally(() => res.socket?.destroy());
        });
        return;
      }
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    });
    up.on("error", () => res.socket?.destroy());
    req.pipe(up);
  });
  return { server, state, infers: () => infers };
}

describe("failover with an answer in doubt (paid on A, connection lost)", function () {
  this.timeout(300_000);
  let net: Localnet;
  let m: Marketplace;
  let pc: PublicClient;
  let vad: PublishedModel;
  let a: ProvisionedDevice;
  let b: ProvisionedDevice;
  let workerA: ManagedChild | undefined;
  let workerB: ManagedChild | undefined;
  let proxy: ReturnType<typeof killingProxy> | undefined;
  let root: string;

  const balance = (who: Address) => pc.readContract({ address: m.contracts.token, abi: testUsdcAbi, functionName: "balanceOf", args: [who] });
  const channel = (id: Hex) => pc.readContract({ address: m.contracts.paymentChannels, abi: paymentChannelsAbi, functionName: "getChannel", args: [id] });
  const logOf = (name: string) => {
    const file = path.join(root, `${name}.log`);
    return existsSync(file) ? `\n--- ${name}.log ---\n${readFileSync(file, "utf8").split("\n").slice(-30).join("\n")}` : "";
  };

  before(async () => {
    net = await startLocalnet({ challengePeriod: 600n });
    const d = net.deployment;
    m = await connectMarketplace(net.chain.url, { paymentChannels: d.paymentChannels, deviceRegistry: d.deviceRegistry, modelRegistry: d.modelRegistry, token: d.token, flightRecorder: d.flightRecorder });
    pc = m.publicClient;
    vad = (await ensureDemoModels(m, DEMO_CATALOG.filter((s) => s.key === "silero-vad")))[0]!;
    root = mkdtempSync(path.join(tmpdir(), "edgepay-indoubt-"));
    const settlement = { claimThreshold: "1000000000", maxAgeSeconds: 3600, closeSafetySeconds: 60, minBatch: 1, pollIntervalMs: 200, stuckAfterMs: 30_000 };
    a = await provisionDevice(m, { ownerKey: TEST_KEYS[ROLES.provider]!, dataDir: path.join(root, "a"), port: await freePort(), offerings: [{ model: vad, price: PRICE_A }], settlement, logLevel: "info" });
    b = await provisionDevice(m, { ownerKey: TEST_KEYS[ROLES.provider2]!, dataDir: path.join(root, "b"), port: await freePort(), offerings: [{ model: vad, price: PRICE_B }], settlement, logLevel: "error" });
    workerA = await runWorker(a, { logFile: path.join(root, "a.log") });
    workerB = await runWorker(b, { logFile: path.join(root, "b.log") });
  });

  after(async () => {
    proxy?.server.close();
    await workerA?.stop(15_000);
    await workerB?.stop(15_000);
    await net?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it(`the ${KILL_AT}th answer, committed on A and lost on the way, is recovered from A and never paid on B; the CLI's total is what the buyer paid`, async () => {
    const port = await freePort();
    proxy = killingProxy(a.endpoint, KILL_AT, async () => {
      process.kill(-workerA!.pid, "SIGKILL");
      await waitFor("worker A to die", async () => workerA!.exited() !== undefined, 10_000);
    });
    await new Promise<void>((r) => proxy!.server.listen(port, "127.0.0.1", r));
    const viaProxy = `http://127.0.0.1:${port}`;

    // The buyer: a fresh key with tokens and gas, the CLI with its own store.
    const key = generatePrivateKey();
    const buyerAddress = privateKeyToAccount(key).address;
    await sendEth(m, buyerAddress, "1");
    await faucet(m, TEST_KEYS[ROLES.funder]!, buyerAddress, 10_000_000n);
    const start = await balance(buyerAddress);
    const home = path.join(root, "buyer");
    const env = { ...process.env, EDGEPAY_RPC_URL: net.chain.url, EDGEPAY_PAYMENT_CHANNELS: m.contracts.paymentChannels, EDGEPAY_BUYER_KEY: key, EDGEPAY_BUYER_HOME: home };

    // 400 frames of 32 ms: a tone that comes and goes.
    const pcm = new Int16Array(FRAMES * 512).map((_, i) => (Math.floor(i / 4096) % 2 === 0 ? Math.round(8000 * Math.sin((2 * Math.PI * 220 * i) / 16_000)) : 0));
    const wav = path.join(root, "speech.wav");
    writeFileSync(wav, encodeWav16(pcm, 16_000));

    const cli = spawn(process.execPath, [CLI, "infer", "--worker", `${viaProxy},${b.endpoint}`, "--model", vad.modelId.toString(), "--input", wav, "--deposit", "1", "--recover-wait", "120"], { cwd: ROOT, env });
    let stdout = "";
    let stderr = "";
    cli.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    cli.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number>((r) => cli.on("exit", (code) => r(code ?? -1)));

    // A dies right after committing the 150th answer; it comes back a little later, as a rebooted device would.
    await waitFor("the proxy to kill A", async () => proxy!.state.killed && workerA!.exited() !== undefined, 120_000);
    expect(proxy.state.answeredBeforeKill, "A answered the lost request in full").to.match(/^200 /);
    await workerA!.stop();
    await new Promise((r) => setTimeout(r, 1_500));
    workerA = await runWorker(a, { logFile: path.join(root, "a.log") });

    const code = await exited;
    expect(code, `CLI exit\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}${logOf("a")}`).to.equal(0);
    expect(stderr).to.match(/answer in doubt/);
    expect(stderr).to.match(/recovered/);

    // What the buyer holds: one verified receipt per frame, none twice, A's 150th among them.
    const store = new FileBuyerStore(home);
    const receipts = await store.listReceipts();
    expect(receipts.every((r) => r.verification.valid)).to.equal(true);
    const fromA = receipts.filter((r) => isAddressEqual(r.device, a.device));
    const fromB = receipts.filter((r) => isAddressEqual(r.device, b.device));
    expect(fromA.length + fromB.length, "one answer per frame, none bought twice").to.equal(FRAMES);
    expect(fromA.length).to.be.at.least(KILL_AT);
    expect(new Set(receipts.map((r) => r.receipt.inputHash)).size <= FRAMES).to.equal(true);
    const channels = await store.listChannels();
    const chA = channels.find((c) => isAddressEqual(c.terms.device, a.device))!;
    const chB = channels.find((c) => isAddressEqual(c.terms.device, b.device));
    expect(chA.inDoubt, "nothing left in doubt").to.equal(undefined);
    expect(chA.paid).to.equal(BigInt(fromA.length) * PRICE_A);
    expect(chA.signed, "no voucher on A above what it answered").to.equal(chA.paid);
    if (chB) expect(chB.paid).to.equal(BigInt(fromB.length) * PRICE_B);

    // The closing line: every channel, summed.
    const expectedTotal = BigInt(fromA.length) * PRICE_A + BigInt(fromB.length) * PRICE_B;
    const line = /paid (\d+) token units for (\d+) answer\(s\) \((\d+) unit\(s\) of work\) on (\d+) channel\(s\)/.exec(stdout);
    expect(line, stdout).to.not.equal(null);
    expect(BigInt(line![1]!)).to.equal(expectedTotal);
    expect(Number(line![2]!)).to.equal(FRAMES);
    expect(Number(line![4]!)).to.equal(chB ? 2 : 1);
    expect(stdout).to.not.match(/in doubt:/);
    console.log(`      CLI: ${line![0]}; A answered ${fromA.length} at ${PRICE_A}, B ${fromB.length} at ${PRICE_B}`);

    // The chain agrees: each device claims exactly its answers (cooperative closes), the buyer pays the printed total.
    const close = async (id: Hex) => {
      const out = spawn(process.execPath, [CLI, "close", "--channel", id, "--cooperative"], { cwd: ROOT, env });
      let text = "";
      out.stdout.on("data", (c: Buffer) => (text += c.toString()));
      out.stderr.on("data", (c: Buffer) => (text += c.toString()));
      const c = await new Promise<number>((r) => out.on("exit", (x) => r(x ?? -1)));
      expect(c, text).to.equal(0);
    };
    await close(chA.channelId);
    expect((await channel(chA.channelId)).claimed).to.equal(BigInt(fromA.length) * PRICE_A);
    if (chB) {
      await close(chB.channelId);
      expect((await channel(chB.channelId)).claimed).to.equal(BigInt(fromB.length) * PRICE_B);
    }
    expect(start - (await balance(buyerAddress)), "the buyer paid exactly the printed total").to.equal(expectedTotal);
  });
});
