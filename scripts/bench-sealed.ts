// `npm run bench:sealed`: what sealing (protocol/sealed.ts) costs per request, side by side with clear requests in
// one run. Two parts:
//   crypto   the sealing work alone, in-process: the buyer's (WebCrypto: seal the request, open the answer) and the
//            device's (node:crypto: open the request, seal the answer), for a Silero VAD request and a 1 MiB body
//   device   paid requests made before the timed window (voucher, MAC and, when sealed, the sealed body) sent one
//            at a time over keep-alive: this process's CPU per request is then mostly the worker's, sealed vs clear
//   HTTP     paid inferences through the buyer client against a real worker on a real chain (Silero VAD v5), sealed
//            and clear in alternating rounds at one request in flight (the usual edge case: a few nearby clients),
//            and the unpaid route clear vs sealed to the device key alone (an ephemeral ECDH per request)
// The worker runs in this process (its CPU shows in the latencies of both modes alike), so "CPU µs/req" is buyer +
// worker together. Ratios are per round and their median is reported, since other work on a shared machine drifts
// over a run; odd rounds reverse the order of the modes.
// Environment: BENCH_SECONDS (per mode and round, default 2), BENCH_ROUNDS (default 5).
import { createHash, randomBytes } from "node:crypto";
import http from "node:http";
import secp256k1 from "secp256k1";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createPublicClient, createWalletClient, http as viemHttp, type Chain, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { hardhat } from "viem/chains";
import { HARDHAT_DEV_KEYS } from "../protocol/dev-keys.ts";
import { modelRegistryAbi, testUsdcAbi } from "../protocol/generated/contracts.ts";
import { Buyer, MemoryBuyerStore } from "../protocol/client/index.ts";
import { anonymousSession, postUnpaidSealed } from "../protocol/client/anonymous.ts";
import { initialVadState, sileroVadInputs } from "../protocol/client/inputs.ts";
import { inferBody } from "../protocol/client/worker-api.ts";
import { channelSealKeys, openResponse, requestAad, responseAad, sealRequest, sha256Hex, type SealContext } from "../protocol/sealed.ts";
import { BODY_HASH_HEADER, bodyHash, inferPath, MAC_HEADER, requestMac, sessionKey } from "../protocol/session.ts";
import { createVoucherHasher, encodeVoucherHeader, VOUCHER_HEADER } from "../protocol/voucher.ts";
import { tensorToWire, type Tensor, type TensorMapWire } from "../protocol/tensors.ts";
import { channelSealKeysNative, openNative, sealNative } from "../worker/http/sealing.ts";
import { createKeystore, registerDevice, SILERO_VAD_V5, startWorker, type RunningWorker } from "../worker/index.ts";
import { freePort, startChain, type RunningChain } from "./lib/chain.ts";
import { deployLocal, forgetDeployment } from "./lib/deploy.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const PRICE = 10n;
function log(msg: string) {
  process.stderr.write(`${msg}\n`);
}

let chain: RunningChain | undefined;
let deploymentId: string | undefined;
let worker: RunningWorker | undefined;
let dir: string | undefined;
try {
  await main();
} finally {
  await worker?.stop();
  await chain?.stop();
  if (deploymentId) await forgetDeployment(deploymentId);
  if (dir) await rm(dir, { recursive: true, force: true });
}

function vadInputs(seed: number): Record<string, Tensor> {
  const f = new Float32Array(512);
  for (let i = 0; i < f.length; i++) f[i] = 0.3 * Math.sin((2 * Math.PI * (150 + seed) * i) / 16000);
  return sileroVadInputs(f, initialVadState());
}

function wireOf(t: Record<string, Tensor>): TensorMapWire {
  return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, tensorToWire(v)]));
}

async function main() {
  console.log(`sealed vs clear requests (npm run bench:sealed), ${new Date().toISOString()}, node ${process.version}\n`);
  await cryptoPart();
  await httpPart();
}

/** µs per call of `fn`, over at least `ms` milliseconds. */
async function perCall(fn: () => unknown, ms = 400): Promise<number> {
  for (let i = 0; i < 20; i++) await fn();
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    await fn();
    n++;
  }
  return ((performance.now() - start) * 1000) / n;
}

