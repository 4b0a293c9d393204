// Worker configuration: a JSON file plus environment overrides, validated with zod. Errors name the bad field.
import { readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import type { Address } from "viem";
import { deployments } from "@edgepay/protocol/generated/contracts";
import { DEMO_MODELS } from "./models/demo.ts";
import { unitRuleWire } from "@edgepay/protocol/units";

const address = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/, "expected a 0x-prefixed 20-byte address")
  .transform((s) => s as Address);

/** Token amounts: a decimal string or a safe integer (JSON), or a bigint (programmatic use). */
const amount = z.union([
  z.bigint().nonnegative(),
  z.number().int().nonnegative().refine(Number.isSafeInteger, "expected a safe integer; use a decimal string").transform(BigInt),
  z.string().regex(/^[0-9]{1,78}$/, "expected a decimal integer string").transform(BigInt),
]);

const modelSchema = z.object({
  // bigint too: `serve` resolves the file, then startWorker resolves the result again.
  modelId: z.union([z.bigint().positive(), z.number().int().positive(), z.string().regex(/^[1-9][0-9]*$/, "expected a model id")]).transform(BigInt),
  file: z.string().min(1, "path of the .onnx file"),
  name: z.string().min(1).optional(),
  /** Price per unit of work the `register` command offers; `serve` always reads the on-chain offering. */
  price: amount.optional(),
  /** Unit rule the model bills by (protocol/units.ts); demo models have one built in. Required for a model with dynamic axes. */
  units: unitRuleWire.optional(),
});

const settlementSchema = z.object({
  /** Claim a channel once its unclaimed, verified value reaches this many token units. */
  claimThreshold: amount.default(1_000_000n),
  /** Claim a channel whose oldest unclaimed voucher is this old, whatever the amount. */
  maxAgeSeconds: z.number().int().positive().default(3600),
  /** Refuse vouchers when a requested close ends sooner than this; the rest of the challenge period is for the claim. */
  closeSafetySeconds: z.number().int().nonnegative().default(120),
  /** Below this many due channels a batch waits for the next round unless a deadline forces it (1 = no waiting). */
  minBatch: z.number().int().positive().default(1),
  /** How often the chain is polled for events and the settler runs. */
  pollIntervalMs: z.number().int().positive().default(1000),
  /** Rebroadcast with a higher fee when a claim is not mined after this long. */
  stuckAfterMs: z.number().int().positive().default(30_000),
  /**
   * Time a claim takes from being sent to being mined. At start the worker refuses to serve unless
   * closeSafetySeconds + claimTimeSeconds fits inside the contract's challengePeriod.
   */
  claimTimeSeconds: z.number().int().positive().default(60),
});

/** The HTTP boundary (worker/http/limits.ts). */
const httpSchema = z.object({
  headersTimeoutMs: z.number().int().min(100).default(10_000),
  requestTimeoutMs: z.number().int().min(100).default(30_000),
  keepAliveTimeoutMs: z.number().int().min(100).default(5_000),
  maxConnections: z.number().int().positive().default(1024),
  maxConnectionsPerClient: z.number().int().positive().default(64),
  unpaidPerClient: z
    .object({ burst: z.number().int().positive().default(60), perSecond: z.number().positive().default(20) })
    .default({ burst: 60, perSecond: 20 }),
  /** Answers to an identical, already paid request that are re-sent from storage (a lost answer); more get 429. */
  maxReplaysPerAnswer: z.number().int().nonnegative().default(3),
  /**
   * Largest body read before the request is authenticated: a paid request that names its body's sha256 in
   * x-edgepay-body-sha256 is authenticated (MAC, first voucher's signature) from its headers and then may send up to
   * maxBodyBytes; one that does not is limited to this, so a stranger never makes the device read a large body.
   */
  maxUnhashedBodyBytes: z.number().int().positive().default(64 << 10),
  /**
   * Refuse clear inference requests (400 sealing_required): inputs and outputs then only travel sealed
   * (protocol/sealed.ts). Off by default so clients that predate sealing keep working.
   */
  requireSealed: z.boolean().default(false),
});

