// `npm run bench:worker`: how much paying per call costs, on the same model (Silero VAD v5), in one run:
//   raw     onnxruntime session.run in a loop (the limit; no HTTP, no JSON)
//   unpaid  HTTP POST /v1/unpaid/infer (the worker started with --unpaid-route: same parsing, model and encoding)
//   paid    HTTP POST /v1/infer with a fresh voucher (and session MAC) on every request, receipts signed
// A real chain (hardhat node), a real worker process (worker/cli.ts serve), keep-alive connections at a fixed
// concurrency, one channel per connection. Vouchers and MACs are made before the timed window, so the buyer's
// signing is not measured; the worker's checking, storing and receipt signing are.
// Environment: BENCH_SECONDS (per mode and round, default 3), BENCH_CONCURRENCY (list, default "1,8,32"),
// BENCH_ROUNDS (default 5), BENCH_WORKER_CONFIG (JSON merged into the worker config), BENCH_PROFILE (CPU profile dir),
// BENCH_ENCODING (list of body encodings, "json" and/or "binary" = application/vnd.edgepay.tensors; default "binary";
// several are measured side by side, alternating within each round).
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import ort from "onnxruntime-node";
import secp256k1 from "secp256k1";
import { createPublicClient, createWalletClient, http as viemHttp, type Address, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { modelRegistryAbi, testUsdcAbi } from "../protocol/generated/contracts.ts";
import { Buyer } from "../protocol/client/index.ts";
import { initialVadState, sileroVadInputs } from "../protocol/client/inputs.ts";
import { BODY_HASH_HEADER, bodyHash, inferPath, MAC_HEADER, requestMac, sessionKey } from "../protocol/session.ts";
import { type Tensor } from "../protocol/tensors.ts";
import { encodeInferRequest, type InferEncoding } from "../protocol/client/worker-api.ts";
import { createVoucherHasher, encodeVoucherHeader, VOUCHER_HEADER } from "../protocol/voucher.ts";
import { createKeystore, registerDevice, SILERO_VAD_V5 } from "../worker/index.ts";
import { TEST_KEYS, startLocalnet, type Localnet } from "./lib/localnet.ts";
import { stopProcess } from "./lib/chain.ts";
import { breakdownLines, goalLines, modeCost, readTimings, resetTimings } from "./lib/bench-breakdown.ts";
import type { TimingsSnapshot } from "../worker/perf/phase-timings.ts";
import { ROOT } from "./lib/paths.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
/** Connection counts to measure at: few in flight shows the durability wait, many shows group commit amortising it. */
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? "1,8,32").split(",").map(Number);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const ENCODINGS = (process.env.BENCH_ENCODING ?? "binary").split(",").map((e) => {
  if (e !== "json" && e !== "binary") throw new Error(`BENCH_ENCODING: "${e}" is neither json nor binary`);
  return e as InferEncoding;
});
const PRICE = 10n;
const PASSPHRASE = "bench-only-passphrase";

interface Result {
  requests: number;
  errors: number;
  seconds: number;
  latenciesMs: number[];
  /** CPU seconds the worker process (all its threads) used in the window, when measurable. */
  workerCpu?: number;
  /** The worker's own per-phase timings of the window (GET /v1/debug/timings). */
  timings?: TimingsSnapshot;
}

const log = (msg: string) => process.stderr.write(`${msg}\n`);

let net: Localnet | undefined;
let worker: ChildProcess | undefined;
let dir: string | undefined;
try {
  await main();
} finally {
  if (worker) await stopProcess(worker, 10_000);
  await net?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
}

