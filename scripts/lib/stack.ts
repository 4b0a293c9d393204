// What a running `npm start` tells other tools (the demo, tests): `.edgepay/stack.json`, written once everything
// answers and removed at shutdown. The state directory is `.edgepay/` at the repository root unless
// EDGEPAY_STATE_DIR names another one (tests use a temporary directory so they never touch a developer's stack).
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type { Address } from "viem";
import type { Contracts } from "../../worker/config.ts";
import { ROOT } from "./paths.ts";

export interface StackInfo {
  version: 1;
  /** pid of the `npm start` process (scripts/start.ts). */
  pid: number;
  startedAt: string;
  rpcUrl: string;
  chainId: number;
  deploymentId: string;
  contracts: Contracts;
  /** null when started with --no-web. */
  dashboardUrl: string | null;
  /** The indexer's GraphQL origin; null when started with --no-indexer. */
  indexerUrl: string | null;
  workers: { url: string; device: Address; owner: Address; pid: number; dataDir: string }[];
  models: { modelId: string; name: string; owner: Address; royaltyBps: number; file: string }[];
  /** The test account the dashboard's dev wallet starts on. */
  account: { index: number; address: Address };
  /** Process groups started (chain, worker, dashboard): nothing of these may be left after shutdown. */
  pids: Record<string, number>;
}

export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.EDGEPAY_STATE_DIR || path.join(ROOT, ".edgepay"));
}

export function stackFile(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(stateDir(env), "stack.json");
}

/** The running stack's description, or undefined when `npm start` is not running (or has not become ready). */
export function readStack(env: NodeJS.ProcessEnv = process.env): StackInfo | undefined {
  const file = stackFile(env);
  if (!existsSync(file)) return undefined;
  const info = JSON.parse(readFileSync(file, "utf8")) as StackInfo;
  try {
    // A stack.json left by a start that was killed with SIGKILL: its process is gone.
    process.kill(info.pid, 0);
  } catch {
    return undefined;
  }
  return info;
}
