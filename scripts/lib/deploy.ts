import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { HARDHAT_CLI, ROOT } from "./paths.ts";

export interface LocalDeployment {
  chainId: number;
  token: `0x${string}`;
  modelRegistry: `0x${string}`;
  deviceRegistry: `0x${string}`;
  paymentChannels: `0x${string}`;
}

export interface DeployParameters {
  minStake?: bigint;
  unbondingDelay?: bigint;
  challengePeriod?: bigint;
}

/**
 * Deploys the local module (TestUSDC + marketplace) with Hardhat Ignition to the chain at `rpcPort`.
 * `deploymentId` keeps separate chains' journals apart; `--reset` because a local chain restarts empty.
 */
export async function deployLocal(options: {
  rpcPort: number;
  deploymentId: string;
  parameters?: DeployParameters;
  log?: (line: string) => void;
}): Promise<LocalDeployment> {
  const { rpcPort, deploymentId, parameters = {} } = options;
  const dir = await mkdtemp(path.join(tmpdir(), "edgepay-params-"));
  const paramsFile = path.join(dir, "params.json");
  const core: Record<string, string> = {};
  for (const [k, v] of Object.entries(parameters)) if (v !== undefined) core[k] = `${v}n`;
  await writeFile(paramsFile, JSON.stringify({ EdgepayLocal: core }));
  try {
    await run(
      [
        HARDHAT_CLI,
        "ignition",
        "deploy",
        "ignition/modules/EdgepayLocal.ts",
        "--network",
        "localhost",
        "--deployment-id",
        deploymentId,
        "--reset",
        "--parameters",
        paramsFile,
      ],
      { CHAIN_PORT: String(rpcPort) },
      options.log,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return readDeployment(deploymentId);
}

/** Reads Ignition's record of a deployment (addresses and chain id). */
export async function readDeployment(deploymentId: string): Promise<LocalDeployment> {
  const dir = path.join(ROOT, "ignition/deployments", deploymentId);
  const addresses = JSON.parse(await readFile(path.join(dir, "deployed_addresses.json"), "utf8")) as Record<string, `0x${string}`>;
  const chainId = journalChainId(await readFile(path.join(dir, "journal.jsonl"), "utf8"));
  const pick = (name: string) => {
    const address = addresses[`EdgepayLocal#${name}`];
    if (!address) throw new Error(`deployment ${deploymentId} has no ${name}; run npm run deploy:local`);
    return address;
  };
  return {
    chainId,
    token: pick("TestUSDC"),
    modelRegistry: pick("ModelRegistry"),
    deviceRegistry: pick("DeviceRegistry"),
    paymentChannels: pick("PaymentChannels"),
  };
}

/** Chain id recorded by Ignition's DEPLOYMENT_INITIALIZE entry of a journal. */
export function journalChainId(journal: string): number {
  for (const line of journal.split("\n")) {
    if (!line.trim()) continue;
    const entry = JSON.parse(line) as { type?: string; chainId?: number };
    if (entry.type === "DEPLOYMENT_INITIALIZE" && entry.chainId !== undefined) return Number(entry.chainId);
  }
  throw new Error("Ignition journal has no DEPLOYMENT_INITIALIZE entry");
}

/** Removes a deployment journal (tests clean up after themselves). */
export async function forgetDeployment(deploymentId: string) {
  await rm(path.join(ROOT, "ignition/deployments", deploymentId), { recursive: true, force: true });
}

function run(args: string[], env: Record<string, string>, log?: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: { ...process.env, ...env, HARDHAT_DISABLE_TELEMETRY: "true", CI: "true" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const onData = (d: Buffer) => {
      output += d.toString();
      if (log) for (const line of d.toString().split("\n")) if (line.trim()) log(line);
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.once("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`hardhat ${args.slice(1, 3).join(" ")} failed (exit ${code}):\n${output.slice(-3000)}`)),
    );
  });
}
