// Soak of the worker's HTTP boundary (issue 14): a worker process on a local chain, behind a counting JSON-RPC proxy,
// holds N idle sockets (re-opened as the worker closes them, as an attacker would) and takes M requests on random
// channel ids from many client addresses, while a real buyer pays one request after another. Prints the buyer's p99
// latency unloaded and loaded (and their ratio), the RPC calls that named a random id (must be 0), the index's
// eth_getLogs calls against its polls, the worker's RSS, and what the connection guard did.
//
//   npm run soak:worker                      # 1,000 idle sockets, 5,000 random-id requests
//   npm run soak:worker -- --idle 2000 --random 20000 --concurrency 64 --buyer 200
//
// Needs an open-file limit of about 2 x idle + 1,000 (client and worker sockets live on this machine); it checks
// /proc/self/limits and says what to raise (`ulimit -n <n>`) before it starts. Not part of CI; the small version
// runs in test/integration/worker-soak.test.ts.
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { VOUCHER_HEADER } from "../protocol/voucher.ts";
import { startLocalnet, type Localnet } from "./lib/localnet.ts";
import { holdSocket, rawRequest, type HeldSocket } from "./lib/raw-http.ts";
import { startRpcProxy, type RpcProxy } from "./lib/rpc-proxy.ts";
import { openChannel, paidHeaders, setupMarket, spawnWorker, vadInputs, type Market, type TestChannel, type WorkerProcess } from "./lib/worker-fixture.ts";

export interface SoakOptions {
  /** Idle sockets held throughout the loaded phase. */
  idle: number;
  /** Requests on random channel ids (half POST /v1/infer, half GET /v1/channels/:id). */
  random: number;
  /** Random-id requests in flight at once. */
  concurrency: number;
  /** Paid requests of the buyer in each phase (unloaded, loaded). */
  buyer: number;
  /** Idle sockets per client address (keep it under the worker's http.maxConnectionsPerClient). */
  idlePerAddress: number;
  log?: (line: string) => void;
}

export interface SoakResult {
  unloaded: { p50: number; p99: number; n: number };
  loaded: { p50: number; p99: number; n: number };
  /** loaded p99 / unloaded p99 */
  ratio: number;
  randomRequests: number;
  randomAnswers: Record<string, number>;
  /** RPC calls during the loaded phase whose JSON names one of the random ids. */
  rpcNamingRandomIds: number;
  rpcCallsLoaded: number;
  rpcByMethod: Record<string, number>;
  /** Idle sockets held during the loaded phase (sampled every 100 ms): they are closed by the worker's header timeout and re-opened. */
  idleHeld: { target: number; average: number; minimumObserved: number; reopened: number };
  workerRssMiB: number;
  workerRssBeforeMiB: number;
  seconds: number;
}

/** Open-file limit of this process (soft), from /proc/self/limits; undefined when not on Linux. */
export function openFileLimit(): number | undefined {
  try {
    const line = readFileSync("/proc/self/limits", "utf8")
      .split("\n")
      .find((l) => l.startsWith("Max open files"));
    const soft = line?.split(/\s{2,}/)[1];
    return soft === undefined || soft === "unlimited" ? Infinity : Number(soft);
  } catch {
    return undefined;
  }
}

export function neededOpenFiles(idle: number): number {
  return 2 * idle + 1_000;
}

function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((l) => l.startsWith("VmRSS:"));
  return Math.round((Number(line?.replace(/[^0-9]/g, "") ?? 0) / 1024) * 10) / 10;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! * 100) / 100;
}

/** A client address for index i: 127.(8 + i / 250).(1 + i % 250).(1), all loopback. */
function address(base: number, i: number): string {
  return `127.${base + Math.floor(i / 250)}.${1 + (i % 250)}.1`;
}

/**
 * Runs the soak against a worker at `url` whose RPC goes through `proxy`; `buyer` is an open channel with credit for
 * 2 x options.buyer requests, `pid` the worker process (for RSS).
 */
