// A ready market on a localnet for worker/buyer integration tests: models published with a royalty and a license
// fee (test key 1 = model owner), a device registered with stake, licensed and offering them (test key 2 = provider),
// the device key funded with ETH for its claims, a config file, and (unless `start: false`) a running worker.
// Buyers are test keys 3..9: `openChannel` funds one and opens a channel; `voucherHeader`/`macHeader` pay.
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { decodeEventLog, type Address, type Hex, type LocalAccount } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { modelRegistryAbi, paymentChannelsAbi, testUsdcAbi } from "../../protocol/generated/contracts.ts";
import { bodyHash, inferPath, publicKeyOf, requestMac, sessionKey } from "../../protocol/session.ts";
import { channelIdOf, type ChannelTerms } from "../../protocol/terms.ts";
import { decodeVoucherHeader, encodeVoucherHeader, signVoucher, VOUCHER_HEADER } from "../../protocol/voucher.ts";
import { BODY_HASH_HEADER, MAC_HEADER } from "../../protocol/session.ts";
import type { TensorMapWire } from "../../protocol/tensors.ts";
import { createKeystore } from "../../worker/keystore.ts";
import { PPOCR_DIRECTION_CLS, SILERO_VAD_V5 } from "../../worker/models/demo.ts";
import { registerDevice } from "../../worker/register.ts";
import { startWorker, type RunningWorker, type StartOptions } from "../../worker/service.ts";
import type { WorkerConfig } from "../../worker/config.ts";
import { ROOT } from "./paths.ts";
import { clientsFor, TEST_KEYS, type Localnet } from "./localnet.ts";

export const MODEL_OWNER_INDEX = 1;
export const PROVIDER_INDEX = 2;

export interface MarketModelOptions {
  file: string;
  name?: string;
  /** Price per inference in token units (default 1,000 = 0.001 USDC). */
  price?: bigint;
  /** Royalty in basis points (default 1,000 = 10%). */
  royaltyBps?: number;
  /** One-time license fee (default 2 USDC). */
  licenseFee?: bigint;
}

export interface MarketOptions {
  /** Models to publish and offer (default: Silero VAD v5). */
  models?: MarketModelOptions[];
  /** Start a worker in this process (default true). */
  start?: boolean;
  /** Config overrides merged into the generated worker config. */
  config?: Partial<WorkerConfig>;
  startOptions?: StartOptions;
  /** ETH sent to the device key for claims (default "1"). */
  fundEth?: string;
  /**
   * Offer these already published models (another market's `models`) instead of publishing new ones: a second
   * device serving the same model ids (same provider, licensed once), e.g. a verifier or a rogue twin.
   */
  reuseModels?: MarketModel[];
  /** Test key of the device owner (default PROVIDER_INDEX); devices of other owners can judge each other in disputes. */
  providerIndex?: number;
}

export interface MarketModel {
  modelId: bigint;
  file: string;
  name: string;
  hash: Hex;
  price: bigint;
  royaltyBps: number;
  licenseFee: bigint;
}

export interface Market {
  net: Localnet;
  chainId: number;
  contracts: { paymentChannels: Address; deviceRegistry: Address; modelRegistry: Address; token: Address; flightRecorder: Address; answerDisputes?: Address };
  token: Address;
  modelOwner: Address;
  provider: Address;
  device: { address: Address; privateKey: Hex };
  models: MarketModel[];
  /** Temporary root holding `data/` (keystore, SQLite) and `worker.json`. */
  root: string;
  dataDir: string;
  configFile: string;
  config: WorkerConfig;
  worker: RunningWorker | undefined;
  /** Starts (or restarts) the in-process worker on the same data directory. */
  startWorker(overrides?: Partial<WorkerConfig>): Promise<RunningWorker>;
  /** Stops the worker (graceful) if running and removes the temporary files. */
  stop(): Promise<void>;
}

export function sha256OfFile(file: string): Hex {
  return `0x${createHash("sha256").update(readFileSync(file)).digest("hex")}`;
}

