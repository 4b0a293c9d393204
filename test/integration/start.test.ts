// `npm start` as a newcomer, a service manager and a buyer without the dashboard run it: a child process on free
// ports, waited on until it says it is ready.
// - The full stack: each step prints its time; the dashboard answers (/, /api/config); the worker it registered
//   serves a paid inference through the buyer client; SIGTERM to the npm process alone (what a service manager
//   sends) stops everything: the worker claims what it earned first, every process it started is gone and every
//   port is free again.
// - A second start reuses the compiled contracts and the dashboard build (no compile, no `next build` printed, the
//   build outputs untouched), is ready within a generous sanity bound (the real times are measured, not asserted),
//   and SIGKILL of the start process still takes every child down (they watch their parent).
// - `--no-web`: chain, contracts and worker only; a paid inference; SIGTERM to the start process stops everything.
// - SIGKILL of npm alone: the start process notices and stops everything.
// - A taken port is refused with a message naming the holder and the variable to set.
import { expect } from "chai";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { createPublicClient, createWalletClient, http, type Chain } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { hardhat } from "viem/chains";
import { createBuyer } from "../../protocol/client/index.ts";
import { initialVadState, sileroVadInputs } from "../../protocol/client/inputs.ts";
import { HARDHAT_DEV_KEYS } from "../../protocol/dev-keys.ts";
import { freePort, isPortFree, waitFor } from "../../scripts/lib/chain.ts";
import { contractArtifactsFresh, ensureContractArtifacts } from "../../scripts/lib/deploy.ts";
import { ROOT } from "../../scripts/lib/paths.ts";
import { readStack, type StackInfo } from "../../scripts/lib/stack.ts";
import { ensureWebBuild, webBuildFresh, webInputsHash } from "../../scripts/lib/web-build.ts";

interface Run {
  child: ChildProcess;
  output: () => string;
  exit: Promise<number | null>;
}

