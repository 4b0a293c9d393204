// Where the indexer reads from: the chain and the four contracts, from protocol/generated/contracts.ts (the same
// module the worker, dashboard and CLI use) with the same EDGEPAY_* environment overrides as the dashboard.
import { deployments } from "@edgepay/protocol/generated/contracts";
import { z } from "zod";

const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, "must be a 0x-prefixed 20-byte hex address").transform((s) => s as `0x${string}`);
const positiveInt = z.coerce.number().int().positive();

export const indexerSettings = z.object({
  deploymentId: z.string().min(1),
  chainId: positiveInt,
  rpcUrl: z.string().url(),
  startBlock: z.coerce.number().int().nonnegative(),
  contracts: z.object({
    modelRegistry: address,
    deviceRegistry: address,
    paymentChannels: address,
    flightRecorder: address.optional(),
    answerDisputes: address.optional(),
    deviceReputation: address.optional(),
  }),
  /** Largest eth_getLogs range Ponder asks for; unset: Ponder learns the provider's cap from its error messages. */
  getLogsRange: positiveInt.optional(),
  pollingIntervalMs: positiveInt,
  /** Embedded PGlite's data directory (ignored when DATABASE_URL selects Postgres). */
  pgliteDir: z.string().min(1),
  databaseUrl: z.string().min(1).optional(),
});
export type IndexerSettings = z.infer<typeof indexerSettings>;

/**
 * Reads the settings: EDGEPAY_DEPLOYMENT (default "local") picks a generated deployment; EDGEPAY_CHAIN_ID,
 * EDGEPAY_RPC_URL, EDGEPAY_MODEL_REGISTRY, EDGEPAY_DEVICE_REGISTRY, EDGEPAY_PAYMENT_CHANNELS, EDGEPAY_FLIGHT_RECORDER,
 * EDGEPAY_ANSWER_DISPUTES, EDGEPAY_DEVICE_REPUTATION
 * and EDGEPAY_FROM_BLOCK override it; EDGEPAY_GETLOGS_RANGE, EDGEPAY_INDEXER_POLL_MS, EDGEPAY_INDEXER_DIR and
 * DATABASE_URL tune the indexer. Throws naming the variable at fault.
 */
export function readIndexerSettings(env: NodeJS.ProcessEnv = process.env): IndexerSettings {
  const get = (name: string) => env[name]?.trim() || undefined;
  const deploymentId = get("EDGEPAY_DEPLOYMENT") ?? "local";
  const generated = deployments.find((d) => d.deploymentId === deploymentId);
  const pick = (name: string, fromDeployment: string | undefined) => {
    const value = get(name) ?? fromDeployment;
    if (!value) {
      throw new Error(
        `${name} is not set and deployment "${deploymentId}" ${generated ? "has no such address" : "is not in protocol/generated/contracts.ts"}` +
          ` (known: ${deployments.map((d) => d.deploymentId).join(", ") || "none"}; run npm run deploy:local or set the EDGEPAY_* addresses)`,
      );
    }
    return value;
  };
  const paymentChannels = pick("EDGEPAY_PAYMENT_CHANNELS", generated?.paymentChannels);
  // A FlightRecorder is bound to one PaymentChannels: the generated one only goes with the generated channels.
  const flightRecorder =
    get("EDGEPAY_FLIGHT_RECORDER") ?? (generated?.paymentChannels.toLowerCase() === paymentChannels.toLowerCase() ? generated.flightRecorder : undefined);
  // AnswerDisputes and DeviceReputation read one PaymentChannels too: same rule as the FlightRecorder.
  const sameChannels = generated?.paymentChannels.toLowerCase() === paymentChannels.toLowerCase();
  const answerDisputes = get("EDGEPAY_ANSWER_DISPUTES") ?? (sameChannels ? generated?.answerDisputes : undefined);
  const deviceReputation = get("EDGEPAY_DEVICE_REPUTATION") ?? (sameChannels ? generated?.deviceReputation : undefined);
  const candidate = {
    deploymentId,
    chainId: get("EDGEPAY_CHAIN_ID") ?? generated?.chainId ?? 31337,
    rpcUrl: get("EDGEPAY_RPC_URL") ?? "http://127.0.0.1:8545",
    startBlock: get("EDGEPAY_FROM_BLOCK") ?? 0,
    contracts: {
      modelRegistry: pick("EDGEPAY_MODEL_REGISTRY", generated?.modelRegistry),
      deviceRegistry: pick("EDGEPAY_DEVICE_REGISTRY", generated?.deviceRegistry),
      paymentChannels,
      ...(flightRecorder ? { flightRecorder } : {}),
      ...(answerDisputes ? { answerDisputes } : {}),
      ...(deviceReputation ? { deviceReputation } : {}),
    },
    getLogsRange: get("EDGEPAY_GETLOGS_RANGE"),
    pollingIntervalMs: get("EDGEPAY_INDEXER_POLL_MS") ?? 1_000,
    pgliteDir: get("EDGEPAY_INDEXER_DIR") ?? ".ponder/pglite",
    databaseUrl: get("DATABASE_URL"),
  };
  const parsed = indexerSettings.safeParse(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`bad indexer configuration at ${issue?.path.join(".") ?? "?"}: ${issue?.message ?? "invalid"}`);
  }
  return parsed.data;
}
