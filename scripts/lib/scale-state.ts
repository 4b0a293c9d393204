// The state file of a held scale run (`SCALE_HOLD=state.json npm run scale` keeps the chain and the indexer running and writes
// it): everything `npm run scale:pages` needs to attach to that run without seeding again. Addresses are 0x hex,
// URLs as this machine reaches them. Validated on read, so a stale or hand-edited file fails with the field at fault.
import { readFileSync, writeFileSync } from "node:fs";
import { z } from "zod";

const address = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/, "expected a 0x-prefixed 20-byte address")
  .transform((s) => s as `0x${string}`);

export const scaleState = z.object({
  /** JSON-RPC of the held Hardhat node, e.g. http://127.0.0.1:40123. */
  chainUrl: z.string().url(),
  chainId: z.number().int().positive(),
  /** The deployment id the run deployed under (the dashboard's EDGEPAY_DEPLOYMENT; also the indexer's schema). */
  deploymentId: z.string().min(1),
  contracts: z.object({
    token: address,
    modelRegistry: address,
    deviceRegistry: address,
    paymentChannels: address,
    flightRecorder: address.optional(),
  }),
  /** The held indexer's HTTP root (GraphQL at /graphql, /status, /ready), caught up with the chain. */
  indexerUrl: z.string().url(),
  /** The payer with the most channels and the device owner with the most claims (SeedResult). */
  busyBuyer: address,
  busyProvider: address,
  /** Optional: whose Model owner page to load (default: the owner of the newest model, read from the chain). */
  modelOwner: address.optional(),
  /** Optional: the indexer's process id, so its resident memory can be reported. */
  indexerPid: z.number().int().positive().optional(),
  /** Optional: the Hardhat node's process id (informational). */
  chainPid: z.number().int().positive().optional(),
});

export type ScaleState = z.output<typeof scaleState>;
export type ScaleStateWire = z.input<typeof scaleState>;

export function readScaleState(file: string): ScaleState {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new Error(`scale state ${file}: cannot read it as JSON (${(error as Error).message})`);
  }
  const parsed = scaleState.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`scale state ${file}: bad field ${issue?.path.join(".") || "(root)"}: ${issue?.message ?? "invalid"}`);
  }
  return parsed.data;
}

export function writeScaleState(file: string, state: ScaleStateWire) {
  writeFileSync(file, JSON.stringify(scaleState.parse(state), null, 2) + "\n");
}