async function main() {
  const inputs = sileroVadInputs(speechLikeFrame(), initialVadState());

  const rawSeconds = Math.min(5, SECONDS * ROUNDS);
  log(`raw onnxruntime loop (${rawSeconds} s)...`);
  const raw = await rawLoop(inputs, rawSeconds);

  log("starting a chain, publishing the model, registering a device...");
  net = await startLocalnet({ challengePeriod: 3600n });
  dir = await mkdtemp(path.join(tmpdir(), "edgepay-bench-"));
  const { url, device, devicePublicKey, modelId } = await setUpWorker(net, dir);

  const buyerKey = TEST_KEYS[3];
  const account = privateKeyToAccount(buyerKey);
  const transport = viemHttp(net.chain.url);
  const publicClient = createPublicClient({ chain: net.viemChain, transport });
  const wallet = createWalletClient({ account, chain: net.viemChain, transport });
  await waitTx(publicClient, await wallet.writeContract({ address: net.deployment.token, abi: testUsdcAbi, functionName: "faucet", args: [account.address, 1_000_000_000n] }));
  const buyer = new Buyer({ publicClient, wallet, paymentChannels: net.deployment.paymentChannels });

  // Request body and answer encoding per BENCH_ENCODING (content-type and accept headers go with each request).
  const bodies = new Map(
    ENCODINGS.map((e) => {
      const { body, contentType } = encodeInferRequest(inputs, e);
      return [e, { body, digest: bodyHash(body), headers: { "content-type": contentType, accept: contentType } }] as const;
    }),
  );
  const body = bodies.get(ENCODINGS[0]!)!.body;
  const maxConcurrency = Math.max(...CONCURRENCY);
  const agent = new http.Agent({ keepAlive: true, maxSockets: maxConcurrency });
  const target = new URL(url);

  // One channel per connection; each lane signs its vouchers (and MACs) between timed windows, never inside one.
  log(`opening ${maxConcurrency} channels (not timed)...`);
  const hasher = createVoucherHasher(net.deployment.chainId, net.deployment.paymentChannels);
  const { chainId, paymentChannels } = net.deployment;
  const lanes: Lane[] = [];
  for (let i = 0; i < maxConcurrency; i++) {
    const record = await buyer.open({ device, modelId, token: net.deployment.token, deposit: PRICE * 2_000_000n });
    lanes.push({ channelId: record.channelId, secret: Buffer.from(record.signerKey.slice(2), "hex"), macKey: sessionKey(record.signerKey, devicePublicKey, record.channelId), signed: 0n, vouchers: [], headers: [], next: 0 });
  }
  const presign = (lane: Lane, count: number, bodyDigest = bodies.get(ENCODINGS[0]!)!.digest) => {
    // Unsent vouchers stay (amounts must follow each other); their MACs are re-made for this body.
    const left = lane.vouchers.slice(lane.next);
    lane.vouchers = [];
    lane.headers = [];
    lane.next = 0;
    for (let n = 0; n < left.length + count; n++) {
      let v = left[n];
      if (!v) {
        const amount = PRICE * ++lane.signed;
        const { signature, recid } = secp256k1.ecdsaSign(hasher(lane.channelId, amount), lane.secret);
        v = { amount, sig: `0x${Buffer.from(signature).toString("hex")}${(27 + recid).toString(16)}` as Hex };
      }
      lane.vouchers.push(v);
      const { amount, sig } = v;
      const header = encodeVoucherHeader({ channelId: lane.channelId, cumulativeAmount: amount, signature: sig });
      // Every request carries its MAC (the worker learns the signer's key from the first voucher's signature).
      const mac = requestMac(lane.macKey, {
        chainId,
        paymentChannels,
        channelId: lane.channelId,
        cumulativeAmount: amount,
        signature: sig,
        modelId,
        method: "POST",
        path: inferPath(modelId),
        bodyHash: bodyDigest,
      });
      lane.headers.push({ [VOUCHER_HEADER]: header, [MAC_HEADER]: mac, [BODY_HASH_HEADER]: bodyDigest });
    }
  };
  // First voucher of each channel before any timed window (it is the ECDSA-verified one that opens the session).
  for (const lane of lanes) {
    presign(lane, 1);
    const status = await post(agent, target, "/v1/infer/" + modelId, body, { ...bodies.get(ENCODINGS[0]!)!.headers, ...lane.headers[lane.next++]! });
    if (status.status !== 200) throw new Error(`first paid request failed: HTTP ${status.status} ${status.body}`);
  }
  for (const b of bodies.values()) await load(agent, target, `/v1/unpaid/infer/${modelId}`, b.body, () => b.headers, 1, maxConcurrency); // warm-up, not reported

  const runs: { concurrency: number; encoding: InferEncoding; unpaid: Result[]; paid: Result[] }[] = [];
  // The worker's phase timings are zeroed before and read after every window, so each mode's breakdown is its own.
  const timed = async (window: () => Promise<Result>): Promise<Result> => {
    await resetTimings(url);
    const r = await window();
    r.timings = await readTimings(url);
    return r;
  };
  for (const concurrency of CONCURRENCY) {
    const byEncoding = ENCODINGS.map((encoding) => ({ concurrency, encoding, unpaid: [] as Result[], paid: [] as Result[] }));
    runs.push(...byEncoding);
    for (let r = 0; r < ROUNDS; r++) {
      for (const run of byEncoding) {
        const { body: sent, digest, headers } = bodies.get(run.encoding)!;
        const tag = ENCODINGS.length > 1 ? ` ${run.encoding}` : "";
        log(`${concurrency} connections, round ${r + 1}/${ROUNDS}: unpaid HTTP${tag} (${SECONDS} s)...`);
        const u = await timed(() => load(agent, target, `/v1/unpaid/infer/${modelId}`, sent, () => headers, SECONDS, concurrency));
        run.unpaid.push(u);
        // Three times what the unpaid window served, spread over the lanes: paid never comes close.
        const perLane = Math.ceil((3 * u.requests) / concurrency) + 10;
        for (const lane of lanes.slice(0, concurrency)) presign(lane, perLane, digest);
        log(`${concurrency} connections, round ${r + 1}/${ROUNDS}: paid HTTP${tag} (${SECONDS} s, one channel per connection)...`);
        run.paid.push(
          await timed(() =>
            load(agent, target, `/v1/infer/${modelId}`, sent, (worker) => {
              const lane = lanes[worker]!;
              const h = lane.headers[lane.next++];
              if (!h) throw new Error("ran out of pre-signed vouchers");
              return { ...headers, ...h };
            }, SECONDS, concurrency),
          ),
        );
      }
    }
  }
  agent.destroy();

  const metrics = await (await fetch(`${url}/metrics`)).text();
  const recoveries = [...metrics.matchAll(/^edgepay_[a-z_]*recover[a-z_]*\{kind="(\w+)"\} (\d+)/gm)].map((m) => `${m[1]} ${m[2]}`).join(", ");

  console.log(`\nSilero VAD v5; worker in its own process; ${ROUNDS} alternating rounds of ${SECONDS} s per HTTP mode; keep-alive connections,`);
  console.log(`one channel per connection for paid; a 2-core machine shared with the load generator and the chain.\n`);
  const header = `${"mode".padEnd(32)}${"req/s".padStart(9)}${"p50 ms".padStart(9)}${"p99 ms".padStart(9)}${"requests".padStart(10)}${"errors".padStart(8)}${"worker CPU/req".padStart(16)}`;
  console.log(header);
  const row = (name: string, results: Result[]) => {
    const s = summarize(results);
    const cpu = s.cpuPerRequestUs === undefined ? "-" : `${s.cpuPerRequestUs.toFixed(0)} µs`;
    console.log(`${name.padEnd(32)}${s.rate.toFixed(0).padStart(9)}${s.p50.toFixed(3).padStart(9)}${s.p99.toFixed(3).padStart(9)}${String(s.requests).padStart(10)}${String(s.errors).padStart(8)}${cpu.padStart(16)}`);
    return s;
  };
  const rawSummary = row("raw session.run", [raw]);
  const verdicts: string[] = [];
  const breakdown: string[] = [];
  const goals: string[] = [];
  const durability = (JSON.parse(process.env.BENCH_WORKER_CONFIG ?? "{}") as { durability?: string }).durability ?? "full";
  for (const run of runs) {
    const tag = ENCODINGS.length > 1 ? `${run.encoding}, ` : "";
    const u = row(`unpaid HTTP, ${tag}${run.concurrency} conns`, run.unpaid);
    const p = row(`paid HTTP, ${tag}${run.concurrency} conns`, run.paid);
    // Other work on the machine drifts over a run; rounds alternate the modes, so each round's ratio compares like with like.
    const ratios = run.unpaid.map((x, i) => run.paid[i]!.requests / run.paid[i]!.seconds / (x.requests / x.seconds)).sort((a, b) => a - b);
    const median = ratios[Math.floor(ratios.length / 2)]!;
    const cpu = u.cpuPerRequestUs !== undefined && p.cpuPerRequestUs !== undefined ? `; worker CPU per request unpaid/paid ${(u.cpuPerRequestUs / p.cpuPerRequestUs).toFixed(3)}` : "";
    verdicts.push(
      `${String(run.concurrency).padStart(3)} connections${ENCODINGS.length > 1 ? ` ${run.encoding.padEnd(6)}` : ""}: paid/unpaid ${(p.rate / u.rate).toFixed(3)} (median round ${median.toFixed(3)}, rounds ${ratios.map((r) => r.toFixed(2)).join(" ")})${cpu}; unpaid/raw ${(u.rate / rawSummary.rate).toFixed(3)}`,
    );
    const uc = modeCost(run.unpaid, "unpaid");
    const pc = modeCost(run.paid, "paid");
    const enc = ENCODINGS.length > 1 ? ` [${run.encoding}]` : "";
    breakdown.push("", ...breakdownLines(run.concurrency, uc, pc).map((l, i) => (i === 0 ? `${l}${enc}` : l)));
    // Judged on all rounds together (requests over seconds), as the table above shows them.
    goals.push(...goalLines(run.concurrency, uc, pc, p.rate / u.rate, undefined, durability).map((l) => `${l}${enc}`));
    const rawRatio = u.rate / rawSummary.rate;
    goals.push(`${String(run.concurrency).padStart(3)} conn  unpaid/raw ${rawRatio.toFixed(3)} ${rawRatio >= 0.5 ? ">= 0.5: met" : "< 0.5: NOT met (raw has no HTTP; the unpaid breakdown above shows the worker's share, the rest is HTTP handling and the load generator on the same cores)"}${enc}`);
  }
  console.log(`\npaid/unpaid by connections (encoding: ${ENCODINGS.join(", ")})\n${verdicts.join("\n")}`);
  console.log(breakdown.join("\n"));
  console.log(`\ngoals (issue 15; durability "${durability}"): paid/unpaid >= 0.8 at 1 connection and >= 0.9 at 8+; worker CPU per paid request <= 1.3 x unpaid; unpaid >= 0.5 x raw`);
  console.log(goals.join("\n"));
  if (recoveries) console.log(`worker ECDSA voucher recoveries: ${recoveries}`);
  if (process.env.BENCH_WORKER_CONFIG) console.log(`worker config overrides: ${process.env.BENCH_WORKER_CONFIG}`);
  console.log("raw is one sequential session.run loop (p50/p99 per call); HTTP latencies are per request with all connections busy.");
  console.log("worker CPU/req counts every thread of the worker process (utime + stime from /proc) over the timed windows.");
}

