// `npm start`: the whole local marketplace in one command. A Hardhat chain, the contracts deployed with Ignition
// from the compiled artifacts (compiled only when contracts/ changed; deployment "local", generated module
// regenerated), the demo models published by two owners with royalties, a worker registered as a device serving them,
// and the dashboard (production build, rebuilt only when its inputs changed). Each part is checked by polling until
// it answers, and each step prints how long it took. SIGINT (Ctrl-C) or SIGTERM to this process stops everything it
// started (dashboard, worker with its final claims, chain); so does the end of the `npm` process that runs it. Every
// child also watches this process and stops by itself should it die by SIGKILL (scripts/lib/parent-watch.ts).
//
// `npm start -- --no-web` (or EDGEPAY_NO_WEB=1): chain, contracts, models and worker only, for buyers who bring
// their own client (no dashboard build, WEB_PORT unused).
//
// The Ponder indexer (indexer/) runs on INDEXER_PORT (42069), with its PGlite database in the state directory; it is
// started right after the deploy, in parallel with the rest, "ready" waits until it has caught up with the chain, and
// the dashboard gets its URL (EDGEPAY_INDEXER_URL) so its lists come from it. `npm start -- --no-indexer` (or
// EDGEPAY_INDEXER=0) skips it: the dashboard then scans the chain in bounded ranges.
//
// Ports: CHAIN_PORT (8545), WORKER_PORT (8787), WEB_PORT (3000). State: .edgepay/ (or EDGEPAY_STATE_DIR), fresh per
// start because the chain is fresh: the worker's key and database, logs, and stack.json for `npm run demo`.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import type { Address } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { isPortFree, rpc, startChain, waitFor, type RunningChain } from "./lib/chain.ts";
import { deployLocal, ensureContractArtifacts } from "./lib/deploy.ts";
import { startIndexer, waitCaughtUp, type RunningIndexer } from "./lib/indexer.ts";
import { httpOk, killAllChildren, portHolder, spawnNode, watchLauncher, type ManagedChild } from "./lib/processes.ts";
import { bold, fmtUsdc, paint, secs, step } from "./lib/progress.ts";
import { stackFile, stateDir, type StackInfo } from "./lib/stack.ts";
import { ensureWebBuild, NEXT_CLI } from "./lib/web-build.ts";

const started = Date.now();
const USAGE = `usage: npm start [-- --no-web] [-- --no-indexer]

  --no-web      chain, contracts, demo models and worker only: no dashboard (also EDGEPAY_NO_WEB=1)
  --no-indexer  no Ponder indexer (also EDGEPAY_INDEXER=0): the dashboard scans the chain for its lists
  --indexer     accepted for compatibility (the indexer is on by default)

environment: CHAIN_PORT (8545), WORKER_PORT (8787), WEB_PORT (3000), INDEXER_PORT (42069), EDGEPAY_STATE_DIR (.edgepay),
             EDGEPAY_DEPLOYMENT (local)`;