function npmStart(env: Record<string, string>, args: string[] = []): Run {
  // Its own process group, so the test can clean up everything under npm if an assertion fails midway.
  const child = spawn("npm", ["start", ...(args.length ? ["--", ...args] : [])], {
    cwd: ROOT,
    env: { ...process.env, EDGEPAY_NO_WEB: "", ...env, FORCE_COLOR: "0" },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, output: () => out, exit };
}

/** Running and not a zombie (a child orphaned by SIGKILL stays a zombie until init reaps it). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch {
    return false;
  }
  // Members may be zombies waiting to be reaped; look for a live one.
  try {
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        if (Number(fields[2]) === pgid && fields[0] !== "Z") return true;
      } catch {
        // gone meanwhile
      }
    }
    return false;
  } catch {
    return true;
  }
}

const portsEnv = (ports: Record<string, number>) => Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)]));

async function waitReady(run: Run, env: NodeJS.ProcessEnv): Promise<StackInfo> {
  await waitFor(
    "npm start to be ready",
    async () => /ready in [\d.]+ s/.test(run.output()) && readStack(env) !== undefined,
    840_000,
    () => (run.child.exitCode !== null ? `npm start exited (${run.child.exitCode}):\n${run.output()}` : undefined),
  );
  return readStack(env) as StackInfo;
}

/** Seconds printed in "ready in N s". */
const readySeconds = (out: string) => Number(/ready in ([\d.]+) s/.exec(out)![1]);

/** One paid Silero VAD inference by test account #0 (it holds the test USDC npm start gave it). */
async function paidInference(stack: StackInfo) {
  const chain = { ...hardhat, rpcUrls: { default: { http: [stack.rpcUrl] } } } as Chain;
  const transport = http(stack.rpcUrl);
  const buyer = createBuyer({
    publicClient: createPublicClient({ chain, transport }),
    wallet: createWalletClient({ account: privateKeyToAccount(HARDHAT_DEV_KEYS[0]!), chain, transport }),
    paymentChannels: stack.contracts.paymentChannels,
    autoOpen: { deposit: 10_000n },
  });
  const frame = new Float32Array(512).map((_, i) => 0.2 * Math.sin(i / 5));
  const vad = stack.models.find((mo) => mo.name === "Silero VAD v5")!;
  const result = await buyer.infer(BigInt(vad.modelId), sileroVadInputs(frame, initialVadState()), { workers: [stack.workers[0]!.url] });
  expect(result.price).to.equal(1_000n);
  expect(result.device.toLowerCase()).to.equal(stack.workers[0]!.device.toLowerCase());
  const [receipt] = await buyer.receipts();
  expect(receipt!.verification.valid, JSON.stringify(receipt!.verification)).to.equal(true);
}

/** Every process npm start started (and itself) is gone, their groups too, and every port is free. */
async function expectAllGone(run: Run, stack: StackInfo, ports: Record<string, number>, after: string) {
  const pids = [stack.pid, ...Object.values(stack.pids)];
  const portsFree = async () => (await Promise.all(Object.values(ports).map(isPortFree))).every(Boolean);
  await waitFor("every started process to be gone", async () => !pids.some(alive) && !Object.values(stack.pids).some(groupAlive) && (await portsFree()), 90_000).catch(
    () => undefined,
  );
  expect(pids.filter(alive), `processes still running after ${after}:\n${run.output().slice(-2000)}`).to.deep.equal([]);
  for (const pid of Object.values(stack.pids)) expect(groupAlive(pid), `process group ${pid} after ${after}`).to.equal(false);
  for (const [name, port] of Object.entries(ports)) {
    const holder = () => spawnSync("ss", ["-Htanp", `sport = :${port}`], { encoding: "utf8" }).stdout?.trim();
    expect(await isPortFree(port), `${name} ${port} free again; ss: ${holder()}`).to.equal(true);
  }
}

/** "✓ <part> ... in N.N s" for each part. */
function expectTimedSteps(out: string, parts: string[]) {
  for (const part of parts) expect(out, `time of ${part}`).to.match(new RegExp(`✓ ${part}\\s+.* in \\d+\\.\\d s`));
  expect(out).to.match(/ready in \d+\.\d s/);
  expect(out).to.match(/steps: .*chain \d+\.\d s.*deploy \d+\.\d s/);
}

describe("npm start", function () {
  this.timeout(900_000);
  let state: string;
  let run: Run | undefined;

  beforeEach(() => {
    state = mkdtempSync(path.join(tmpdir(), "edgepay-start-"));
  });
  afterEach(async () => {
    if (run && run.child.exitCode === null && run.child.signalCode === null) {
      try {
        process.kill(-run.child.pid!, "SIGKILL");
      } catch {
        // gone
      }
      await run.exit;
    }
    // Whatever a failed test left running (the children stop by themselves once start is gone, but not at once).
    const stack = readStack({ EDGEPAY_STATE_DIR: state });
    for (const pid of [stack?.pid, ...Object.values(stack?.pids ?? {})]) {
      try {
        if (pid) process.kill(-pid, "SIGKILL");
      } catch {
        // gone
      }
    }
    run = undefined;
    rmSync(state, { recursive: true, force: true });
  });

  it("brings up chain, contracts, worker, indexer and dashboard printing each step's time, serves a paid inference, and SIGTERM to npm alone stops everything after the worker's final claim", async () => {
    const ports = { CHAIN_PORT: await freePort(), WORKER_PORT: await freePort(), WEB_PORT: await freePort(), INDEXER_PORT: await freePort() };
    const inputsBefore = webInputsHash();
    const buildWasFresh = webBuildFresh(inputsBefore);
    const contractsWereFresh = contractArtifactsFresh();
    run = npmStart({ ...portsEnv(ports), EDGEPAY_STATE_DIR: state });
    const env = { EDGEPAY_STATE_DIR: state };
    const stack = await waitReady(run, env);
    const out = run.output();
    expect(out).to.match(/✓ ports/);
    expectTimedSteps(out, ["chain", "contracts", "codegen", "accounts", "worker", "indexer", "dashboard"]);
    expect(out).to.match(/✓ indexer\s+caught up with block \d+/);
    expect(out).to.match(/✓ contracts\s+deployed with Ignition from artifacts\/ .*no compile/);
    expect(out).to.include(contractsWereFresh ? "build reused (sources unchanged)" : "built with hardhat build");
    expect(out).to.match(/✓ dashboard\s+(build reused \(inputs unchanged\)|built \(next build\)) in \d+\.\d s/);
    // Strict only when nobody edited web/ or protocol/ meanwhile.
    if (webInputsHash() === inputsBefore) {
      expect(out).to.include(buildWasFresh ? "build reused (inputs unchanged)" : "built (next build)");
      expect(webBuildFresh(), "the build is stamped as fresh for the next start").to.equal(true);
    }
    expect(contractArtifactsFresh(), "the compiled contracts are stamped as fresh for the next start").to.equal(true);
    const you = privateKeyToAccount(HARDHAT_DEV_KEYS[0]!).address;
    expect(out).to.include(`Use test account #0: ${you}`);
    expect(out).to.match(/private keys are public knowledge/);
    expect(stack.dashboardUrl).to.equal(`http://127.0.0.1:${ports.WEB_PORT}`);
    expect(stack.rpcUrl).to.equal(`http://127.0.0.1:${ports.CHAIN_PORT}`);
    expect(stack.models.map((mo) => mo.name)).to.deep.equal(["Silero VAD v5", "PaddleOCR text direction classifier"]);
    expect(new Set(stack.models.map((mo) => mo.owner)).size, "models from different owners").to.equal(2);
    expect(Object.keys(stack.pids).sort()).to.deep.equal(["chain", "dashboard", "indexer", "worker"]);
    expect(stack.indexerUrl).to.equal(`http://127.0.0.1:${ports.INDEXER_PORT}`);

    // The dashboard: its page and its runtime config pointing at this chain, these contracts and this worker.
    const page = await fetch(stack.dashboardUrl!);
    expect(page.status).to.equal(200);
    expect(await page.text()).to.match(/<html/i);
    const config = (await (await fetch(`${stack.dashboardUrl}/api/config`)).json()) as {
      rpcUrl: string;
      chainId: number;
      contracts: { paymentChannels: string };
      workers: string[];
      indexerUrl?: string;
    };
    // The dashboard's lists come from the indexer, which the browser reaches directly (CORS) and which holds the models.
    expect(config.indexerUrl).to.equal(stack.indexerUrl);
    const gql = await fetch(`${stack.indexerUrl}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: stack.dashboardUrl! },
      body: JSON.stringify({ query: "{ models(orderBy: \"id\", orderDirection: \"asc\") { items { name } } }" }),
    });
    expect(gql.headers.get("access-control-allow-origin")).to.equal("*");
    const indexed = (await gql.json()) as { data: { models: { items: { name: string }[] } } };
    expect(indexed.data.models.items.map((mo) => mo.name)).to.deep.equal(stack.models.map((mo) => mo.name));
    expect(config.rpcUrl).to.equal(stack.rpcUrl);
    expect(config.chainId).to.equal(31337);
    expect(config.contracts.paymentChannels.toLowerCase()).to.equal(stack.contracts.paymentChannels.toLowerCase());
    expect(config.workers).to.deep.equal([`http://127.0.0.1:${ports.WORKER_PORT}`]);

    await paidInference(stack);

    // A service manager stops `npm start` with SIGTERM to the pid it started: npm's, and npm's alone.
    const pids = [stack.pid, ...Object.values(stack.pids)];
    expect(pids.every(alive)).to.equal(true);
    process.kill(run.child.pid!, "SIGTERM");
    await expectAllGone(run, stack, ports, "SIGTERM to npm");
    const tail = run.output().slice(-1500);
    expect(tail).to.match(/✓ dashboard\s+stopped/);
    expect(tail).to.match(/✓ indexer\s+stopped/);
    expect(tail).to.match(/✓ worker\s+stopped/);
    expect(tail).to.match(/✓ chain\s+stopped/);
    // The worker sent its final claim (the one inference was below its claim threshold) before the chain stopped.
    const workerLog = readFileSync(path.join(state, "logs", "worker.log"), "utf8");
    expect(workerLog).to.match(/settler: claimed in 0x[0-9a-f]{64}/);
    expect(existsSync(path.join(state, "stack.json")), "stack.json removed").to.equal(false);
  });

  it("a second start reuses the compiled contracts and the dashboard build (no compile, no next build), and SIGKILL of the start process takes its children down", async () => {
    // What a first start leaves behind (no-ops when it already ran, e.g. in the test above).
    await ensureContractArtifacts();
    await ensureWebBuild();
    const stamp = (file: string) => statSync(path.join(ROOT, file)).mtimeMs;
    const before = { artifacts: stamp("artifacts/contracts/PaymentChannels.sol/PaymentChannels.json"), next: stamp("web/.next/BUILD_ID") };
    const inputsBefore = webInputsHash();

    const ports = { CHAIN_PORT: await freePort(), WORKER_PORT: await freePort(), WEB_PORT: await freePort(), INDEXER_PORT: await freePort() };
    run = npmStart({ ...portsEnv(ports), EDGEPAY_STATE_DIR: state });
    const stack = await waitReady(run, { EDGEPAY_STATE_DIR: state });
    const out = run.output();
    expect(out).to.match(/✓ contracts\s+build reused \(sources unchanged\) in \d+\.\d s/);
    expect(out).to.not.match(/built with hardhat build/);
    expect(out).to.match(/✓ contracts\s+deployed with Ignition from artifacts\/ .*no compile/);
    expect(stamp("artifacts/contracts/PaymentChannels.sol/PaymentChannels.json"), "artifacts/ untouched").to.equal(before.artifacts);
    if (webInputsHash() === inputsBefore) {
      expect(out).to.match(/✓ dashboard\s+build reused \(inputs unchanged\) in \d+\.\d s/);
      expect(out).to.not.match(/built \(next build\)/);
      expect(stamp("web/.next/BUILD_ID"), "web/.next untouched").to.equal(before.next);
    }
    expect(out).to.match(/steps: .*contracts check \d+\.\d s.*web check \d+\.\d s/);
    expect(out).to.not.match(/steps: .*(compile|next build) \d/);
    // A sanity bound only (a busy machine is slow); the start-up time goal is measured and reported, not asserted.
    expect(readySeconds(out)).to.be.lessThan(240);

    // SIGKILL: the start process cannot stop anything; its children notice and stop by themselves.
    const children = Object.values(stack.pids);
    expect(children.every(alive)).to.equal(true);
    process.kill(stack.pid, "SIGKILL");
    await expectAllGone(run, stack, ports, "SIGKILL of the start process");
  });

  it("--no-web --no-indexer starts chain, contracts and worker only, serves a paid inference, and SIGTERM to the start process stops everything", async () => {
    const ports = { CHAIN_PORT: await freePort(), WORKER_PORT: await freePort() };
    const webPort = await freePort();
    const indexerPort = await freePort();
    run = npmStart({ ...portsEnv(ports), WEB_PORT: String(webPort), INDEXER_PORT: String(indexerPort), EDGEPAY_STATE_DIR: state }, ["--no-web", "--no-indexer"]);
    const stack = await waitReady(run, { EDGEPAY_STATE_DIR: state });
    const out = run.output();
    expect(out).to.include("without the dashboard (--no-web)");
    expectTimedSteps(out, ["chain", "contracts", "worker"]);
    expect(out, "no dashboard step").to.not.match(/dashboard\s+(build|checking|http)/);
    expect(out).to.match(/ready in [\d.]+ s \(no dashboard\)/);
    expect(out).to.include(`npm run buyer -- infer --worker http://127.0.0.1:${ports.WORKER_PORT}`);
    expect(stack.dashboardUrl).to.equal(null);
    expect(stack.indexerUrl).to.equal(null);
    expect(out, "no indexer step").to.not.match(/indexer\s+(starting|serving|caught)/);
    expect(Object.keys(stack.pids).sort()).to.deep.equal(["chain", "worker"]);
    expect(await isPortFree(webPort), "nothing on WEB_PORT").to.equal(true);
    expect(await isPortFree(indexerPort), "nothing on INDEXER_PORT").to.equal(true);

    await paidInference(stack);

    process.kill(stack.pid, "SIGTERM");
    await expectAllGone(run, stack, ports, "SIGTERM to the start process");
    expect(await run.exit).to.equal(143);
    expect(run.output().slice(-800)).to.match(/✓ chain\s+stopped/);
  });

  it("SIGKILL of npm alone (the shell under it survives) still stops everything: the start process watches npm", async () => {
    const ports = { CHAIN_PORT: await freePort(), WORKER_PORT: await freePort() };
    run = npmStart({ ...portsEnv(ports), EDGEPAY_STATE_DIR: state }, ["--no-web", "--no-indexer"]);
    const stack = await waitReady(run, { EDGEPAY_STATE_DIR: state });
    process.kill(run.child.pid!, "SIGKILL");
    await expectAllGone(run, stack, ports, "SIGKILL of npm");
    expect(run.output()).to.match(/npm \(or whatever started npm start\) is gone: shutting down/);
    expect(run.output().slice(-800)).to.match(/✓ worker\s+stopped[\s\S]*✓ chain\s+stopped/);
  });

  it("refuses a taken port, naming what holds it and the variable to set", async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const taken = (blocker.address() as net.AddressInfo).port;
    try {
      run = npmStart({ CHAIN_PORT: String(await freePort()), WORKER_PORT: String(taken), WEB_PORT: String(await freePort()), INDEXER_PORT: String(await freePort()), EDGEPAY_STATE_DIR: state });
      const code = await run.exit;
      const out = run.output();
      expect(code).to.equal(1);
      expect(out).to.include(`port ${taken} for the worker is taken by pid ${process.pid}`);
      expect(out).to.match(new RegExp(`WORKER_PORT=\\d+ npm start`));
      expect(out, "nothing was started").to.not.match(/✓ chain/);
    } finally {
      blocker.close();
    }
  });
});