async function setUpWorker(n: Localnet, workDir: string) {
  const transport = viemHttp(n.chain.url);
  const publicClient = createPublicClient({ chain: n.viemChain, transport });
  const modelOwner = createWalletClient({ account: privateKeyToAccount(TEST_KEYS[1]), chain: n.viemChain, transport });
  const providerKey = TEST_KEYS[2];
  const provider = createWalletClient({ account: privateKeyToAccount(providerKey), chain: n.viemChain, transport });
  const contentHash = `0x${createHash("sha256").update(await readFile(SILERO_VAD_V5)).digest("hex")}` as Hex;
  await waitTx(
    publicClient,
    await modelOwner.writeContract({
      address: n.deployment.modelRegistry,
      abi: modelRegistryAbi,
      functionName: "publish",
      args: [{ name: "Silero VAD v5", contentHash, uri: "npm:@ricky0123/vad-web/dist/silero_vad_v5.onnx", royaltyBps: 500, licenseToken: n.deployment.token, licenseFee: 0n }],
    }),
  );
  const modelId = await publicClient.readContract({ address: n.deployment.modelRegistry, abi: modelRegistryAbi, functionName: "modelCount" });
  await waitTx(publicClient, await provider.writeContract({ address: n.deployment.token, abi: testUsdcAbi, functionName: "faucet", args: [provider.account.address, 1_000_000_000n] }));

  const dataDir = path.join(workDir, "worker");
  const env = { ...process.env, EDGEPAY_KEY_PASSPHRASE: PASSPHRASE };
  const key = createKeystore(dataDir, env);
  const contracts = { paymentChannels: n.deployment.paymentChannels, deviceRegistry: n.deployment.deviceRegistry, modelRegistry: n.deployment.modelRegistry, token: n.deployment.token };
  await registerDevice({ rpcUrl: n.chain.url, contracts, ownerKey: providerKey, devicePrivateKey: key.privateKey, endpoint: "http://127.0.0.1/bench", models: [{ modelId, price: PRICE }], fundEth: "1" });

  const configFile = path.join(workDir, "worker.json");
  await writeFile(
    configFile,
    JSON.stringify({
      dataDir,
      rpcUrl: n.chain.url,
      contracts,
      port: 0,
      models: [{ modelId: modelId.toString(), file: SILERO_VAD_V5 }],
      // No claims inside the timed window: it measures the request path (claims are one transaction per many calls).
      settlement: { claimThreshold: "1000000000000", maxAgeSeconds: 86_400 },
      logLevel: "error",
      // Per-phase timings (GET /v1/debug/timings) for the breakdown; a few performance.now() calls per request.
      debug: { timings: true },
      // BENCH_WORKER_CONFIG: JSON merged into the worker config (to compare settings; printed with the table).
      ...(JSON.parse(process.env.BENCH_WORKER_CONFIG ?? "{}") as object),
    }),
  );
  // BENCH_PROFILE=<dir>: the worker writes a V8 CPU profile there on exit (where does a paid request spend its time).
  const profile = process.env.BENCH_PROFILE ? ["--cpu-prof", "--cpu-prof-dir", path.resolve(process.env.BENCH_PROFILE)] : [];
  worker = spawn(process.execPath, [...profile, path.join(ROOT, "worker/cli.ts"), "serve", "--config", configFile, "--unpaid-route"], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: worker!.stdout! });
    lines.on("line", (line) => {
      try {
        const msg = JSON.parse(line) as { event?: string; url?: string };
        if (msg.event === "listening" && msg.url) resolve(msg.url);
      } catch {
        // other output
      }
    });
    worker!.once("exit", (code) => reject(new Error(`worker exited (${code}) before listening`)));
  });
  const offerings = (await (await fetch(`${url}/v1/offerings`)).json()) as { device: Address; devicePublicKey: Hex };
  return { url, device: offerings.device, devicePublicKey: offerings.devicePublicKey, modelId };
}

