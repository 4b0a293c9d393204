// `npm start` as a newcomer runs it: a child process on free ports, waited on until it says it is ready; the
// dashboard answers (/, /api/config), the worker it registered serves a paid inference through the buyer client,
// and Ctrl-C (SIGINT to its process group, as a terminal sends it) leaves nothing running: every process it started
// is gone and every port is free again. Also: a taken port is refused with a message naming the holder and the
// variable to set.
import { expect } from "chai";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { createPublicClient, createWalletClient, http, type Chain } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { hardhat } from "viem/chains";
import { createBuyer } from "../../protocol/client/index.ts";
import { initialVadState, sileroVadInputs } from "../../protocol/client/inputs.ts";
import { freePort, isPortFree, waitFor } from "../../scripts/lib/chain.ts";
import { ROOT } from "../../scripts/lib/paths.ts";
import { readStack, type StackInfo } from "../../scripts/lib/stack.ts";
import { webBuildFresh, webInputsHash } from "../../scripts/lib/web-build.ts";
import { HARDHAT_DEV_KEYS } from "../../protocol/dev-keys.ts";

interface Run {
  child: ChildProcess;
  output: () => string;
  exit: Promise<number | null>;
}

function npmStart(env: Record<string, string>): Run {
  // Its own process group, so the test can send SIGINT to npm and everything under it, like a terminal's Ctrl-C.
  const child = spawn("npm", ["start"], { cwd: ROOT, env: { ...process.env, ...env, FORCE_COLOR: "0" }, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, output: () => out, exit };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("npm start", function () {
  this.timeout(600_000);
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
    run = undefined;
    rmSync(state, { recursive: true, force: true });
  });

  it("brings up chain, worker and dashboard, serves a paid inference, and Ctrl-C leaves nothing running", async () => {
    const ports = { CHAIN_PORT: await freePort(), WORKER_PORT: await freePort(), WEB_PORT: await freePort() };
    const inputsBefore = webInputsHash();
    const buildWasFresh = webBuildFresh(inputsBefore);
    run = npmStart({ ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])), EDGEPAY_STATE_DIR: state });
    const env = { EDGEPAY_STATE_DIR: state };
    await waitFor(
      "npm start to be ready",
      async () => /ready in [\d.]+ s/.test(run!.output()) && readStack(env) !== undefined,
      540_000,
      () => (run!.child.exitCode !== null ? `npm start exited (${run!.child.exitCode}):\n${run!.output()}` : undefined),
    );
    const stack = readStack(env) as StackInfo;
    const out = run.output();
    for (const part of ["ports", "chain", "contracts", "models", "worker", "dashboard"]) expect(out, `progress of ${part}`).to.match(new RegExp(`✓ ${part}`));
    expect(out).to.match(/✓ dashboard\s+(build reused \(inputs unchanged\)|built in \d+ s)/);
    // Strict only when nobody edited web/ or protocol/ meanwhile (several people share a checkout).
    if (webInputsHash() === inputsBefore) {
      expect(out).to.include(buildWasFresh ? "build reused (inputs unchanged)" : "built in");
      expect(webBuildFresh(), "the build is stamped as fresh for the next start").to.equal(true);
    }
    const you = privateKeyToAccount(HARDHAT_DEV_KEYS[0]!).address;
    expect(out).to.include(`Use test account #0: ${you}`);
    expect(out).to.match(/private keys are public knowledge/);
    expect(stack.dashboardUrl).to.equal(`http://127.0.0.1:${ports.WEB_PORT}`);
    expect(stack.rpcUrl).to.equal(`http://127.0.0.1:${ports.CHAIN_PORT}`);
    expect(stack.models.map((mo) => mo.name)).to.deep.equal(["Silero VAD v5", "PaddleOCR text direction classifier"]);
    expect(new Set(stack.models.map((mo) => mo.owner)).size, "models from different owners").to.equal(2);

    // The dashboard: its page and its runtime config pointing at this chain, these contracts and this worker.
    const page = await fetch(stack.dashboardUrl!);
    expect(page.status).to.equal(200);
    expect(await page.text()).to.match(/<html/i);
    const config = (await (await fetch(`${stack.dashboardUrl}/api/config`)).json()) as { rpcUrl: string; chainId: number; contracts: { paymentChannels: string }; workers: string[] };
    expect(config.rpcUrl).to.equal(stack.rpcUrl);
    expect(config.chainId).to.equal(31337);
    expect(config.contracts.paymentChannels.toLowerCase()).to.equal(stack.contracts.paymentChannels.toLowerCase());
    expect(config.workers).to.deep.equal([`http://127.0.0.1:${ports.WORKER_PORT}`]);

    // A paid inference by the advertised test account (it holds the test USDC npm start gave it).
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

    // Ctrl-C: SIGINT to the whole foreground group (npm and the start script).
    const pids = [stack.pid, ...Object.values(stack.pids)];
    expect(pids.every(alive)).to.equal(true);
    process.kill(-run.child.pid!, "SIGINT");
    await waitFor("every started process to be gone", async () => !pids.some(alive), 90_000).catch(() => undefined);
    expect(pids.filter(alive), `processes still running after Ctrl-C:\n${run.output().slice(-2000)}`).to.deep.equal([]);
    await run.exit;
    const tail = run.output().slice(-1500);
    expect(tail).to.match(/✓ dashboard\s+stopped/);
    expect(tail).to.match(/✓ worker\s+stopped/);
    expect(tail).to.match(/✓ chain\s+stopped/);
    for (const pid of Object.values(stack.pids)) {
      expect(() => process.kill(-pid, 0), `process group ${pid}`).to.throw();
    }
    for (const [name, port] of Object.entries(ports)) expect(await isPortFree(port), `${name} ${port} free again`).to.equal(true);
    expect(existsSync(path.join(state, "stack.json")), "stack.json removed").to.equal(false);
  });

  it("refuses a taken port, naming what holds it and the variable to set", async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const taken = (blocker.address() as net.AddressInfo).port;
    try {
      run = npmStart({ CHAIN_PORT: String(await freePort()), WORKER_PORT: String(taken), WEB_PORT: String(await freePort()), EDGEPAY_STATE_DIR: state });
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
