import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { HARDHAT_CLI, ROOT } from "./paths.ts";
import { spawnWatchedNode } from "./processes.ts";

export interface LocalDeployment {
  chainId: number;
  token: `0x${string}`;
  modelRegistry: `0x${string}`;
  deviceRegistry: `0x${string}`;
  paymentChannels: `0x${string}`;
  flightRecorder: `0x${string}`;
  /** Absent from deployments made before AnswerDisputes existed. */
  answerDisputes?: `0x${string}`;
  /** Absent from deployments made before DeviceReputation existed. */
  deviceReputation?: `0x${string}`;
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
  /** AnswerDisputes (ignition/modules/core.ts has the defaults): seats per committee (odd, 1..9). */
  committeeSize?: bigint;
  /** Share of the slashed stake (or of a losing reporter's bond) paid to the majority verifiers, basis points. */
  verifierBps?: bigint;
  /** Share of the verifier bond a member loses for not revealing or voting against the majority, basis points. */
  penaltyBps?: bigint;
  /** Seconds committee members have to commit, then to reveal. */
  voteCommitWindow?: bigint;
  voteRevealWindow?: bigint;
  /** Bonds of a reporter opening a dispute and of a verifier joining a pool, in stake-token units. */
  reporterBond?: bigint;
  verifierBond?: bigint;
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
 * Deploys the local module (TestUSDC + marketplace) with Hardhat Ignition to the chain at `rpcPort`, in this process
 * and from the compiled artifacts in artifacts/ (compiled first only when the contract sources changed, see
 * ensureContractArtifacts). `hardhat ignition deploy` is not used: it rebuilds with the "production" build profile
 * (isolated builds), which flips artifacts/ between profiles with every `hardhat build` and recompiles every contract
 * with the WASM solc on each start (15 s quiet, 40+ s busy). `deploymentId` keeps separate chains' journals apart;
 * the journal is reset because a local chain restarts empty.
 */
export async function deployLocal(options: {
  rpcPort: number;
  deploymentId: string;
  parameters?: DeployParameters;
  log?: (line: string) => void;
  /** Deploy what artifacts/ holds without checking it against the sources (the caller just did). */
  skipBuild?: boolean;
}): Promise<LocalDeployment> {
  const { rpcPort, deploymentId, parameters = {}, log } = options;
  checkDeployParameters(parameters);
  if (!options.skipBuild) await ensureContractArtifacts({ log });
  const { deploy } = await import("@nomicfoundation/ignition-core");
  const { default: ignitionModule } = (await import(pathToFileURL(path.join(ROOT, "ignition/modules/EdgepayLocal.ts")).href)) as { default: Parameters<typeof deploy>[0]["ignitionModule"] };
  const provider = jsonRpcProvider(`http://127.0.0.1:${rpcPort}`);
  const accounts = (await provider.request({ method: "eth_accounts" })) as string[];
  const deploymentDir = path.join(ROOT, "ignition/deployments", deploymentId);
  await rm(deploymentDir, { recursive: true, force: true });
  const core: Record<string, bigint | string> = {};
  for (const [k, v] of Object.entries(parameters)) if (v !== undefined) core[k] = v;
  const result = await deploy({
    // Automine: one confirmation; poll often (the default 1 s interval would dominate a local deploy).
    config: { blockPollingInterval: 50, requiredConfirmations: 1 },
    provider,
    artifactResolver: artifactResolver(),
    deploymentDir,
    ignitionModule,
    deploymentParameters: { EdgepayLocal: core },
    accounts,
  });
  if (result.type !== "SUCCESSFUL_DEPLOYMENT") throw new Error(`Ignition deploy of EdgepayLocal failed (${result.type}):\n${describeFailure(result)}`);
  for (const c of Object.values(result.contracts)) log?.(`${c.id} ${c.address}`);
  return readDeployment(deploymentId);
}

type DeployResult = Awaited<ReturnType<typeof import("@nomicfoundation/ignition-core").deploy>>;

function describeFailure(result: DeployResult): string {
  if (result.type === "SUCCESSFUL_DEPLOYMENT") return "";
  if (result.type === "EXECUTION_ERROR") {
    return [
      ...result.failed.map((f) => `  ${f.futureId}: ${f.error}`),
      ...result.timedOut.map((f) => `  ${f.futureId}: timed out`),
      ...result.held.map((f) => `  ${f.futureId}: held (${f.reason})`),
    ].join("\n");
  }
  return Object.entries(result.errors)
    .map(([future, errors]) => `  ${future}: ${errors.join("; ")}`)
    .join("\n");
}

/** A minimal EIP-1193 provider over JSON-RPC/HTTP; errors keep `code` and `data` (Ignition decodes reverts from them). */
function jsonRpcProvider(url: string) {
  let id = 0;
  return {
    async request({ method, params }: { method: string; params?: readonly unknown[] | object }): Promise<any> {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: ++id, method, params: params ?? [] }),
      });
      const body = (await res.json()) as { result?: unknown; error?: { code: number; message: string; data?: unknown } };
      if (body.error) throw Object.assign(new Error(body.error.message), { code: body.error.code, data: body.error.data });
      return body.result;
    },
  };
}