/** A voiced-sounding frame (harmonics with an envelope) so the VAD does real work on non-trivial input. */
function speechLikeFrame(): Float32Array {
  const f = new Float32Array(512);
  for (let i = 0; i < f.length; i++) {
    const t = i / 16000;
    f[i] = 0.3 * Math.sin(2 * Math.PI * 140 * t) + 0.15 * Math.sin(2 * Math.PI * 280 * t) + 0.05 * Math.sin(2 * Math.PI * 2300 * t);
  }
  return f;
}

async function rawLoop(inputs: Record<string, Tensor>, seconds: number): Promise<Result> {
  const session = await ort.InferenceSession.create(SILERO_VAD_V5, { executionProviders: ["cpu"], intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: "all" });
  const feeds = Object.fromEntries(Object.entries(inputs).map(([k, t]) => [k, new ort.Tensor(t.type, t.data as Float32Array, t.dims)]));
  for (let i = 0; i < 200; i++) await session.run(feeds);
  const latenciesMs: number[] = [];
  const start = performance.now();
  const end = start + seconds * 1000;
  while (performance.now() < end) {
    const t0 = performance.now();
    await session.run(feeds);
    latenciesMs.push(performance.now() - t0);
  }
  const result = { requests: latenciesMs.length, errors: 0, seconds: (performance.now() - start) / 1000, latenciesMs };
  await session.release();
  return result;
}

