// What the server tells the browser at /api/config: which chain and contracts this dashboard talks to.
// Read at request time, so one production build serves any chain port or deployment.
import { z } from "zod";

const address = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/, "expected a 0x-prefixed 20-byte address")
  .transform((s) => s as `0x${string}`);

export const runtimeConfigWire = z.object({
  chainId: z.number().int().positive(),
  rpcUrl: z.string().url(),
  deploymentId: z.string(),
  contracts: z.object({
    token: address,
    modelRegistry: address,
    deviceRegistry: address,
    paymentChannels: address,
    /** Receipt anchors (the flight recorder); absent on deployments made before it existed. */
    flightRecorder: address.optional(),
    /** Wrong-answer disputes and buyers' feedback (reputation); absent on older deployments. */
    answerDisputes: address.optional(),
    deviceReputation: address.optional(),
  }),
  /** First block worth scanning for events (the deployment block, or 0 on a local chain). */
  fromBlock: z.string().regex(/^[0-9]+$/),
  /** Worker URLs the operator announced (suggestions for the provider page; the market reads endpoints on-chain). */
  workers: z.array(z.string().url()),
  /**
   * The indexer's origin as the browser reaches it (Ponder sends `access-control-allow-origin: *`). When set, every
   * list and history read goes to its GraphQL; when absent or not answering, the pages scan the chain in bounded ranges.
   */
  indexerUrl: z.string().url().optional(),
});

export type RuntimeConfigWire = z.input<typeof runtimeConfigWire>;
export type RuntimeConfig = z.output<typeof runtimeConfigWire>;

/** Hardhat's chain id: the only chain where the built-in dev wallet and the faucet appear. */
export const LOCAL_CHAIN_ID = 31337;