/** The worker's own index of its channels (worker/chain/channel-index.ts). */
const indexSchema = z.object({
  /** Blocks per eth_getLogs request while following or catching up. */
  getLogsRange: z.number().int().positive().default(5_000),
  /** Retries of a failed eth_getLogs range (with backoff) before the poll gives up until the next one. */
  getLogsRetries: z.number().int().nonnegative().default(3),
  /** A voucher for a channel not in the index waits at most this long for the next chain poll before 402 unknown_channel. */
  missWaitMs: z.number().int().nonnegative().default(3_000),
  /**
   * Requests waiting for the next poll at once at most; beyond that an unknown channel is refused at once. Above
   * http.maxConnections by default, so the connection caps bind first and strangers cannot use up the waiting room
   * a buyer who just opened a channel needs.
   */
  maxMissWaiters: z.number().int().nonnegative().default(4096),
});

const recorderSchema = z.object({
  /** Anchor new receipts on their own (plain anchor transaction) when none went out with a claim for this long. */
  anchorIntervalSeconds: z.number().int().positive().default(3600),
  /** Most receipts in one anchored range (the rest go in the next one). */
  maxAnchorReceipts: z.number().int().positive().default(100_000),
  /** Answer omission challenges against this device's logged receipts with their proofs. */
  answerChallenges: z.boolean().default(true),
});

export const workerConfigSchema = z.object({
  /** Keystore and SQLite database live here. */
  dataDir: z.string().min(1),
  rpcUrl: z.string().url(),
  /** Generated deployment to take contract addresses from when `contracts` leaves them out. */
  deploymentId: z.string().default("local"),
  contracts: z
    .object({
      paymentChannels: address.optional(),
      deviceRegistry: address.optional(),
      modelRegistry: address.optional(),
      token: address.optional(),
      flightRecorder: address.optional(),
      /** AnswerDisputes (wrong-answer disputes); needed by `verifier`. */
      answerDisputes: address.optional(),
    })
    .default({}),
  host: z.string().default("127.0.0.1"),
  port: z.number().int().min(0).max(65535).default(0),
  /** The device owner's address: when set, GET /v1/binding serves the device key's DeviceBinding for it (and no other). */
  owner: address.optional(),
  /** URL buyers reach the worker at (registered on-chain); defaults to http://host:port. */
  publicEndpoint: z.string().url().optional(),
  models: z.array(modelSchema).min(1, "at least one model is required"),
  settlement: settlementSchema.default(settlementSchema.parse({})),
  recorder: recorderSchema.default(recorderSchema.parse({})),
  /** Largest request body; 4 MiB carries a batch of 4 OCR images or 64 VAD frames as JSON. */
  maxBodyBytes: z.number().int().positive().default(4 << 20),
  http: httpSchema.default(httpSchema.parse({})),
  index: indexSchema.default(indexSchema.parse({})),
  verification: z
    .object({
      /** Value a channel may carry in MAC-authenticated, not yet ECDSA-verified vouchers; default 4 prices. */
      maxUnverifiedValue: amount.optional(),
      /**
       * Channels that may carry deferred value at once (a device-wide cap: at most this many x maxUnverifiedValue
       * can be served before a signature is checked); beyond it vouchers are ECDSA-recovered inline.
       */
      maxDeferredChannels: z.number().int().nonnegative().default(16),
      /** Verify deferred vouchers in the background after this long. */
      backgroundMs: z.number().int().positive().default(250),
    })
    .default({ backgroundMs: 250, maxDeferredChannels: 16 }),
  /** Requests waiting for a busy channel beyond this get 409 channel_busy. */
  maxQueuePerChannel: z.number().int().nonnegative().default(16),
  /** First block to search for ChannelOpened events (the deployment block on a long chain). */
  fromBlock: amount.default(0n),
  logLevel: z.enum(["silent", "error", "info", "debug"]).default("info"),
  /**
   * When a paid answer may leave. "full" (default): after its voucher, receipt and answer are fsynced (SQLite WAL,
   * synchronous=FULL), so they survive a power cut. "os-buffered": after they are written to the operating system
   * (synchronous=NORMAL), without waiting for the disk: a worker crash loses nothing, but a power cut or kernel crash
   * can lose the last moments of committed requests whose answers were already sent. The device owner bears that:
   * the lost vouchers cannot be claimed (their buyers keep the value), and receipts already handed out may be issued
   * again under the same sequence after the restart, which the flight recorder treats as equivocation. Only for a
   * device with a battery or UPS, or whose owner accepts that risk; docs/performance.md has the measured difference.
   */
  durability: z.enum(["full", "os-buffered"]).default("full"),
  /**
   * x402 `exact`: the EIP-712 name and version of payment tokens that do not report them (no ERC-5267
   * `eip712Domain()`, e.g. Circle's USDC: name "USD Coin" or "USDC", version "2"). Checked at start against the
   * token's `DOMAIN_SEPARATOR()`; a token whose entry does not match is not offered with `exact`.
   */
  exactTokens: z.array(z.object({ token: address, name: z.string().min(1), version: z.string().min(1) })).default([]),
  /**
   * Sit on wrong-answer dispute committees (worker/disputes/): when the device is drawn for a dispute about one of
   * these served models (default: all), the worker re-runs the disputed inputs, then commits and reveals its vote with
   * the device key. The owner joins the model's verifier pool (AnswerDisputes.joinPool, posting the bond; see
   * `worker/cli.ts join-pool`); a served model whose pool the device is not in is named in the log at start.
   */
  verifier: z
    .object({
      models: z.array(z.union([z.number().int().positive(), z.string().regex(/^[1-9][0-9]*$/, "expected a model id")]).transform(BigInt)).optional(),
      /** How often seats and windows are checked (default: settlement.pollIntervalMs). */
      pollIntervalMs: z.number().int().positive().optional(),
    })
    .optional(),
  /** Diagnostics. `timings`: GET /v1/debug/timings serves per-phase request times (benchmarks; off in production). */
  debug: z.object({ timings: z.boolean().default(false) }).default({ timings: false }),
});