async function cryptoPart() {
  const keys = channelSealKeys(randomBytes(32));
  const native = channelSealKeysNative(Buffer.from(keys.request.enc));
  // The native keys come from another session key than `keys`: only their cost matters here, not their bytes.
  const ctx: SealContext = { kind: "channel", chainId: 31337, paymentChannels: `0x${"11".repeat(20)}`, channelId: `0x${"22".repeat(32)}`, cumulativeAmount: 1000n, signature: `0x${"33".repeat(65)}`, modelId: 1n, method: "POST", path: inferPath(1n) };
  const vad = new TextEncoder().encode(inferBody(wireOf(vadInputs(1))));
  const answer = new TextEncoder().encode(JSON.stringify({ outputs: { output: { type: "float32", dims: [1, 1], data: [0.5] } }, receipt: {} }));
  const big = randomBytes(1 << 20);
  console.log("crypto per request (no HTTP), µs; the clear path's own cost here is the body sha256 both paths already compute");
  console.log(`${"body".padEnd(26)}${"sha256 (both)".padStart(14)}${"buyer seal+open".padStart(17)}${"device open+seal".padStart(18)}`);
  for (const [name, body, reply] of [
    [`Silero VAD (${vad.length} B)`, vad, answer],
    [`1 MiB in, 1 MiB out`, big, big],
  ] as const) {
    const sealedReq = await sealRequest(keys, ctx, "application/json", body);
    const reqHash = sha256Hex(sealedReq.body);
    const nativeReq = sealNative(native.request, requestAad(ctx, "application/json"), body, Uint8Array.of(1));
    const webAns = sealNative(
      { enc: Buffer.from(keys.response.enc), iv: Buffer.from(keys.response.iv) },
      responseAad(ctx, reqHash, 200, "application/json"),
      reply,
      Uint8Array.of(1),
    );
    const sha = await perCall(() => createHash("sha256").update(body).digest());
    const buyer = await perCall(async () => {
      await sealRequest(keys, ctx, "application/json", body);
      await openResponse(keys, ctx, reqHash, 200, `application/vnd.edgepay.sealed; type="application/json"`, webAns);
    });
    const device = await perCall(() => {
      openNative(native.request.enc, requestAad(ctx, "application/json"), nativeReq, 1);
      sealNative(native.response, responseAad(ctx, reqHash, 200, "application/json"), reply, Uint8Array.of(1));
    });
    console.log(`${name.padEnd(26)}${sha.toFixed(1).padStart(14)}${buyer.toFixed(1).padStart(17)}${device.toFixed(1).padStart(18)}`);
  }
  const fresh = await perCall(() => anonymousSession(`0x${"02"}${"79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"}` as Hex));
  console.log(`a fresh ephemeral key for an anonymous request (pure-JS keygen + ECDH + HKDF, buyer side): ${fresh.toFixed(0)} µs`);
  console.log("");
}

