import { deployments } from "../../protocol/generated/contracts.ts";
import { runtimeConfigWire, type RuntimeConfig } from "./runtime-config.ts";

/**
 * Builds the runtime config from the environment:
 * - EDGEPAY_RPC_URL (default http://127.0.0.1:8545), as the browser will reach it;
 * - EDGEPAY_DEPLOYMENT (default "local"): a deployment id from protocol/generated/contracts.ts;
 * - EDGEPAY_TOKEN / EDGEPAY_MODEL_REGISTRY / EDGEPAY_DEVICE_REGISTRY / EDGEPAY_PAYMENT_CHANNELS / EDGEPAY_CHAIN_ID:
 *   explicit addresses, which win over the generated deployment (a chain deployed after the build);
 * - EDGEPAY_FLIGHT_RECORDER: optional; else the deployment's FlightRecorder, but only when the PaymentChannels in use is
 *   that deployment's (a FlightRecorder is bound to one PaymentChannels);
 * - EDGEPAY_FROM_BLOCK (default 0); EDGEPAY_WORKERS: comma-separated worker URLs;
 * - EDGEPAY_INDEXER_URL: optional; the indexer's origin as the browser reaches it (lists and history come from it).
 * Throws a readable error naming the variable at fault.
 */
export function readServerConfig(env: NodeJS.ProcessEnv = process.env): RuntimeConfig {
  const deploymentId = env.EDGEPAY_DEPLOYMENT?.trim() || "local";
  const generated = deployments.find((d) => d.deploymentId === deploymentId);
  const pick = (name: string, fromDeployment: string | undefined) => {
    const value = env[name]?.trim() || fromDeployment;
    if (!value) {
      throw new Error(
        `${name} is not set and deployment "${deploymentId}" ${generated ? "has no such address" : "is not in protocol/generated/contracts.ts"}` +
          ` (known: ${deployments.map((d) => d.deploymentId).join(", ") || "none"})`,
      );
    }
    return value;
  };
  const paymentChannels = pick("EDGEPAY_PAYMENT_CHANNELS", generated?.paymentChannels);
  const flightRecorder =
    env.EDGEPAY_FLIGHT_RECORDER?.trim() ||
    (generated?.paymentChannels?.toLowerCase() === paymentChannels.toLowerCase() ? generated?.flightRecorder : undefined);
  // Bound to one PaymentChannels like the flight recorder: the generated addresses only go with the generated channels.
  const sameChannels = generated?.paymentChannels?.toLowerCase() === paymentChannels.toLowerCase();
  const answerDisputes = env.EDGEPAY_ANSWER_DISPUTES?.trim() || (sameChannels ? generated?.answerDisputes : undefined);
  const deviceReputation = env.EDGEPAY_DEVICE_REPUTATION?.trim() || (sameChannels ? generated?.deviceReputation : undefined);
  const chainId = Number(env.EDGEPAY_CHAIN_ID?.trim() || generated?.chainId || 31337);
  const candidate = {
    chainId,
    rpcUrl: env.EDGEPAY_RPC_URL?.trim() || "http://127.0.0.1:8545",
    deploymentId,
    contracts: {
      token: pick("EDGEPAY_TOKEN", generated?.token),
      modelRegistry: pick("EDGEPAY_MODEL_REGISTRY", generated?.modelRegistry),
      deviceRegistry: pick("EDGEPAY_DEVICE_REGISTRY", generated?.deviceRegistry),
      paymentChannels,
      ...(flightRecorder ? { flightRecorder } : {}),
      ...(answerDisputes ? { answerDisputes } : {}),
      ...(deviceReputation ? { deviceReputation } : {}),
    },
    fromBlock: env.EDGEPAY_FROM_BLOCK?.trim() || "0",
    workers: (env.EDGEPAY_WORKERS ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
    ...(env.EDGEPAY_INDEXER_URL?.trim() ? { indexerUrl: env.EDGEPAY_INDEXER_URL.trim().replace(/\/+$/, "") } : {}),
  };
  const parsed = runtimeConfigWire.safeParse(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`bad dashboard configuration at ${issue?.path.join(".") ?? "?"}: ${issue?.message ?? "invalid"}`);
  }
  return parsed.data;
}