/** Ignition's view of artifacts/: a contract by its name (unique among the project's contracts). */
function artifactResolver() {
  const byName = new Map<string, string[]>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith(".json") && !entry.name.endsWith(".dbg.json") && dir.endsWith(".sol")) {
        const name = entry.name.slice(0, -".json".length);
        byName.set(name, [...(byName.get(name) ?? []), full]);
      }
    }
  };
  walk(path.join(ROOT, "artifacts/contracts"));
  return {
    async loadArtifact(contractName: string) {
      const files = byName.get(contractName) ?? [];
      if (files.length !== 1) {
        throw new Error(
          files.length ? `contract name ${contractName} is ambiguous in artifacts/: ${files.join(", ")}` : `no artifact for ${contractName} in artifacts/contracts (run npm run build:contracts)`,
        );
      }
      return JSON.parse(await readFile(files[0]!, "utf8"));
    },
    // Build infos are only needed to verify on an explorer; a local deployment does without copying them (MBs).
    async getBuildInfo() {
      return undefined;
    },
  };
}

// ------------------------------------------------------------------ compiled contracts

const CONTRACTS_STAMP = path.join(ROOT, "artifacts/edgepay-contracts-inputs.sha256");
/** Artifacts the local module and codegen need; missing ones force a build whatever the stamp says. */
const REQUIRED_ARTIFACTS = [
  "contracts/ModelRegistry.sol/ModelRegistry.json",
  "contracts/DeviceRegistry.sol/DeviceRegistry.json",
  "contracts/PaymentChannels.sol/PaymentChannels.json",
  "contracts/FlightRecorder.sol/FlightRecorder.json",
  "contracts/token/TestUSDC.sol/TestUSDC.json",
];

function listSources(dir: string, out: string[] = []): string[] {
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) listSources(full, out);
    else if (entry.isFile()) out.push(full);
  }
  return out;
}

/**
 * sha256 over what the compiled contracts depend on: contracts/, the Hardhat config (compiler, settings) and the
 * lockfile (solc and OpenZeppelin versions).
 */
export function contractInputsHash(): string {
  const hash = createHash("sha256");
  for (const file of [...listSources(path.join(ROOT, "contracts")), path.join(ROOT, "hardhat.config.ts"), path.join(ROOT, "package-lock.json")]) {
    if (!existsSync(file)) continue;
    hash.update(path.relative(ROOT, file)).update("\0").update(readFileSync(file)).update("\0");
  }
  return hash.digest("hex");
}

/** Whether artifacts/ holds a build of exactly the current contract sources. */
export function contractArtifactsFresh(inputs = contractInputsHash()): boolean {
  if (!REQUIRED_ARTIFACTS.every((a) => existsSync(path.join(ROOT, "artifacts", a)))) return false;
  return existsSync(CONTRACTS_STAMP) && readFileSync(CONTRACTS_STAMP, "utf8").trim() === inputs;
}

/**
 * Compiles the contracts (`hardhat build --no-tests`, default profile) only when their inputs changed since the
 * last build this made; otherwise nothing runs (not even Hardhat). Returns whether it compiled and how long it took.
 */
export async function ensureContractArtifacts(options: { log?: (line: string) => void } = {}): Promise<{ compiled: boolean; seconds: number }> {
  const started = Date.now();
  const inputs = contractInputsHash();
  if (contractArtifactsFresh(inputs)) return { compiled: false, seconds: 0 };
  await run([HARDHAT_CLI, "build", "--no-tests", "--quiet"], {}, options.log);
  // Stamp what was compiled from; an edit during the build makes the next check compile again.
  writeFileSync(CONTRACTS_STAMP, inputs + "\n");
  return { compiled: true, seconds: (Date.now() - started) / 1000 };
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
    ...(addresses["EdgepayLocal#AnswerDisputes"] ? { answerDisputes: addresses["EdgepayLocal#AnswerDisputes"] } : {}),
    ...(addresses["EdgepayLocal#DeviceReputation"] ? { deviceReputation: addresses["EdgepayLocal#DeviceReputation"] } : {}),
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

/**
 * The stake/payment token of a deployment whose token is a module parameter (ignition/modules/Edgepay.ts: another
 * network's existing ERC-20, so no TestUSDC future records it): DeviceRegistry's first constructor argument.
 */
export function journalStakeToken(journal: string): string | undefined {
  for (const line of journal.split("\n")) {
    if (!line.trim()) continue;
    const entry = JSON.parse(line) as { type?: string; contractName?: string; constructorArgs?: unknown[] };
    if (entry.type === "DEPLOYMENT_EXECUTION_STATE_INITIALIZE" && entry.contractName === "DeviceRegistry") {
      const token = entry.constructorArgs?.[0];
      return typeof token === "string" && /^0x[0-9a-fA-F]{40}$/.test(token) ? token : undefined;
    }
  }
  return undefined;
}

/** Removes a deployment journal (tests clean up after themselves). */
export async function forgetDeployment(deploymentId: string) {
  await rm(path.join(ROOT, "ignition/deployments", deploymentId), { recursive: true, force: true });
}

function run(args: string[], env: Record<string, string>, log?: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawnWatchedNode(args, {
      cwd: ROOT,
      env: { ...process.env, ...env, HARDHAT_DISABLE_TELEMETRY: "true", CI: "true" },
    });
    let output = "";
    const onData = (d: Buffer) => {
      output += d.toString();
      if (log) for (const line of d.toString().split("\n")) if (line.trim()) log(line);
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`hardhat ${args.slice(1, 3).join(" ")} failed (exit ${code}):\n${output.slice(-3000)}`)),
    );
  });
}