/** What a config file or a caller provides. */
export type WorkerConfig = z.input<typeof workerConfigSchema>;

/** Contract addresses, all known. */
export interface Contracts {
  paymentChannels: Address;
  deviceRegistry: Address;
  modelRegistry: Address;
  token: Address;
  /** FlightRecorder (receipt anchors); without it the worker keeps its receipt log but anchors nothing. */
  flightRecorder?: Address;
  /** AnswerDisputes (wrong-answer disputes), for `verifier`. */
  answerDisputes?: Address;
}

/** A validated config with every default applied and contract addresses resolved. */
export type ResolvedConfig = Omit<z.output<typeof workerConfigSchema>, "contracts"> & { contracts: Contracts };

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Validates a config object and resolves contract addresses; throws ConfigError naming the bad field. */
export function resolveConfig(input: unknown, source = "config", base = process.cwd()): ResolvedConfig {
  const parsed = workerConfigSchema.safeParse(input);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`);
    throw new ConfigError(`${source} is invalid:\n${lines.join("\n")}`);
  }
  const c = parsed.data;
  const fallback = deployments.find((d) => d.deploymentId === c.deploymentId);
  const pick = (key: keyof Contracts): Address => {
    const value = c.contracts[key] ?? fallback?.[key];
    if (!value) {
      throw new ConfigError(
        `${source} is invalid:\n  contracts.${key}: missing, and the generated module has no deployment "${c.deploymentId}" ` +
          `(run npm run deploy:local, or set contracts.${key})`,
      );
    }
    return value;
  };
  return {
    ...c,
    dataDir: path.resolve(base, c.dataDir),
    models: c.models.map((m) => ({ ...m, file: resolveModelFile(base, m.file) })),
    contracts: {
      paymentChannels: pick("paymentChannels"),
      deviceRegistry: pick("deviceRegistry"),
      modelRegistry: pick("modelRegistry"),
      token: pick("token"),
      ...flightRecorderOf(c.contracts, fallback, pick("paymentChannels")),
      ...answerDisputesOf(c.contracts, fallback, pick("paymentChannels")),
    },
  };
}

/**
 * The generated deployment's FlightRecorder only belongs with that deployment's PaymentChannels: a config naming
 * other contracts (a test chain) gets none unless it names one.
 */
function flightRecorderOf(
  given: { flightRecorder?: Address },
  fallback: { paymentChannels?: string; flightRecorder?: string } | undefined,
  paymentChannels: Address,
): { flightRecorder?: Address } {
  if (given.flightRecorder) return { flightRecorder: given.flightRecorder };
  if (fallback?.flightRecorder && fallback.paymentChannels?.toLowerCase() === paymentChannels.toLowerCase()) {
    return { flightRecorder: fallback.flightRecorder as Address };
  }
  return {};
}

/** Like flightRecorderOf: the generated deployment's AnswerDisputes only with that deployment's PaymentChannels. */
function answerDisputesOf(
  given: { answerDisputes?: Address },
  fallback: { paymentChannels?: string; answerDisputes?: string } | undefined,
  paymentChannels: Address,
): { answerDisputes?: Address } {
  if (given.answerDisputes) return { answerDisputes: given.answerDisputes };
  if (fallback?.answerDisputes && fallback.paymentChannels?.toLowerCase() === paymentChannels.toLowerCase()) {
    return { answerDisputes: fallback.answerDisputes as Address };
  }
  return {};
}

/** Environment variables that override the file: name -> config path. */
const ENV_OVERRIDES: Record<string, { path: string[]; kind: "string" | "int" }> = {
  EDGEPAY_RPC_URL: { path: ["rpcUrl"], kind: "string" },
  EDGEPAY_HOST: { path: ["host"], kind: "string" },
  EDGEPAY_PORT: { path: ["port"], kind: "int" },
  EDGEPAY_DATA_DIR: { path: ["dataDir"], kind: "string" },
  EDGEPAY_PUBLIC_ENDPOINT: { path: ["publicEndpoint"], kind: "string" },
  EDGEPAY_DEPLOYMENT: { path: ["deploymentId"], kind: "string" },
  EDGEPAY_PAYMENT_CHANNELS: { path: ["contracts", "paymentChannels"], kind: "string" },
  EDGEPAY_DEVICE_REGISTRY: { path: ["contracts", "deviceRegistry"], kind: "string" },
  EDGEPAY_MODEL_REGISTRY: { path: ["contracts", "modelRegistry"], kind: "string" },
  EDGEPAY_TOKEN: { path: ["contracts", "token"], kind: "string" },
  EDGEPAY_FLIGHT_RECORDER: { path: ["contracts", "flightRecorder"], kind: "string" },
  EDGEPAY_ANSWER_DISPUTES: { path: ["contracts", "answerDisputes"], kind: "string" },
  EDGEPAY_LOG_LEVEL: { path: ["logLevel"], kind: "string" },
  EDGEPAY_OWNER: { path: ["owner"], kind: "string" },
};

/**
 * Reads the config file (if any; relative `dataDir` and model files resolve against its directory), applies
 * environment overrides and validates. `file` defaults to $EDGEPAY_CONFIG.
 */
export function loadConfig(file?: string, env: NodeJS.ProcessEnv = process.env): ResolvedConfig {
  const { raw, base, source } = readRawConfig(file, env);
  return resolveConfig(raw, source, base);
}

/** The config file with environment overrides applied, not validated (for commands that need only part of it). */
export function readRawConfig(file?: string, env: NodeJS.ProcessEnv = process.env): { raw: Record<string, unknown>; base: string; source: string } {
  const configFile = file ?? env.EDGEPAY_CONFIG;
  let raw: Record<string, unknown> = {};
  let base = process.cwd();
  if (configFile) {
    let text: string;
    try {
      text = readFileSync(configFile, "utf8");
    } catch (error) {
      throw new ConfigError(`cannot read config file ${configFile}: ${(error as Error).message}`);
    }
    try {
      raw = JSON.parse(text) as Record<string, unknown>;
    } catch (error) {
      throw new ConfigError(`config file ${configFile} is not valid JSON: ${(error as Error).message}`);
    }
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new ConfigError(`config file ${configFile} must hold a JSON object`);
    base = path.dirname(path.resolve(configFile));
  }
  for (const [name, { path: keys, kind }] of Object.entries(ENV_OVERRIDES)) {
    const value = env[name];
    if (value === undefined || value === "") continue;
    let parsed: unknown = value;
    if (kind === "int") {
      if (!/^[0-9]+$/.test(value)) throw new ConfigError(`environment ${name}=${value}: expected an integer`);
      parsed = Number(value);
    }
    setPath(raw, keys, parsed);
  }
  return { raw, base, source: configFile ? `config ${configFile}` : "config" };
}

/** `demo:<name>` names a demo model shipped in node_modules; other paths are relative to the config file. */
export function resolveModelFile(base: string, file: string): string {
  if (file.startsWith("demo:")) {
    const demo = DEMO_MODELS[file.slice(5)];
    if (!demo) throw new ConfigError(`models: unknown demo model "${file}" (known: ${Object.keys(DEMO_MODELS).map((k) => `demo:${k}`).join(", ")})`);
    return demo.file;
  }
  return path.isAbsolute(file) ? file : path.resolve(base, file);
}

function setPath(target: Record<string, unknown>, keys: string[], value: unknown) {
  let node = target;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== "object" || next === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]!] = value;
}
