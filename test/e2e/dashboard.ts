// The production dashboard (`next start web`) on a free port, configured for one localnet through the environment
// exactly as an operator would (EDGEPAY_RPC_URL and contract addresses): the build knows nothing of the chain.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { freePort, waitFor } from "../../scripts/lib/chain.ts";
import { ROOT } from "../../scripts/lib/paths.ts";
import type { Localnet } from "../../scripts/lib/localnet.ts";

const NEXT_CLI = path.join(ROOT, "node_modules/next/dist/bin/next");

export interface RunningDashboard {
  url: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** Builds web/ once if no production build exists (npm test builds it before this suite). */
export function ensureBuild() {
  if (existsSync(path.join(ROOT, "web/.next/BUILD_ID"))) return;
  const r = spawnSync(process.execPath, [NEXT_CLI, "build", "web"], { cwd: ROOT, stdio: "inherit", env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1" } });
  if (r.status !== 0) throw new Error("next build web failed");
}

export async function startDashboard(net: Localnet, extraEnv: Record<string, string> = {}): Promise<RunningDashboard> {
  ensureBuild();
  const port = await freePort();
  const d = net.deployment;
  const child = spawn(process.execPath, [NEXT_CLI, "start", "web", "-p", String(port), "-H", "127.0.0.1"], {
    cwd: ROOT,
    env: {
      ...process.env,
      NEXT_TELEMETRY_DISABLED: "1",
      EDGEPAY_RPC_URL: net.chain.url,
      EDGEPAY_CHAIN_ID: String(d.chainId),
      EDGEPAY_TOKEN: d.token,
      EDGEPAY_MODEL_REGISTRY: d.modelRegistry,
      EDGEPAY_DEVICE_REGISTRY: d.deviceRegistry,
      EDGEPAY_PAYMENT_CHANNELS: d.paymentChannels,
      EDGEPAY_FLIGHT_RECORDER: d.flightRecorder,
      ...extraEnv,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (b: Buffer) => (output = (output + b.toString()).slice(-4000)));
  child.stderr!.on("data", (b: Buffer) => (output = (output + b.toString()).slice(-4000)));
  let exited: string | undefined;
  child.once("exit", (code, signal) => (exited = `next start exited (${signal ?? code}): ${output}`));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`dashboard on ${url}`, async () => (await fetch(`${url}/api/config`)).ok, 60_000, () => exited);
  return {
    url,
    process: child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
        setTimeout(() => child.kill("SIGKILL"), 5_000).unref();
      }),
  };
}