const args = (() => {
  try {
    return parseArgs({
      options: {
        "no-web": { type: "boolean", default: false },
        indexer: { type: "boolean", default: false },
        "no-indexer": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
    }).values;
  } catch (error) {
    console.error(`npm start: ${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
})();
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}
const noWebEnv = process.env.EDGEPAY_NO_WEB?.trim().toLowerCase();
const withWeb = !args["no-web"] && !(noWebEnv && !["0", "false", "no"].includes(noWebEnv));
const indexerEnv = process.env.EDGEPAY_INDEXER?.trim().toLowerCase();
if (args.indexer && args["no-indexer"]) {
  console.error(`npm start: --indexer and --no-indexer contradict each other\n\n${USAGE}`);
  process.exit(2);
}
const withIndexer = args.indexer || (!args["no-indexer"] && !(indexerEnv && ["0", "false", "no"].includes(indexerEnv)));
const deploymentId = process.env.EDGEPAY_DEPLOYMENT?.trim() || "local";
const STATE = stateDir();
const LOGS = path.join(STATE, "logs");
const rel = (p: string) => {
  const r = path.relative(process.cwd(), p);
  return r.startsWith("..") || path.isAbsolute(r) ? p : `./${r}`;
};

// ------------------------------------------------------------------ ports

interface PortSpec {
  variable: string;
  what: string;
  port: number;
}

function readPort(variable: string, fallback: number, what: string): PortSpec {
  const raw = process.env[variable]?.trim();
  if (!raw) return { variable, what, port: fallback };
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) fail(`${variable}=${raw} is not a TCP port (1-65535)`);
  return { variable, what, port };
}

async function suggestPort(from: number, taken: Set<number>): Promise<number> {
  for (let p = from + 1; p < from + 200 && p <= 65535; p++) if (!taken.has(p) && (await isPortFree(p))) return p;
  return 0;
}

function fail(message: string): never {
  console.error(`\n${paint("31", "npm start:")} ${message}`);
  process.exit(1);
}

const ports = [readPort("CHAIN_PORT", 8545, "the chain (JSON-RPC)"), readPort("WORKER_PORT", 8787, "the worker")];
if (withWeb) ports.push(readPort("WEB_PORT", 3000, "the dashboard"));
if (withIndexer) ports.push(readPort("INDEXER_PORT", 42069, "the indexer"));
{
  const seen = new Map<number, string>();
  for (const p of ports) {
    const other = seen.get(p.port);
    if (other) fail(`${other} and ${p.variable} are both ${p.port}; each part needs its own port`);
    seen.set(p.port, p.variable);
  }
}
const [chainPort, workerPort] = ports.map((p) => p.port) as [number, number];
const webPort = ports.find((p) => p.variable === "WEB_PORT")?.port;
const indexerPort = ports.find((p) => p.variable === "INDEXER_PORT")?.port;

// ------------------------------------------------------------------ lifecycle

let chain: RunningChain | undefined;
let worker: ManagedChild | undefined;
let web: ManagedChild | undefined;
let indexer: RunningIndexer | undefined;
let build: Promise<unknown> | undefined;
let dashboardStarted = 0;
let shuttingDown: Promise<void> | undefined;
let firstSignalAt = 0;

async function shutdown(code: number, reason?: string) {
  shuttingDown ??= (async () => {
    if (reason) console.log(`\n${reason}`);
    const parts = [web && "dashboard", indexer && "indexer", worker && "worker", chain && "chain"].filter(Boolean);
    if (parts.length) console.log(`stopping ${parts.join(", ")}...`);
    rmSync(stackFile(), { force: true });
    // The dashboard and worker first: the worker's final claims need the chain.
    if (web) await web.stop(10_000).then(() => step("ok", "dashboard", "stopped"));
    if (indexer) await indexer.stop().then(() => step("ok", "indexer", "stopped"));
    if (worker) {
      const crashed = worker.exited();
      await worker.stop(30_000);
      step("ok", "worker", crashed ? `had stopped (${crashed})` : "stopped (flushed, claimed what it had earned)");
    }
    // Whatever else is still running (a dashboard build, a compile step) is not worth waiting for.
    killAllChildren();
    await build?.catch(() => undefined);
    if (chain) await chain.stop().then(() => step("ok", "chain", "stopped"));
    process.exit(code);
  })();
  return shuttingDown;
}

function onSignal(signal: NodeJS.Signals) {
  // npm forwards the terminal's SIGINT to us as well, so one Ctrl-C can arrive twice; only a later one forces.
  if (shuttingDown && Date.now() - firstSignalAt > 1_500) {
    console.log("\nforced stop: killing everything now");
    killAllChildren();
    if (chain) chain.process.kill("SIGKILL");
    process.exit(130);
  }
  if (shuttingDown) return;
  firstSignalAt = Date.now();
  void shutdown(signal === "SIGINT" ? 130 : 143, `${signal}: shutting down (Ctrl-C again to force)`);
}
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);
process.on("SIGHUP", onSignal);
process.once("exit", () => {
  if (chain && chain.process.exitCode === null) chain.process.kill("SIGKILL");
});
// npm runs us through `sh -c`, and a SIGTERM sent to npm (what a service manager does) stops that shell without
// reaching us (npm forwards it to the shell; dash passes it on to nobody): so npm is watched too.
watchLauncher(() => {
  if (!shuttingDown) void shutdown(143, "npm (or whatever started npm start) is gone: shutting down");
});

/** Runs a part of the start-up; a failure stops what was started and exits with the reason. */
async function part<T>(name: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (shuttingDown) return new Promise<T>(() => undefined);
    step("fail", name, (error as Error).message.split("\n")[0]!);
    const rest = (error as Error).message.split("\n").slice(1).join("\n");
    if (rest.trim()) console.error(rest);
    if (name !== "ports") console.error(`logs: ${rel(LOGS)}/`);
    await shutdown(1);
    throw error;
  }
}

/** Seconds each part took (printed with the part, and again in the ready line). */
const timings: [string, string][] = [];
function took(name: string, since: number): string {
  const s = secs(since);
  timings.push([name, s]);
  return s;
}

function watchExit(child: ManagedChild, what: string) {
  child.process.once("exit", () => {
    if (shuttingDown) return;
    const tail = child.tail(15);
    void shutdown(1, `${what} stopped unexpectedly (${child.exited()}):\n${tail}\nlogs: ${rel(LOGS)}/`);
  });
}

// ------------------------------------------------------------------ start-up

console.log(`${paint("1", "Edgepay")}: starting the local marketplace${withWeb ? "" : " without the dashboard (--no-web)"} (state and logs in ${rel(STATE)}/)`);

await part("ports", async () => {
  const problems: string[] = [];
  const taken = new Set(ports.map((p) => p.port));
  for (const p of ports) {
    if (await isPortFree(p.port)) continue;
    const holder = portHolder(p.port);
    const free = await suggestPort(p.port, taken);
    problems.push(
      `port ${p.port} for ${p.what} is taken${holder ? ` by ${holder}` : ""}.\n` +
        `      Stop that process, or choose another port: ${p.variable}=${free || "<port>"} npm start`,
    );
  }
  if (problems.length) throw new Error(`a port is taken\n${problems.map((s) => `    ${s}`).join("\n")}`);
  step("ok", "ports", ports.map((p) => `${p.variable}=${p.port}`).join(", "));
});

// Fresh state: the chain starts empty, so an old device key or database would describe another world.
rmSync(path.join(STATE, "worker"), { recursive: true, force: true });
rmSync(path.join(STATE, "indexer"), { recursive: true, force: true });
rmSync(stackFile(), { force: true });
rmSync(LOGS, { recursive: true, force: true });
mkdirSync(LOGS, { recursive: true });

const rpcUrl = `http://127.0.0.1:${chainPort}`;
// The chain and the contracts' build check are independent: both at once.
const compiled = part("contracts", async () => {
  const t = Date.now();
  const r = await ensureContractArtifacts({ log: (line) => writeFileSync(path.join(LOGS, "contracts.log"), line + "\n", { flag: "a" }) });
  step(
    "ok",
    "contracts",
    r.compiled ? `built with hardhat build (contracts/ changed since the last check) in ${took("compile", t)}` : `build reused (sources unchanged) in ${took("contracts check", t)}`,
  );
});
chain = await part("chain", async () => {
  const t = Date.now();
  const c = await startChain({ port: chainPort, detached: true });
  const chainId = Number(BigInt(await rpc<string>(c.url, "eth_chainId")));
  step("ok", "chain", `Hardhat node on ${c.url} (chain id ${chainId}, pid ${c.process.pid}) in ${took("chain", t)}`);
  return c;
});
chain.process.once("exit", (code, signal) => {
  if (!shuttingDown) void shutdown(1, `the chain stopped unexpectedly (${signal ?? `exit ${code}`})`);
});
await compiled;

const deployment = await part("contracts", async () => {
  let t = Date.now();
  const d = await deployLocal({ rpcPort: chainPort, deploymentId, skipBuild: true });
  step("ok", "contracts", `deployed with Ignition from artifacts/ (deployment "${deploymentId}", no compile) in ${took("deploy", t)}`);
  step("info", "", `PaymentChannels ${d.paymentChannels}, DeviceRegistry ${d.deviceRegistry}, ModelRegistry ${d.modelRegistry}, TestUSDC ${d.token}`);
  t = Date.now();
  await runNode("codegen", ["scripts/codegen.ts"], "contracts.log");
  step("ok", "codegen", `protocol/generated/contracts.ts regenerated in ${took("codegen", t)}`);
  return d;
});
const contracts = {
  paymentChannels: deployment.paymentChannels,
  deviceRegistry: deployment.deviceRegistry,
  modelRegistry: deployment.modelRegistry,
  token: deployment.token,
  flightRecorder: deployment.flightRecorder,
  ...(deployment.answerDisputes ? { answerDisputes: deployment.answerDisputes } : {}),
  ...(deployment.deviceReputation ? { deviceReputation: deployment.deviceReputation } : {}),
};

const workerUrl = `http://127.0.0.1:${workerPort}`;
const webUrl = webPort ? `http://127.0.0.1:${webPort}` : undefined;

// The dashboard does not need the models or the worker (it reads addresses from its environment and polls the
// worker), so its build and `next start` run while the market is set up; it reads the fresh generated module.
const dashboard = webUrl ? startDashboard(webUrl) : undefined;
dashboard?.catch(() => undefined);
// The indexer needs only the addresses: it starts now and backfills while the models and the worker are set up;
// "caught up" is then measured against the head once they are (their transactions are what it should show).
let marketSetUp: () => void = () => undefined;
const marketReady = new Promise<void>((resolve) => (marketSetUp = resolve));
const indexing = indexerPort ? startIndexerPart(indexerPort) : undefined;
indexing?.catch(() => undefined);

// Loaded only now: the generated ABIs it imports were just regenerated.
const market = await import("./lib/marketplace.ts");
const m = await market.connectMarketplace(rpcUrl, contracts);
const you = privateKeyToAccount(market.TEST_KEYS[market.ROLES.you]!).address;

const models = await part("models", async () => {
  const t = Date.now();
  const published = await market.ensureDemoModels(m);
  for (const p of published) {
    step("ok", "models", `#${p.modelId} ${p.name} by ${p.owner} (royalty ${p.royaltyBps / 100}%, license ${fmtUsdc(p.licenseFee)} USDC, sha256 ${p.contentHash.slice(0, 10)}…)`);
  }
  await market.faucet(m, market.TEST_KEYS[market.ROLES.you]!, you, 1_000n * market.USDC);
  step("ok", "accounts", `test account #0 ${you} got 1,000 test USDC; models and accounts in ${took("models", t)}`);
  return published;
});

const prices = new Map<string, bigint>([
  ["silero-vad", 1_000n],
  ["ppocr-cls", 2_000n],
]);
const device = await part("worker", async () => {
  const t = Date.now();
  const dataDir = path.join(STATE, "worker");
  const provisioned = await market.provisionDevice(m, {
    ownerKey: market.TEST_KEYS[market.ROLES.provider]!,
    dataDir,
    port: workerPort,
    offerings: models.map((model) => ({ model, price: prices.get(model.key)! })),
    metadata: { name: "npm-start device" },
    // Claims show up in the dashboard within minutes instead of hours.
    settlement: { claimThreshold: "100000", maxAgeSeconds: 120, closeSafetySeconds: 120, minBatch: 1, pollIntervalMs: 1000, stuckAfterMs: 30_000 },
  });
  step("ok", "worker", `device ${provisioned.device} registered by ${provisioned.owner} (stake, licenses, offerings) in ${secs(t)}`);
  // Orphaned (we died by SIGKILL), the worker still gets 30 s for its final claims, and the chain waits for it.
  worker = await market.runWorker(provisioned, { logFile: path.join(LOGS, "worker.log"), orphanGraceMs: 30_000 });
  chain!.outlive(worker.pid);
  watchExit(worker, "the worker");
  const offered = provisioned.offerings.map((o) => `#${o.modelId} at ${fmtUsdc(o.price)} USDC`).join(", ");
  step("ok", "worker", `serving ${offered} on ${workerUrl} (pid ${worker.pid}) in ${took("worker", t)}`);
  return provisioned;
});

marketSetUp();
if (dashboard) {
  if (!web) step("run", "dashboard", `waiting for the dashboard (${secs(dashboardStarted)} so far; a first build takes a minute or two)...`);
  await dashboard;
}
if (indexing) await indexing;

const info: StackInfo = {
  version: 1,
  pid: process.pid,
  startedAt: new Date(started).toISOString(),
  rpcUrl,
  chainId: deployment.chainId,
  deploymentId,
  contracts,
  dashboardUrl: webUrl ?? null,
  indexerUrl: indexer?.url ?? null,
  workers: [{ url: workerUrl, device: device.device, owner: device.owner, pid: worker!.pid, dataDir: device.dataDir }],
  models: models.map((p) => ({ modelId: p.modelId.toString(), name: p.name, owner: p.owner, royaltyBps: p.royaltyBps, file: p.file })),
  account: { index: market.ROLES.you, address: you as Address },
  pids: { chain: chain.process.pid!, worker: worker!.pid, ...(web ? { dashboard: web.pid } : {}), ...(indexer ? { indexer: indexer.child.pid } : {}) },
};
writeFileSync(stackFile(), JSON.stringify(info, null, 2) + "\n");

const b = bold;
const steps = timings.map(([name, s]) => `${name} ${s}`).join(", ");
const vad = models.find((p) => p.key === "silero-vad") ?? models[0]!;
console.log(`
${paint("32", "ready")} in ${secs(started)}${webUrl ? `: dashboard ${webUrl}` : " (no dashboard)"}
  steps: ${steps}
`);
if (webUrl) {
  console.log(`  ${b("Open the dashboard:")}  ${webUrl}
  ${b("Use test account #0:")} ${you}
                        Connect with the dashboard's built-in "Dev wallet": it signs as this account
                        (it holds 1,000 test USDC and about 10,000 ETH on this chain).
                        Hardhat's test accounts and their private keys are public knowledge: they are
                        for this local chain only; never send real funds to them.`);
} else {
  console.log(`  ${b("Use test account #0:")} ${you}
                        It holds 1,000 test USDC and about 10,000 ETH on this chain. Hardhat's test accounts and
                        their private keys are public knowledge: they are for this local chain only.
  ${b("Buy an inference:")}    EDGEPAY_BUYER_KEY=<test key #0> EDGEPAY_RPC_URL=${rpcUrl} \\
                        EDGEPAY_PAYMENT_CHANNELS=${contracts.paymentChannels} \\
                        npm run buyer -- infer --worker ${workerUrl} --model ${vad.modelId} --input speech.wav --deposit 1`);
}
console.log(`  ${b("Chain:")}  ${rpcUrl} (chain id ${deployment.chainId})     ${b("Worker:")} ${workerUrl} (device ${device.device})
  ${b("Models:")} ${models.map((p) => `#${p.modelId} ${p.name}`).join(", ")}
  ${b("Logs:")}   ${rel(LOGS)}/      ${b("Stack:")} ${rel(stackFile())}

  In another terminal: ${b("npm run demo")} runs a fleet of devices and buyers against this stack.
  Ctrl-C (or SIGTERM to this process or to npm) stops everything.`);

// ------------------------------------------------------------------ helpers

/** The Ponder indexer on `port` (PGlite in the state directory), then waits until it has indexed the chain's head. */
function startIndexerPart(port: number): Promise<void> {
  return part("indexer", async () => {
    const t = Date.now();
    step("run", "indexer", `starting Ponder on http://127.0.0.1:${port} (build and database set-up take a while)...`);
    indexer = await startIndexer({
      rpcUrl,
      chainId: deployment.chainId,
      contracts,
      port,
      dataDir: path.join(STATE, "indexer", "pglite"),
      logFile: path.join(LOGS, "indexer.log"),
    });
    watchExit(indexer.child, "the indexer");
    step("ok", "indexer", `serving on ${indexer.url} (pid ${indexer.child.pid}) in ${secs(t)}`);
    await marketReady;
    let shown = 0;
    const caught = await waitCaughtUp(indexer, rpcUrl, {
      timeoutMs: 180_000,
      onProgress: (indexed, head) => {
        if (Date.now() - shown < 2_000) return;
        shown = Date.now();
        step("run", "indexer", `indexed block ${indexed ?? "-"} of ${head}`);
      },
    });
    step("ok", "indexer", `caught up with block ${caught.head} in ${took("indexer", t)}; GraphQL ${indexer.url}/graphql, SQL over HTTP ${indexer.url}/sql`);
  });
}

/** The production build (reused when its inputs did not change), then `next start`, until `/` answers. */
function startDashboard(url: string): Promise<void> {
  dashboardStarted = Date.now();
  return part("dashboard", async () => {
    step("run", "dashboard", "checking the production build (web/ + protocol/ inputs)...");
    let t = Date.now();
    build = ensureWebBuild({
      logFile: path.join(LOGS, "web-build.log"),
      onLine: (line) => {
        // Next prints a handful of phase lines; show them so a first (slow) build visibly progresses.
        if (/Compil|Creating an optimized|Collecting|Generating static|Finalizing|✓/.test(line)) step("run", "dashboard", `build: ${line.trim()}`);
      },
    });
    const r = (await build) as Awaited<ReturnType<typeof ensureWebBuild>>;
    step("ok", "dashboard", r.built ? `built (next build) in ${took("next build", t)}` : `build reused (inputs unchanged) in ${took("web check", t)}`);
    t = Date.now();
    web = spawnNode("dashboard", [NEXT_CLI, "start", "web", "--port", String(webPort), "--hostname", "127.0.0.1"], {
      logFile: path.join(LOGS, "web.log"),
      env: {
        EDGEPAY_RPC_URL: rpcUrl,
        EDGEPAY_DEPLOYMENT: deploymentId,
        EDGEPAY_CHAIN_ID: String(deployment.chainId),
        // Explicit addresses: the build's generated module may predate this deployment.
        EDGEPAY_TOKEN: contracts.token,
        EDGEPAY_MODEL_REGISTRY: contracts.modelRegistry,
        EDGEPAY_DEVICE_REGISTRY: contracts.deviceRegistry,
        EDGEPAY_PAYMENT_CHANNELS: contracts.paymentChannels,
        EDGEPAY_WORKERS: workerUrl,
        // The browser reaches the indexer directly (Ponder answers CORS with *), as it reaches the chain's RPC.
        ...(indexerPort ? { EDGEPAY_INDEXER_URL: `http://127.0.0.1:${indexerPort}` } : {}),
        PORT: String(webPort),
      },
    });
    const exited = () => web!.exited() && `next start exited (${web!.exited()}):\n${web!.tail()}`;
    await waitFor(`dashboard on ${url}`, () => httpOk(`${url}/api/config`), 90_000, exited);
    await waitFor(`dashboard on ${url}`, () => httpOk(url, 30_000), 90_000, exited);
    watchExit(web, "the dashboard");
    step("ok", "dashboard", `${url} answers (pid ${web.pid}) in ${took("dashboard", t)}`);
  });
}

async function runNode(name: string, args: string[], logName: string) {
  const child = spawnNode(name, args, { logFile: path.join(LOGS, logName) });
  await new Promise<void>((resolve, reject) =>
    child.process.once("exit", (code, signal) => (code === 0 ? resolve() : reject(new Error(`${name} failed (${signal ?? `exit ${code}`}):\n${child.tail(30)}`)))),
  );
}