async function httpPart() {
  log("starting a chain, publishing Silero VAD, registering a device, starting a worker...");
  chain = await startChain({ port: await freePort(), quiet: true });
  deploymentId = `bench-sealed-${chain.port}-${randomBytes(4).toString("hex")}`;
  const deployment = await deployLocal({ rpcPort: chain.port, deploymentId });
  const viemChain = { ...hardhat, rpcUrls: { default: { http: [chain.url] } } } as Chain;
  const transport = viemHttp(chain.url);
  const publicClient = createPublicClient({ chain: viemChain, transport });
  const wallet = (key: Hex) => createWalletClient({ account: privateKeyToAccount(key), chain: viemChain, transport });
  const wait = async (hash: Hex) => {
    const r = await publicClient.waitForTransactionReceipt({ hash });
    if (r.status !== "success") throw new Error(`transaction ${hash} reverted`);
  };
  const contentHash = `0x${createHash("sha256").update(await readFile(SILERO_VAD_V5)).digest("hex")}` as Hex;
  await wait(
    await wallet(HARDHAT_DEV_KEYS[1]).writeContract({
      address: deployment.modelRegistry,
      abi: modelRegistryAbi,
      functionName: "publish",
      args: [{ name: "Silero VAD v5", contentHash, uri: "npm:@ricky0123/vad-web/dist/silero_vad_v5.onnx", royaltyBps: 500, licenseToken: deployment.token, licenseFee: 0n }],
    }),
  );
  const modelId = await publicClient.readContract({ address: deployment.modelRegistry, abi: modelRegistryAbi, functionName: "modelCount" });
  const provider = wallet(HARDHAT_DEV_KEYS[2]);
  await wait(await provider.writeContract({ address: deployment.token, abi: testUsdcAbi, functionName: "faucet", args: [provider.account.address, 1_000_000_000n] }));
  dir = await mkdtemp(path.join(tmpdir(), "edgepay-bench-sealed-"));
  const key = createKeystore(path.join(dir, "data"));
  const contracts = { paymentChannels: deployment.paymentChannels, deviceRegistry: deployment.deviceRegistry, modelRegistry: deployment.modelRegistry, token: deployment.token, flightRecorder: deployment.flightRecorder };
  await registerDevice({ rpcUrl: chain.url, contracts, ownerKey: HARDHAT_DEV_KEYS[2], devicePrivateKey: key.privateKey, endpoint: "http://127.0.0.1/bench", models: [{ modelId, price: PRICE }], fundEth: "1" });
  worker = await startWorker(
    {
      dataDir: path.join(dir, "data"),
      rpcUrl: chain.url,
      contracts,
      host: "127.0.0.1",
      port: 0,
      models: [{ modelId: modelId.toString(), file: SILERO_VAD_V5 }],
      logLevel: "error",
      http: { unpaidPerClient: { burst: 1_000_000, perSecond: 1_000_000 } },
    } as Parameters<typeof startWorker>[0],
    { unpaidRoute: true },
  );
  const url = worker.url;
  const buyerWallet = wallet(HARDHAT_DEV_KEYS[3]);
  await wait(await buyerWallet.writeContract({ address: deployment.token, abi: testUsdcAbi, functionName: "faucet", args: [buyerWallet.account.address, 1_000_000_000n] }));
  const buyer = (sealing: boolean) =>
    new Buyer({ publicClient, wallet: buyerWallet, paymentChannels: deployment.paymentChannels, store: new MemoryBuyerStore(), autoOpen: { deposit: 100_000_000n }, sealing, offeringsTtlSeconds: 3600 });
  const buyers = { clear: buyer(false), sealed: buyer(true) };
  const inputs = vadInputs(7);
  const wire = wireOf(inputs);
  const devicePublicKey = (await buyers.sealed.offerings(url)).devicePublicKey;
  // One ephemeral key for the run (as a client talking to one device would keep); a fresh key per request adds the
  // "fresh ephemeral key" cost of the crypto table.
  const session = anonymousSession(devicePublicKey);
  // First requests open the channels (one per buyer) and warm both paths.
  for (let i = 0; i < 20; i++) {
    await buyers.clear.infer(modelId, inputs, { workers: [url] });
    await buyers.sealed.infer(modelId, inputs, { workers: [url] });
  }

  // Its own buyer (and store): its channels are paid outside the client, which must never pick them.
  await devicePart(url, modelId, devicePublicKey, buyer(true), deployment.chainId, deployment.paymentChannels, deployment.token, wire);

  const modes: Record<string, () => Promise<unknown>> = {
    "paid, clear": () => buyers.clear.infer(modelId, inputs, { workers: [url] }),
    "paid, sealed": () => buyers.sealed.infer(modelId, inputs, { workers: [url] }),
    "unpaid, clear": async () => {
      const res = await fetch(`${url}/v1/unpaid/infer/${modelId}`, { method: "POST", headers: { "content-type": "application/json" }, body: inferBody(wire) });
      if (res.status !== 200) throw new Error(`unpaid: HTTP ${res.status}`);
      await res.arrayBuffer();
    },
    "unpaid, sealed (anon.)": async () => {
      const r = await postUnpaidSealed(url, modelId, wire, devicePublicKey, {}, session);
      if (r.status !== 200) throw new Error(`unpaid sealed: HTTP ${r.status}`);
    },
  };
  const rates: Record<string, number[]> = Object.fromEntries(Object.keys(modes).map((m) => [m, []]));
  const latencies: Record<string, number[]> = Object.fromEntries(Object.keys(modes).map((m) => [m, []]));
  /** CPU µs per request of this whole process (buyer, worker and its threads): less sensitive to other load than req/s. */
  const cpu: Record<string, number[]> = Object.fromEntries(Object.keys(modes).map((m) => [m, []]));
  for (let r = 0; r < ROUNDS; r++) {
    // Odd rounds run the modes in reverse, so neither mode always goes first after the other.
    const order = r % 2 === 0 ? Object.entries(modes) : Object.entries(modes).reverse();
    for (const [name, fn] of order) {
      log(`round ${r + 1}/${ROUNDS}: ${name} (${SECONDS} s)...`);
      let n = 0;
      const c0 = process.cpuUsage();
      const start = performance.now();
      while (performance.now() - start < SECONDS * 1000) {
        const t = performance.now();
        await fn();
        latencies[name]!.push(performance.now() - t);
        n++;
      }
      rates[name]!.push((n * 1000) / (performance.now() - start));
      const c = process.cpuUsage(c0);
      cpu[name]!.push((c.user + c.system) / n);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
  console.log(`HTTP, one request in flight, ${ROUNDS} alternating rounds of ${SECONDS} s per mode (worker in this process, Silero VAD v5)`);
  console.log(`${"mode".padEnd(26)}${"req/s".padStart(9)}${"p50 ms".padStart(9)}${"p99 ms".padStart(9)}${"CPU µs/req".padStart(12)}`);
  for (const name of Object.keys(modes)) {
    const mean = rates[name]!.reduce((a, b) => a + b, 0) / rates[name]!.length;
    console.log(`${name.padEnd(26)}${mean.toFixed(0).padStart(9)}${pct(latencies[name]!, 0.5).toFixed(3).padStart(9)}${pct(latencies[name]!, 0.99).toFixed(3).padStart(9)}${median(cpu[name]!).toFixed(0).padStart(12)}`);
  }
  const ratios = (a: string, b: string) => rates[a]!.map((x, i) => x / rates[b]![i]!);
  const paid = ratios("paid, sealed", "paid, clear");
  const unpaid = ratios("unpaid, sealed (anon.)", "unpaid, clear");
  const fmt = (xs: number[]) => `median round ${median(xs).toFixed(3)} (rounds ${xs.map((x) => x.toFixed(2)).join(" ")})`;
  console.log(`\nsealed/clear throughput: paid ${fmt(paid)}; unpaid ${fmt(unpaid)}`);
  const cpuRatio = (a: string, b: string) => cpu[a]!.map((x, i) => x / cpu[b]![i]!);
  console.log(`sealed/clear CPU per request: paid ${fmt(cpuRatio("paid, sealed", "paid, clear"))}; unpaid ${fmt(cpuRatio("unpaid, sealed (anon.)", "unpaid, clear"))}`);
  const extra = (a: string, b: string) => ((pct(latencies[a]!, 0.5) - pct(latencies[b]!, 0.5)) * 1000).toFixed(0);
  console.log(`p50 latency added by sealing: paid ${extra("paid, sealed", "paid, clear")} µs, unpaid ${extra("unpaid, sealed (anon.)", "unpaid, clear")} µs`);
}

interface Prepared {
  body: Uint8Array | string;
  headers: Record<string, string>;
}

/**
 * The worker's side alone: requests on two channels (one clear, one sealed) are fully prepared between windows, then
 * sent one at a time; the answers are read but not opened. CPU per request of this process is then the worker's
 * (plus the same HTTP client work in both modes).
 */
async function devicePart(url: string, modelId: bigint, devicePublicKey: Hex, buyer: Buyer, chainId: number, paymentChannels: Hex, token: Hex, wire: TensorMapWire) {
  const { device } = await buyer.offerings(url);
  const hasher = createVoucherHasher(chainId, paymentChannels);
  const clearBody = inferBody(wire);
  // One after the other: one wallet, one nonce sequence.
  const lanes: { mode: "clear" | "sealed"; record: Awaited<ReturnType<Buyer["open"]>>; secret: Buffer; macKey: Uint8Array; signed: bigint }[] = [];
  for (const mode of ["clear", "sealed"] as const) {
    const record = await buyer.open({ device, modelId, token, deposit: PRICE * 10_000_000n });
    lanes.push({ mode, record, secret: Buffer.from(record.signerKey.slice(2), "hex"), macKey: sessionKey(record.signerKey, devicePublicKey, record.channelId), signed: 0n });
  }
  const prepare = async (lane: (typeof lanes)[number], count: number): Promise<Prepared[]> => {
    const out: Prepared[] = [];
    const keys = channelSealKeys(lane.macKey);
    for (let i = 0; i < count; i++) {
      const amount = PRICE * ++lane.signed;
      const { signature, recid } = secp256k1.ecdsaSign(hasher(lane.record.channelId, amount), lane.secret);
      const sig = `0x${Buffer.from(signature).toString("hex")}${(27 + recid).toString(16)}` as Hex;
      const ctx = { chainId, paymentChannels, channelId: lane.record.channelId, cumulativeAmount: amount, signature: sig, modelId, method: "POST", path: inferPath(modelId) };
      const sealed = lane.mode === "sealed" ? await sealRequest(keys, { kind: "channel", ...ctx }, "application/json", new TextEncoder().encode(clearBody)) : undefined;
      const body = sealed ? sealed.body : clearBody;
      const hash = bodyHash(body);
      out.push({
        body,
        headers: {
          "content-type": sealed ? sealed.contentType : "application/json",
          [VOUCHER_HEADER]: encodeVoucherHeader({ channelId: lane.record.channelId, cumulativeAmount: amount, signature: sig }),
          [MAC_HEADER]: requestMac(lane.macKey, { ...ctx, bodyHash: hash }),
          [BODY_HASH_HEADER]: hash,
        },
      });
    }
    return out;
  };
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const target = new URL(url);
  const send = (p: Prepared) =>
    new Promise<number>((resolve, reject) => {
      const body = typeof p.body === "string" ? Buffer.from(p.body) : Buffer.from(p.body);
      const req = http.request({ agent, host: target.hostname, port: target.port, path: inferPath(modelId), method: "POST", headers: { ...p.headers, "content-length": body.length } }, (res) => {
        res.on("data", () => undefined);
        res.on("end", () => resolve(res.statusCode ?? 0));
        res.on("error", reject);
      });
      req.on("error", reject);
      req.end(body);
    });
  const rates: Record<string, number[]> = { clear: [], sealed: [] };
  const cpu: Record<string, number[]> = { clear: [], sealed: [] };
  let batch = 200;
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? lanes : [...lanes].reverse();
    for (const lane of order) {
      const ready = await prepare(lane, batch);
      log(`device round ${r + 1}/${ROUNDS}: paid ${lane.mode} (${SECONDS} s at most, ${ready.length} prepared)...`);
      let n = 0;
      const c0 = process.cpuUsage();
      const start = performance.now();
      while (n < ready.length && performance.now() - start < SECONDS * 1000) {
        const status = await send(ready[n]!);
        if (status !== 200) throw new Error(`device part: HTTP ${status}`);
        n++;
      }
      const elapsed = performance.now() - start;
      const c = process.cpuUsage(c0);
      rates[lane.mode]!.push((n * 1000) / elapsed);
      cpu[lane.mode]!.push((c.user + c.system) / n);
      // Vouchers left unsent would make the next one stale: start the next window from the last one sent.
      lane.signed -= BigInt(ready.length - n);
      if (n === ready.length) batch = Math.ceil(batch * 1.5);
    }
  }
  agent.destroy();
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const ratios = (a: number[], b: number[]) => a.map((x, i) => x / b[i]!);
  const fmt = (xs: number[]) => `median round ${median(xs).toFixed(3)} (rounds ${xs.map((x) => x.toFixed(2)).join(" ")})`;
  console.log(`device side: prepared paid requests, one in flight, ${ROUNDS} alternating rounds of up to ${SECONDS} s (worker in this process)`);
  console.log(`${"mode".padEnd(26)}${"req/s".padStart(9)}${"CPU µs/req".padStart(12)}`);
  for (const m of ["clear", "sealed"]) console.log(`${`paid, ${m}`.padEnd(26)}${median(rates[m]!).toFixed(0).padStart(9)}${median(cpu[m]!).toFixed(0).padStart(12)}`);
  console.log(`sealed/clear: throughput ${fmt(ratios(rates.sealed!, rates.clear!))}; CPU per request ${fmt(ratios(cpu.sealed!, cpu.clear!))}\n`);
}
