// Worker CLI: `init` (device key), `register` (owner's on-chain setup, for headless devices), `serve`.
// Usage: npx node worker/cli.ts <init|register|serve> [--config file] [options]; `--help` for details.
import { existsSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { createPublicClient, http, type Address, type Hex } from "viem";
import { deployments } from "@edgepay/protocol/generated/contracts";
import { ConfigError, loadConfig, readRawConfig } from "./config.ts";
import { createKeystore, keystoreAddress, keystorePath, KeystoreError, PASSPHRASE_ENV, PASSPHRASE_FILE, unlockKeystore } from "./keystore.ts";
import { registerDevice, signDeviceBinding } from "./register.ts";
import { joinPools } from "./disputes/join.ts";
import { startWorker } from "./service.ts";
import { secp256k1 } from "./secp256k1-backend.ts";

const HELP = `edgepay worker

  npx node worker/cli.ts init     [--config file | --data-dir dir] [--owner 0xOWNER] [--deadline-seconds 86400]
      Creates the device key (encrypted keystore, mode 0600) in the data directory and prints the device address;
      a data directory that has a key already keeps it (printed again). With --owner (and the chain's RPC URL:
      rpcUrl in the config or $EDGEPAY_RPC_URL; contracts.deviceRegistry or a generated deployment of that chain)
      also prints the EIP-712 DeviceBinding signature and deadline the owner passes to DeviceRegistry.register;
      all of that is checked before a key is created. Passphrase: $${PASSPHRASE_ENV}, else a generated one stored
      beside the key in ${PASSPHRASE_FILE} (0600).

  npx node worker/cli.ts register [--config file] [--price units] [--stake units] [--endpoint url] [--fund-eth 0.05]
      Run by the device owner (private key in $EDGEPAY_OWNER_KEY): takes model licenses (paying fees), registers the
      device with stake (approving first), sets offerings (models[].price or --price), and on a local chain sends
      the device key a little ETH for its claim transactions.

  npx node worker/cli.ts join-pool [--config file]
      Run by the device owner ($EDGEPAY_OWNER_KEY): joins the device to the AnswerDisputes verifier pool of each model
      in verifier.models (default: every served model), approving and posting the verifier bond. A worker with
      \`verifier\` in its config then sits on the committees it is drawn for (re-runs the inputs, votes).

  npx node worker/cli.ts serve    [--config file] [--unpaid-route]
      Runs the worker. SIGINT/SIGTERM stop it gracefully (flush, final claims).

Config: JSON file (--config or $EDGEPAY_CONFIG) with overrides from EDGEPAY_RPC_URL, EDGEPAY_PORT, EDGEPAY_HOST,
EDGEPAY_DATA_DIR, EDGEPAY_PUBLIC_ENDPOINT, EDGEPAY_DEPLOYMENT, EDGEPAY_PAYMENT_CHANNELS, EDGEPAY_DEVICE_REGISTRY,
EDGEPAY_MODEL_REGISTRY, EDGEPAY_TOKEN, EDGEPAY_ANSWER_DISPUTES, EDGEPAY_LOG_LEVEL. See worker/README.md.
`;

class UsageError extends Error {}

async function main(argv: string[]) {
  const [command, ...rest] = argv;
  if (!command || command === "--help" || command === "-h" || command === "help") {
    process.stdout.write(HELP);
    return;
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      config: { type: "string", short: "c" },
      "data-dir": { type: "string" },
      owner: { type: "string" },
      "deadline-seconds": { type: "string" },
      price: { type: "string" },
      stake: { type: "string" },
      endpoint: { type: "string" },
      "fund-eth": { type: "string" },
      "unpaid-route": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  switch (command) {
    case "init":
      return init(values);
    case "register":
      return register(values);
    case "serve":
      return serve(values);
    case "join-pool":
      return joinPool(values);
    default:
      throw new UsageError(`unknown command "${command}" (init, register, join-pool, serve)`);
  }
}

type Flags = Record<string, string | boolean | undefined>;

function str(flags: Flags, name: string): string | undefined {
  const v = flags[name];
  return typeof v === "string" ? v : undefined;
}

function uintFlag(flags: Flags, name: string): bigint | undefined {
  const v = str(flags, name);
  if (v === undefined) return undefined;
  if (!/^[0-9]+$/.test(v)) throw new UsageError(`--${name} must be a whole number of token units, got "${v}"`);
  return BigInt(v);
}

/**
 * `init`: everything the binding needs (owner address, chain, DeviceRegistry) is checked before a key is created, so
 * a mistake leaves nothing behind; a data directory that already holds a key keeps it and prints it (and a fresh
 * binding) again, since a device's address is what its owner registered.
 */
async function init(flags: Flags) {
  const { raw, base } = readRawConfig(str(flags, "config"));
  const dataDirRaw = str(flags, "data-dir") ?? (typeof raw.dataDir === "string" ? raw.dataDir : undefined);
  if (!dataDirRaw) throw new UsageError("init needs a data directory: --data-dir dir, or dataDir in --config / $EDGEPAY_DATA_DIR");
  const dataDir = path.resolve(base, dataDirRaw);
  const owner = str(flags, "owner");
  const seconds = uintFlag(flags, "deadline-seconds") ?? 86_400n;
  const nothingCreated = "nothing was created";
  let chain: { client: ReturnType<typeof createPublicClient>; rpcUrl: string; chainId: number; deviceRegistry: Address } | undefined;
  if (owner !== undefined) {
    if (!/^0x[0-9a-fA-F]{40}$/.test(owner)) throw new UsageError(`--owner must be the owner's address (0x + 40 hex digits), got "${owner}"; ${nothingCreated}`);
    if (seconds === 0n) throw new UsageError(`--deadline-seconds must be at least 1; ${nothingCreated}`);
    const rpcUrl = typeof raw.rpcUrl === "string" ? raw.rpcUrl : undefined;
    if (!rpcUrl) {
      throw new UsageError(
        `--owner signs a binding for one chain, so init needs its RPC URL: set EDGEPAY_RPC_URL=http://host:8545 (or rpcUrl in the --config file) and run init again; ${nothingCreated}. ` +
          `Without --owner, init only creates the key.`,
      );
    }
    const client = createPublicClient({ transport: http(rpcUrl, { retryCount: 0, timeout: 10_000 }) });
    let chainId: number;
    try {
      chainId = await client.getChainId();
    } catch (error) {
      throw new UsageError(`cannot reach the chain at ${rpcUrl} (${(error as Error).message.split("\n")[0]}): start it or fix EDGEPAY_RPC_URL / rpcUrl, then run init again; ${nothingCreated}`);
    }
    const contracts = (raw.contracts ?? {}) as Record<string, string | undefined>;
    const deploymentId = typeof raw.deploymentId === "string" ? raw.deploymentId : "local";
    const generated = deployments.find((d) => d.deploymentId === deploymentId && d.chainId === chainId);
    const deviceRegistry = (contracts.deviceRegistry ?? generated?.deviceRegistry) as Address | undefined;
    if (!deviceRegistry) {
      throw new UsageError(
        `init does not know the DeviceRegistry on chain ${chainId}: set EDGEPAY_DEVICE_REGISTRY=0x... (or contracts.deviceRegistry in the config), ` +
          `or EDGEPAY_DEPLOYMENT to a deployment of this chain; ${nothingCreated}`,
      );
    }
    if (!/^0x[0-9a-fA-F]{40}$/.test(deviceRegistry)) throw new UsageError(`contracts.deviceRegistry must be an address, got "${deviceRegistry}"; ${nothingCreated}`);
    const code = await client.getCode({ address: deviceRegistry });
    if (!code || code === "0x") {
      throw new UsageError(
        `no contract at ${deviceRegistry} on chain ${chainId} (${rpcUrl}): check EDGEPAY_DEVICE_REGISTRY / contracts.deviceRegistry, or deploy the contracts (npm run deploy:local on a local chain); ${nothingCreated}`,
      );
    }
    chain = { client, rpcUrl, chainId, deviceRegistry };
  }

  // Only now the key: created, or the one this data directory already has.
  let device: Address;
  let reused = false;
  let file = keystorePath(dataDir);
  if (existsSync(file)) {
    device = keystoreAddress(dataDir);
    reused = true;
  } else {
    const created = createKeystore(dataDir);
    device = created.address;
    file = created.file;
  }
  const out: Record<string, string> = {
    device,
    keystore: file,
    key: reused ? "existing (reused: this data directory already had a device key)" : "created",
    passphrase: process.env[PASSPHRASE_ENV] ? `$${PASSPHRASE_ENV}` : path.join(dataDir, PASSPHRASE_FILE),
  };
  if (chain && owner) {
    const block = await chain.client.getBlock();
    const { privateKey, address } = unlockKeystore(dataDir);
    if (address.toLowerCase() !== device.toLowerCase()) throw new KeystoreError(`${file}: key does not match its address`);
    const binding = await signDeviceBinding({ devicePrivateKey: privateKey, owner: owner as Address, chainId: chain.chainId, deviceRegistry: chain.deviceRegistry, deadline: block.timestamp + seconds });
    Object.assign(out, { owner, chainId: String(chain.chainId), deviceRegistry: chain.deviceRegistry, deadline: binding.deadline.toString(), bindingSignature: binding.signature });
  }
  for (const [k, v] of Object.entries(out)) process.stdout.write(`${k}: ${v}\n`);
  if (reused) process.stdout.write(`(to start over with a new device key, move ${file} and its passphrase file away first)\n`);
}

async function register(flags: Flags) {
  const config = loadConfig(str(flags, "config"));
  const ownerKey = process.env.EDGEPAY_OWNER_KEY;
  if (!ownerKey || !/^0x[0-9a-fA-F]{64}$/.test(ownerKey)) throw new UsageError("register needs the owner's private key in $EDGEPAY_OWNER_KEY (0x + 64 hex digits)");
  const { privateKey } = unlockKeystore(config.dataDir);
  const price = uintFlag(flags, "price");
  const endpoint = str(flags, "endpoint") ?? config.publicEndpoint ?? `http://${config.host}:${config.port || 8080}`;
  const models = config.models.map((m) => ({ modelId: m.modelId, price: m.price ?? price }));
  const client = createPublicClient({ transport: http(config.rpcUrl) });
  const local = (await client.getChainId()) === 31337;
  const result = await registerDevice({
    rpcUrl: config.rpcUrl,
    contracts: config.contracts,
    ownerKey: ownerKey as Hex,
    devicePrivateKey: privateKey,
    endpoint,
    stake: uintFlag(flags, "stake"),
    models,
    fundEth: str(flags, "fund-eth") ?? (local ? "0.05" : "0"),
    log: (line) => process.stdout.write(`${line}\n`),
  });
  const missing = models.filter((m) => m.price === undefined).map((m) => m.modelId);
  process.stdout.write(
    `device: ${result.device}\nowner: ${result.owner}\nregistered: ${result.registered ? "now" : "already"}\n` +
      `offerings: ${result.offerings.map((o) => `${o.modelId}@${o.price}`).join(", ") || "none"}\n`,
  );
  if (missing.length) process.stdout.write(`no price given for model(s) ${missing.join(", ")}: their offerings were left as they are (use --price)\n`);
}

async function joinPool(flags: Flags) {
  const config = loadConfig(str(flags, "config"));
  const ownerKey = process.env.EDGEPAY_OWNER_KEY;
  if (!ownerKey || !/^0x[0-9a-fA-F]{64}$/.test(ownerKey)) throw new UsageError("join-pool needs the owner's private key in $EDGEPAY_OWNER_KEY (0x + 64 hex digits)");
  const answerDisputes = config.contracts.answerDisputes;
  if (!answerDisputes) throw new UsageError("join-pool needs contracts.answerDisputes (or $EDGEPAY_ANSWER_DISPUTES)");
  await joinPools({
    rpcUrl: config.rpcUrl,
    answerDisputes,
    ownerKey: ownerKey as Hex,
    device: keystoreAddress(config.dataDir),
    modelIds: config.verifier?.models ?? config.models.map((m) => m.modelId),
    log: (line) => process.stdout.write(`${line}\n`),
  });
}

async function serve(flags: Flags) {
  const config = loadConfig(str(flags, "config"));
  // Fail early and clearly when the key is missing, before touching the chain.
  keystoreAddress(config.dataDir);
  const worker = await startWorker(config, { unpaidRoute: flags["unpaid-route"] === true });
  process.stdout.write(JSON.stringify({ event: "listening", url: worker.url, device: worker.device, secp256k1: secp256k1.name }) + "\n");
  let stopping = false;
  const onSignal = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(JSON.stringify({ event: "stopping", signal }) + "\n");
    worker.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`stop failed: ${(error as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => onSignal("SIGINT"));
  process.on("SIGTERM", () => onSignal("SIGTERM"));
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof UsageError || error instanceof ConfigError || error instanceof KeystoreError) {
    process.stderr.write(`error: ${error.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`error: ${(error as Error).message}\n`);
  process.exit(1);
});