export async function runSoak(args: { url: string; pid: number; proxy: RpcProxy; market: Market; buyer: TestChannel; modelId: bigint; options: SoakOptions }): Promise<SoakResult> {
  const { url, pid, proxy, market, buyer, modelId, options } = args;
  const log = options.log ?? (() => undefined);
  const started = Date.now();
  let paid = 0n;
  const payOnce = async (): Promise<number> => {
    const amount = paid + buyer.terms.price;
    const body = JSON.stringify({ inputs: vadInputs(Number(amount % 50n)) });
    const headers = { "content-type": "application/json", ...(await paidHeaders(market, buyer, amount, body)) };
    const t0 = performance.now();
    const res = await fetch(`${url}/v1/infer/${modelId}`, { method: "POST", headers, body });
    const text = await res.text();
    const ms = performance.now() - t0;
    if (res.status !== 200) throw new Error(`the buyer was refused: HTTP ${res.status} ${text.slice(0, 300)}`);
    paid = amount;
    return ms;
  };
  // Warm-up (first voucher: ECDSA, session), then the unloaded phase.
  for (let i = 0; i < 5; i++) await payOnce();
  const unloaded: number[] = [];
  for (let i = 0; i < options.buyer; i++) unloaded.push(await payOnce());
  const rssBefore = rssMiB(pid);
  log(`unloaded: p50 ${percentile(unloaded, 50)} ms, p99 ${percentile(unloaded, 99)} ms over ${unloaded.length} paid requests; worker RSS ${rssBefore} MiB`);

  // Loaded phase: idle sockets, re-opened whenever the worker closes one.
  let stop = false;
  let reopened = 0;
  let minimumHeld = Infinity;
  const held = new Set<HeldSocket>();
  const hold = async (slot: number) => {
    while (!stop) {
      let s: HeldSocket;
      try {
        s = await holdSocket(url, address(8, Math.floor(slot / options.idlePerAddress)));
      } catch {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      held.add(s);
      await Promise.race([s.closed, new Promise<void>((r) => { const t = setInterval(() => { if (stop) { clearInterval(t); r(); } }, 100); })]);
      held.delete(s);
      s.socket.destroy();
      if (!stop) reopened++;
    }
  };
  const holders = Array.from({ length: options.idle }, (_, i) => hold(i));
  while (held.size < options.idle && Date.now() - started < 60_000) await new Promise((r) => setTimeout(r, 50));
  log(`holding ${held.size} idle sockets from ${Math.ceil(options.idle / options.idlePerAddress)} addresses`);
  let samples = 0;
  let heldSum = 0;
  const sampler = setInterval(() => {
    minimumHeld = Math.min(minimumHeld, held.size);
    samples++;
    heldSum += held.size;
  }, 100);

  const mark = proxy.calls.length;
  const ids: string[] = [];
  const answers: Record<string, number> = {};
  let next = 0;
  const attacker = async () => {
    for (;;) {
      const i = next++;
      if (i >= options.random) return;
      const id = randomBytes(32).toString("hex");
      ids.push(id);
      const from = address(40, i);
      try {
        const r =
          i % 2 === 0
            ? await rawRequest({
                url,
                localAddress: from,
                path: `/v1/infer/${modelId}`,
                headers: { "content-type": "application/json", [VOUCHER_HEADER]: `0x${id}:1000:0x${randomBytes(64).toString("hex")}1b` },
                body: "{}",
              })
            : await rawRequest({ url, localAddress: from, method: "GET", path: `/v1/channels/0x${id}` });
        const code = (r.body.error as { code?: string } | undefined)?.code ?? String(r.status);
        answers[code] = (answers[code] ?? 0) + 1;
      } catch (error) {
        const code = `client:${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`;
        answers[code] = (answers[code] ?? 0) + 1;
      }
    }
  };
  const loaded: number[] = [];
  const buyerLoop = (async () => {
    for (let i = 0; i < options.buyer; i++) loaded.push(await payOnce());
  })();
  await Promise.all([...Array.from({ length: options.concurrency }, attacker), buyerLoop]);
  const rssAfter = rssMiB(pid);
  clearInterval(sampler);
  stop = true;
  for (const s of held) s.socket.destroy();
  await Promise.all(holders);

  const calls = proxy.since(mark);
  const idSet = new Set(ids);
  const hex64 = /[0-9a-f]{64}/g;
  const naming = calls.filter((c) => (c.text.match(hex64) ?? []).some((h) => idSet.has(h))).length;
  const byMethod: Record<string, number> = {};
  for (const c of calls) byMethod[c.method] = (byMethod[c.method] ?? 0) + 1;
  const result: SoakResult = {
    unloaded: { p50: percentile(unloaded, 50), p99: percentile(unloaded, 99), n: unloaded.length },
    loaded: { p50: percentile(loaded, 50), p99: percentile(loaded, 99), n: loaded.length },
    ratio: Math.round((percentile(loaded, 99) / percentile(unloaded, 99)) * 100) / 100,
    randomRequests: options.random,
    randomAnswers: answers,
    rpcNamingRandomIds: naming,
    rpcCallsLoaded: calls.length,
    rpcByMethod: byMethod,
    idleHeld: { target: options.idle, average: samples ? Math.round(heldSum / samples) : 0, minimumObserved: minimumHeld === Infinity ? 0 : minimumHeld, reopened },
    workerRssMiB: rssAfter,
    workerRssBeforeMiB: rssBefore,
    seconds: Math.round((Date.now() - started) / 100) / 10,
  };
  log(`loaded:   p50 ${result.loaded.p50} ms, p99 ${result.loaded.p99} ms over ${loaded.length} paid requests (p99 ratio ${result.ratio})`);
  log(`random-id requests: ${options.random} -> ${JSON.stringify(answers)}`);
  log(`RPC calls during the loaded phase: ${calls.length} ${JSON.stringify(byMethod)}; naming a random id: ${naming}`);
  log(`idle sockets: target ${options.idle}, held on average ${result.idleHeld.average} (fewest ${result.idleHeld.minimumObserved}), re-opened after the worker closed them ${reopened}`);
  log(`worker RSS: ${rssBefore} MiB before, ${rssAfter} MiB under load`);
  return result;
}

/** A market whose worker runs as its own process behind a counting RPC proxy (the soak and its test). */
export async function soakSetup(options: { config?: Record<string, unknown>; deposit?: bigint } = {}): Promise<{
  net: Localnet;
  proxy: RpcProxy;
  market: Market;
  worker: WorkerProcess;
  buyer: TestChannel;
  stop(): Promise<void>;
}> {
  const net = await startLocalnet({ challengePeriod: 3600n });
  const proxy = await startRpcProxy(net.chain.url);
  const market = await setupMarket(net, { start: false });
  const config = { ...market.config, rpcUrl: proxy.url, settlement: { claimThreshold: "1000000000000", maxAgeSeconds: 86_400, closeSafetySeconds: 120, minBatch: 1, pollIntervalMs: 200 }, ...options.config };
  writeFileSync(market.configFile, JSON.stringify(config, null, 2));
  const worker = await spawnWorker(market.configFile);
  const buyer = await openChannel(market, { buyer: 3, deposit: options.deposit ?? 100_000_000n });
  return {
    net,
    proxy,
    market,
    worker,
    buyer,
    async stop() {
      if (worker.child.exitCode === null) {
        worker.child.kill("SIGTERM");
        await worker.exited;
      }
      await market.stop();
      await proxy.stop();
      await net.stop();
    },
  };
}

async function main() {
  const { values } = parseArgs({
    options: {
      idle: { type: "string", default: "1000" },
      random: { type: "string", default: "5000" },
      concurrency: { type: "string", default: "32" },
      buyer: { type: "string", default: "200" },
      "idle-per-address": { type: "string", default: "50" },
      json: { type: "string" },
    },
  });
  const options: SoakOptions = {
    idle: Number(values.idle),
    random: Number(values.random),
    concurrency: Number(values.concurrency),
    buyer: Number(values.buyer),
    idlePerAddress: Number(values["idle-per-address"]),
    log: (line) => process.stdout.write(`[soak] ${line}\n`),
  };
  const limit = openFileLimit();
  const needed = neededOpenFiles(options.idle);
  if (limit !== undefined && limit < needed) {
    process.stderr.write(`soak: ${options.idle} idle sockets need about ${needed} open files (client + worker on this machine), the limit is ${limit}: run \`ulimit -n ${needed}\` first (or pass --idle ${Math.floor((limit - 1_000) / 2)})\n`);
    process.exit(2);
  }
  process.stdout.write(`[soak] open-file limit ${limit ?? "unknown"} (needs ~${needed}); starting a chain and a worker process...\n`);
  const setup = await soakSetup();
  try {
    const result = await runSoak({ url: setup.worker.url, pid: setup.worker.child.pid!, proxy: setup.proxy, market: setup.market, buyer: setup.buyer, modelId: setup.market.models[0]!.modelId, options });
    process.stdout.write(JSON.stringify(result) + "\n");
    if (values.json) writeFileSync(values.json, JSON.stringify(result, null, 2));
    if (result.rpcNamingRandomIds !== 0) {
      process.stderr.write(`soak: FAILED: ${result.rpcNamingRandomIds} RPC calls named a random channel id\n`);
      process.exitCode = 1;
    }
  } finally {
    await setup.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: unknown) => {
    process.stderr.write(`soak: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  });
}