/** `concurrency` loops, each sending the next request when its previous answer arrived, for `seconds`. */
interface Lane {
  channelId: Hex;
  secret: Buffer;
  macKey: Uint8Array;
  /** Vouchers signed so far (the next amount is PRICE * (signed + 1)). */
  signed: bigint;
  /** Signed vouchers, sent or not, in amount order; `headers` are theirs (with the MAC over the current body). */
  vouchers: { amount: bigint; sig: Hex }[];
  headers: Record<string, string>[];
  next: number;
}

async function load(
  agent: http.Agent,
  target: URL,
  pathname: string,
  body: string | Uint8Array,
  headersFor: (worker: number) => Record<string, string>,
  seconds: number,
  concurrency: number,
): Promise<Result> {
  const cpu0 = await workerCpuSeconds();
  const latenciesMs: number[] = [];
  let errors = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      while (performance.now() < end) {
        const t0 = performance.now();
        const r = await post(agent, target, pathname, body, headersFor(w));
        latenciesMs.push(performance.now() - t0);
        if (r.status !== 200) {
          errors++;
          if (errors <= 3) log(`  HTTP ${r.status}: ${r.body.slice(0, 200)}`);
        }
      }
    }),
  );
  const cpu1 = await workerCpuSeconds();
  const workerCpu = cpu0 !== undefined && cpu1 !== undefined ? cpu1 - cpu0 : undefined;
  return { requests: latenciesMs.length, errors, seconds: (performance.now() - start) / 1000, latenciesMs, workerCpu };
}

