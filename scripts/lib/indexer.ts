// Runs the Ponder indexer (indexer/) as a child process against a chain, and waits until it has caught up with the
// chain's head. Used by `npm start` and the indexer tests.
import path from "node:path";
import { rpc } from "./chain.ts";
import { ROOT } from "./paths.ts";
import { httpOk, spawnNode, type ManagedChild } from "./processes.ts";

export const INDEXER_DIR = path.join(ROOT, "indexer");
const PONDER_CLI = path.join(ROOT, "node_modules/ponder/dist/esm/bin/ponder.js");

export interface IndexerOptions {
  rpcUrl: string;
  chainId: number;
  contracts: { modelRegistry: string; deviceRegistry: string; paymentChannels: string; flightRecorder?: string; answerDisputes?: string; deviceReputation?: string };
  port: number;
  /** PGlite data directory (ignored with databaseUrl). */
  dataDir: string;
  databaseUrl?: string;
  /** Postgres schema (Ponder's --schema); one per deployment, so a restart resumes and another chain does not collide. */
  schema?: string;
  startBlock?: number;
  getLogsRange?: number;
  pollingIntervalMs?: number;
  logFile?: string;
  onLine?: (line: string) => void;
}

export interface RunningIndexer {
  url: string;
  child: ManagedChild;
  stop(): Promise<void>;
}

/** The last lines the indexer logged, shortened (its JSON log lines can be kilobytes long). */
function tailOf(child: ManagedChild): string {
  return child
    .tail(6)
    .split("\n")
    .map((l) => (l.length > 300 ? `${l.slice(0, 297)}...` : l))
    .join("\n");
}

/** Starts `ponder start` for indexer/ and waits until its HTTP server answers /health. */
export async function startIndexer(options: IndexerOptions): Promise<RunningIndexer> {
  const env: NodeJS.ProcessEnv = {
    EDGEPAY_RPC_URL: options.rpcUrl,
    EDGEPAY_CHAIN_ID: String(options.chainId),
    EDGEPAY_MODEL_REGISTRY: options.contracts.modelRegistry,
    EDGEPAY_DEVICE_REGISTRY: options.contracts.deviceRegistry,
    EDGEPAY_PAYMENT_CHANNELS: options.contracts.paymentChannels,
    EDGEPAY_FLIGHT_RECORDER: options.contracts.flightRecorder ?? "",
    EDGEPAY_ANSWER_DISPUTES: options.contracts.answerDisputes ?? "",
    EDGEPAY_DEVICE_REPUTATION: options.contracts.deviceReputation ?? "",
    EDGEPAY_FROM_BLOCK: String(options.startBlock ?? 0),
    EDGEPAY_GETLOGS_RANGE: options.getLogsRange ? String(options.getLogsRange) : "",
    EDGEPAY_INDEXER_POLL_MS: String(options.pollingIntervalMs ?? 250),
    EDGEPAY_INDEXER_DIR: options.dataDir,
    DATABASE_URL: options.databaseUrl ?? "",
    DATABASE_PRIVATE_URL: "",
    PONDER_TELEMETRY_DISABLED: "true",
    PONDER_LOG_LEVEL: process.env.PONDER_LOG_LEVEL ?? "info",
    NO_COLOR: "1",
  };
  const url = `http://127.0.0.1:${options.port}`;
  const child = spawnNode(
    "indexer",
    [PONDER_CLI, "start", "--root", INDEXER_DIR, "--port", String(options.port), "--hostname", "127.0.0.1", "--schema", options.schema ?? "edgepay", "--log-format", "json"],
    // Ponder writes generated/schema.graphql under its working directory (whatever --root says): keep it in indexer/.
    { env, cwd: INDEXER_DIR, logFile: options.logFile, onLine: options.onLine },
  );
  const deadline = Date.now() + 120_000;
  while (!(await httpOk(`${url}/health`, 2_000))) {
    const exited = child.exited();
    if (exited) throw new Error(`indexer exited (${exited}) before its server answered:\n${tailOf(child)}`);
    if (Date.now() > deadline) {
      await child.stop(5_000);
      throw new Error(`indexer on ${url}: /health not answering after 120 s:\n${tailOf(child)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, child, stop: () => child.stop(15_000) };
}

export interface IndexerStatus {
  ready: boolean;
  indexedBlock: number | undefined;
}

/** /ready (historical sync done) and the block /status reports for the one chain. */
export async function indexerStatus(url: string): Promise<IndexerStatus> {
  const ready = await httpOk(`${url}/ready`, 2_000);
  try {
    const res = await fetch(`${url}/status`, { signal: AbortSignal.timeout(2_000) });
    const body = (await res.json()) as Record<string, { block?: { number?: number } }>;
    const chains = Object.values(body);
    return { ready, indexedBlock: chains[0]?.block?.number };
  } catch {
    return { ready, indexedBlock: undefined };
  }
}

/**
 * Waits until the indexer is ready and has indexed the chain's head block as it was when this was called (or a later
 * one). `onProgress` gets the indexed and head block every poll. Throws if the indexer exits or the timeout passes.
 */
export async function waitCaughtUp(
  indexer: Pick<RunningIndexer, "url" | "child">,
  rpcUrl: string,
  options: { timeoutMs?: number; onProgress?: (indexed: number | undefined, head: number) => void; head?: number } = {},
): Promise<{ head: number; seconds: number }> {
  const started = Date.now();
  const head = options.head ?? Number(BigInt(await rpc<string>(rpcUrl, "eth_blockNumber")));
  const deadline = started + (options.timeoutMs ?? 120_000);
  for (;;) {
    const exited = indexer.child.exited();
    if (exited) throw new Error(`indexer exited (${exited}) while catching up:\n${tailOf(indexer.child)}`);
    const status = await indexerStatus(indexer.url);
    options.onProgress?.(status.indexedBlock, head);
    if (status.ready && status.indexedBlock !== undefined && status.indexedBlock >= head) return { head, seconds: (Date.now() - started) / 1000 };
    if (Date.now() > deadline) {
      throw new Error(`indexer at ${indexer.url} not caught up after ${Math.round((Date.now() - started) / 1000)} s (indexed ${status.indexedBlock ?? "none"}, head ${head}, ready ${status.ready}):\n${tailOf(indexer.child)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A GraphQL query against the indexer; throws with the errors it returned. */
export async function indexerQuery<T>(url: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const res = await fetch(`${url}/graphql`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query, variables }) });
  const body = (await res.json()) as { data?: T; errors?: { message: string }[] };
  if (body.errors?.length) throw new Error(`indexer GraphQL: ${body.errors.map((e) => e.message).join("; ")}`);
  if (!body.data) throw new Error(`indexer GraphQL: HTTP ${res.status} without data`);
  return body.data;
}
