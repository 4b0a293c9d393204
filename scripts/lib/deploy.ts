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
  flightRecorder: `0x${string}`;
}

/** Ignition parameters of ignition/modules/core.ts (defaults there). */
export interface DeployParameters {
  minStake?: bigint;
  unbondingDelay?: bigint;
  challengePeriod?: bigint;
  /** Receives the part of a slashed stake that does not go to the reporter (default: the deployer). */
  treasury?: `0x${string}`;
  /** Share of a device's stake a proven dispute takes, basis points (default 10,000). */
  slashBps?: bigint;
  /** Share of the slashed stake paid to the reporter or challenger, basis points (default 2,000). */
  reporterBps?: bigint;
  /** Seconds a device has to answer an omission challenge (default 1 day); must be below unbondingDelay. */
  answerWindow?: bigint;
  /** Bond of an omission challenge in stake-token units (default 1,000,000). */
  challengeBond?: bigint;
}

const DEFAULT_UNBONDING_DELAY = 7n * 24n * 3600n;
const DEFAULT_ANSWER_WINDOW = 24n * 3600n;

/** Refuses parameters FlightRecorder's constructor would revert on, before Ignition starts (clearer message). */
export function checkDeployParameters(p: DeployParameters) {
  const unbonding = p.unbondingDelay ?? DEFAULT_UNBONDING_DELAY;
  const window = p.answerWindow ?? DEFAULT_ANSWER_WINDOW;
  if (window <= 0n || window >= unbonding) {
    throw new Error(
      `answerWindow ${window} s must be positive and shorter than unbondingDelay ${unbonding} s (a device could otherwise withdraw its stake before an omission challenge is enforced); set answerWindow too`,
    );
  }
  // PaymentChannels.MIN_CHALLENGE_PERIOD / MAX_CHALLENGE_PERIOD (ChallengePeriodOutOfRange).
  const period = p.challengePeriod;
  if (period !== undefined && (period < 60n || period > 30n * 24n * 3600n)) {
    throw new Error(`challengePeriod ${period} s is outside 60 s .. 30 days (PaymentChannels refuses it)`);
  }
  for (const key of ["slashBps", "reporterBps"] as const) {
    const v = p[key];
    if (v !== undefined && (v < 0n || v > 10_000n || (key === "slashBps" && v === 0n))) throw new Error(`${key} ${v} is outside 1..10000 basis points`);
  }
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
  checkDeployParameters(parameters);
  const core: Record<string, string> = {};
  // Ignition reads bigints as "<digits>n"; addresses stay plain strings.
  for (const [k, v] of Object.entries(parameters)) if (v !== undefined) core[k] = typeof v === "bigint" ? `${v}n` : v;
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
    flightRecorder: pick("FlightRecorder"),
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