function post(agent: http.Agent, target: URL, pathname: string, body: string | Uint8Array, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { agent, host: target.hostname, port: target.port, path: pathname, method: "POST", headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/**
 * utime + stime of the worker process from /proc (Linux). CPU per request does not depend on what else runs on the
 * machine the way throughput does, so it shows the cost of payment even on a busy 2-core box.
 */
async function workerCpuSeconds(): Promise<number | undefined> {
  if (!worker?.pid) return undefined;
  try {
    const stat = await readFile(`/proc/${worker.pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

function summarize(results: Result[]) {
  const requests = results.reduce((n, r) => n + r.requests, 0);
  const seconds = results.reduce((n, r) => n + r.seconds, 0);
  const errors = results.reduce((n, r) => n + r.errors, 0);
  const all = results.flatMap((r) => r.latenciesMs).sort((a, b) => a - b);
  const q = (p: number) => all[Math.min(all.length - 1, Math.floor(p * all.length))] ?? 0;
  const cpu = results.every((r) => r.workerCpu !== undefined) ? results.reduce((n, r) => n + r.workerCpu!, 0) : undefined;
  return { rate: requests / seconds, p50: q(0.5), p99: q(0.99), requests, errors, cpuPerRequestUs: cpu === undefined ? undefined : (cpu * 1e6) / requests };
}

async function waitTx(client: ReturnType<typeof createPublicClient>, hash: Hex) {
  const r = await client.waitForTransactionReceipt({ hash });
  if (r.status !== "success") throw new Error(`transaction ${hash} reverted`);
}