export async function setupMarket(net: Localnet, options: MarketOptions = {}): Promise<Market> {
  const { deployment } = net;
  const contracts = {
    paymentChannels: deployment.paymentChannels,
    deviceRegistry: deployment.deviceRegistry,
    modelRegistry: deployment.modelRegistry,
    token: deployment.token,
    flightRecorder: deployment.flightRecorder,
    ...(deployment.answerDisputes ? { answerDisputes: deployment.answerDisputes } : {}),
  };
  const owner = clientsFor(net, MODEL_OWNER_INDEX);
  const providerIndex = options.providerIndex ?? PROVIDER_INDEX;
  const provider = clientsFor(net, providerIndex);
  const wait = async (hash: Promise<Hex>) => {
    const receipt = await owner.publicClient.waitForTransactionReceipt({ hash: await hash });
    if (receipt.status !== "success") throw new Error(`transaction ${receipt.transactionHash} reverted`);
    return receipt;
  };

  // The provider needs tokens for license fees and stake.
  await wait(provider.walletClient.writeContract({ address: contracts.token, abi: testUsdcAbi, functionName: "faucet", args: [provider.account.address, 1_000_000_000n] }));

  const specs = options.reuseModels ? [] : (options.models ?? [{ file: SILERO_VAD_V5, name: "Silero VAD v5" }]);
  const models: MarketModel[] = options.reuseModels ? [...options.reuseModels] : [];
  for (const spec of specs) {
    const hash = sha256OfFile(spec.file);
    const name = spec.name ?? path.basename(spec.file, ".onnx");
    const royaltyBps = spec.royaltyBps ?? 1_000;
    const licenseFee = spec.licenseFee ?? 2_000_000n;
    const receipt = await wait(
      owner.walletClient.writeContract({
        address: contracts.modelRegistry,
        abi: modelRegistryAbi,
        functionName: "publish",
        args: [{ name, contentHash: hash, uri: `file://${spec.file}`, royaltyBps, licenseToken: contracts.token, licenseFee }],
      }),
    );
    let modelId: bigint | undefined;
    for (const log of receipt.logs) {
      try {
        const ev = decodeEventLog({ abi: modelRegistryAbi, data: log.data, topics: log.topics });
        if (ev.eventName === "ModelPublished") modelId = ev.args.modelId;
      } catch {
        // other contracts' logs
      }
    }
    if (modelId === undefined) throw new Error("ModelPublished not emitted");
    models.push({ modelId, file: spec.file, name, hash, price: spec.price ?? 1_000n, royaltyBps, licenseFee });
  }

  const root = mkdtempSync(path.join(tmpdir(), "edgepay-worker-"));
  const dataDir = path.join(root, "data");
  const key = createKeystore(dataDir);
  await registerDevice({
    rpcUrl: net.chain.url,
    contracts,
    ownerKey: TEST_KEYS[providerIndex]!,
    devicePrivateKey: key.privateKey,
    endpoint: "http://127.0.0.1:0",
    models: models.map((m) => ({ modelId: m.modelId, price: m.price })),
    fundEth: options.fundEth ?? "1",
  });

  const config: WorkerConfig = {
    dataDir,
    rpcUrl: net.chain.url,
    contracts,
    host: "127.0.0.1",
    port: 0,
    models: models.map((m) => ({ modelId: m.modelId.toString(), file: m.file, name: m.name })),
    settlement: { claimThreshold: "1000000000", maxAgeSeconds: 3600, closeSafetySeconds: 30, minBatch: 1, pollIntervalMs: 200 },
    logLevel: "error",
    ...options.config,
  };
  const configFile = path.join(root, "worker.json");
  writeFileSync(configFile, JSON.stringify(config, null, 2));

  const market: Market = {
    net,
    chainId: deployment.chainId,
    contracts,
    token: contracts.token,
    modelOwner: owner.account.address,
    provider: provider.account.address,
    device: { address: key.address, privateKey: key.privateKey },
    models,
    root,
    dataDir,
    configFile,
    config,
    worker: undefined,
    async startWorker(overrides = {}) {
      if (market.worker) throw new Error("worker already running");
      market.worker = await startWorker({ ...config, ...overrides }, options.startOptions);
      return market.worker;
    },
    async stop() {
      const w = market.worker;
      market.worker = undefined;
      if (w) await w.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
  if (options.start !== false) await market.startWorker();
  return market;
}

export interface TestChannel {
  id: Hex;
  terms: ChannelTerms;
  /** The voucher signer (a fresh session key). */
  signer: LocalAccount & { privateKey: Hex };
  payer: Address;
  deposit: bigint;
}

/** Funds test key `buyer` (3..9), approves and opens a channel to the market's device with a fresh session signer. */
export async function openChannel(
  market: Market,
  args: { buyer: number; modelId?: bigint; deposit: bigint; salt?: bigint; signer?: Hex },
): Promise<TestChannel> {
  const buyer = clientsFor(market.net, args.buyer);
  const model = args.modelId === undefined ? market.models[0]! : market.models.find((m) => m.modelId === args.modelId)!;
  const signerKey = args.signer ?? generatePrivateKey();
  const signer = Object.assign(privateKeyToAccount(signerKey), { privateKey: signerKey });
  const terms: ChannelTerms = {
    payer: buyer.account.address,
    signer: signer.address,
    device: market.device.address,
    payee: market.provider,
    token: market.token,
    modelId: model.modelId,
    price: model.price,
    royaltyBps: model.royaltyBps,
    salt: args.salt ?? BigInt(Date.now()) * 1000n + BigInt(Math.floor(Math.random() * 1000)),
  };
  const wait = async (hash: Promise<Hex>) => {
    const r = await buyer.publicClient.waitForTransactionReceipt({ hash: await hash });
    if (r.status !== "success") throw new Error(`transaction ${r.transactionHash} reverted`);
  };
  await wait(buyer.walletClient.writeContract({ address: market.token, abi: testUsdcAbi, functionName: "faucet", args: [buyer.account.address, args.deposit] }));
  await wait(buyer.walletClient.writeContract({ address: market.token, abi: testUsdcAbi, functionName: "approve", args: [market.contracts.paymentChannels, args.deposit] }));
  await wait(buyer.walletClient.writeContract({ address: market.contracts.paymentChannels, abi: paymentChannelsAbi, functionName: "open", args: [terms, args.deposit] }));
  return { id: channelIdOf(terms), terms, signer, payer: buyer.account.address, deposit: args.deposit };
}

/** `x-edgepay-voucher` value for `amount` on `channel` (signed by its session signer). */
export async function voucherHeader(market: Market, channel: TestChannel, amount: bigint, chainId = market.chainId): Promise<string> {
  const v = await signVoucher(channel.signer, { chainId, paymentChannels: market.contracts.paymentChannels, channelId: channel.id, cumulativeAmount: amount });
  return encodeVoucherHeader(v);
}

/**
 * `x-edgepay-mac` value of a request carrying voucher `header` and exactly `body` (session key from the channel's
 * signer and the device's public key). Default route: POST /v1/infer/<the channel's model>.
 */
export function macHeader(market: Market, channel: TestChannel, header: string, body: string | Uint8Array, args: { path?: string; modelId?: bigint } = {}): string {
  const v = decodeVoucherHeader(header);
  if (!v) throw new Error(`not a voucher header: ${header}`);
  const modelId = args.modelId ?? channel.terms.modelId;
  return requestMac(sessionKey(channel.signer.privateKey, publicKeyOf(market.device.privateKey), channel.id), {
    chainId: market.chainId,
    paymentChannels: market.contracts.paymentChannels,
    channelId: v.channelId,
    cumulativeAmount: v.cumulativeAmount,
    signature: v.signature,
    modelId,
    method: "POST",
    path: args.path ?? inferPath(modelId),
    bodyHash: bodyHash(body),
  });
}

/** Voucher and MAC headers of a paid request for `amount` with exactly `body` (see macHeader). */
export async function paidHeaders(
  market: Market,
  channel: TestChannel,
  amount: bigint,
  body: string | Uint8Array,
  args: { path?: string; modelId?: bigint; chainId?: number } = {},
): Promise<Record<string, string>> {
  const header = await voucherHeader(market, channel, amount, args.chainId);
  return { [VOUCHER_HEADER]: header, [MAC_HEADER]: macHeader(market, channel, header, body, args), [BODY_HASH_HEADER]: bodyHash(body) };
}

/** Valid Silero VAD v5 inputs: 512 samples of a 440 Hz tone, zero state, 16 kHz. */
export function vadInputs(seed = 0): TensorMapWire {
  const input = Array.from({ length: 512 }, (_, i) => Math.round(Math.sin((2 * Math.PI * 440 * (i + seed * 512)) / 16000) * 0.5 * 1e6) / 1e6);
  return {
    input: { type: "float32", dims: [1, 512], data: input },
    state: { type: "float32", dims: [2, 1, 128], data: new Array(256).fill(0) },
    sr: { type: "int64", dims: [], data: ["16000"] },
  };
}

/** Valid inputs of the PaddleOCR direction classifier: one 3x48x192 image of a gradient. */
export function clsInputs(): TensorMapWire {
  const n = 3 * 48 * 192;
  return { x: { type: "float32", dims: [1, 3, 48, 192], data: Array.from({ length: n }, (_, i) => ((i % 192) / 192) * 2 - 1) } };
}

export interface WorkerProcess {
  child: ChildProcess;
  url: string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  /** The signal that ended it, once exited (diagnostics). */
  signal(): NodeJS.Signals | null;
  /** The last 4 kB of its stderr (diagnostics). */
  stderr(): string;
}

/** Runs `worker/cli.ts serve --config <file>` as a child process; resolves once it prints its listening line. */
export function spawnWorker(configFile: string, env: NodeJS.ProcessEnv = {}): Promise<WorkerProcess> {
  const child = spawn(process.execPath, [path.join(ROOT, "worker/cli.ts"), "serve", "--config", configFile], {
    cwd: ROOT,
    env: { ...process.env, EDGEPAY_LOG_LEVEL: "error", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  let signal: NodeJS.Signals | null = null;
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code, sig) => {
      signal = sig;
      resolve(code);
    }),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`worker did not start within 60 s: ${stderr}`));
    }, 60_000);
    createInterface({ input: child.stdout! }).on("line", (line) => {
      try {
        const msg = JSON.parse(line) as { event?: string; url?: string };
        if (msg.event === "listening" && msg.url) {
          clearTimeout(timer);
          resolve({ child, url: msg.url, exited, signal: () => signal, stderr: () => stderr });
        }
      } catch {
        // not a JSON line
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`worker exited (${code}) before listening: ${stderr}`));
    });
  });
}

export { PPOCR_DIRECTION_CLS, SILERO_VAD_V5 };
