// The indexer (indexer/, Ponder) over HTTP: its GraphQL endpoint for list reads and its /status + /ready routes for
// freshness. Browser- and Node-compatible (plain fetch). Shared by the dashboard, the buyer CLI and the audit CLI, so
// "where does a list come from" has one answer. Every answer is zod-checked: a wrong shape is an error, never a row.
import { z } from "zod";

export type IndexerErrorCode = "indexer_unreachable" | "indexer_error" | "indexer_bad_response";

export class IndexerError extends Error {
  readonly code: IndexerErrorCode;
  constructor(code: IndexerErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "IndexerError";
    this.code = code;
  }
}

export interface IndexerClient {
  url: string;
  /** Runs a GraphQL query and parses its `data` with `schema`. */
  query<T>(schema: z.ZodType<T>, query: string, variables?: Record<string, unknown>): Promise<T>;
  /** Block the indexer has indexed (for its one chain) and whether its historical backfill is done. */
  status(): Promise<IndexerStatus>;
}

export interface IndexerStatus {
  ready: boolean;
  /** Undefined before the first block is indexed. */
  indexedBlock: bigint | undefined;
}

export interface IndexerClientOptions {
  /** Per-request timeout (default 10 s). */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

const graphqlBody = z.object({
  data: z.unknown().optional(),
  errors: z.array(z.object({ message: z.string() })).optional(),
});

// Ponder's /status: { [chainName]: { id, block: { number, timestamp } | null } }.
const statusBody = z.record(z.string(), z.object({ block: z.object({ number: z.number().int().nonnegative() }).nullable().optional() }));

/** A client for the indexer at `url` (its origin, e.g. http://127.0.0.1:42069). */
export function indexerClient(url: string, options: IndexerClientOptions = {}): IndexerClient {
  const base = url.replace(/\/+$/, "");
  const timeoutMs = options.timeoutMs ?? 10_000;
  const doFetch = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
  const request = async (path: string, init?: RequestInit): Promise<Response> => {
    try {
      return await doFetch(`${base}${path}`, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      throw new IndexerError("indexer_unreachable", `the indexer at ${base} does not answer (${(error as Error).message})`, { cause: error });
    }
  };
  return {
    url: base,
    async query<T>(schema: z.ZodType<T>, query: string, variables: Record<string, unknown> = {}): Promise<T> {
      const res = await request("/graphql", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query, variables }) });
      let json: unknown;
      try {
        json = await res.json();
      } catch {
        throw new IndexerError("indexer_bad_response", `the indexer at ${base} answered HTTP ${res.status} without JSON`);
      }
      const body = graphqlBody.safeParse(json);
      if (!body.success) throw new IndexerError("indexer_bad_response", `the indexer at ${base} answered a body that is not GraphQL`);
      if (body.data.errors?.length) throw new IndexerError("indexer_error", `indexer GraphQL: ${body.data.errors.map((e) => e.message).join("; ")}`);
      const data = schema.safeParse(body.data.data);
      if (!data.success) {
        const issue = data.error.issues[0];
        throw new IndexerError("indexer_bad_response", `indexer GraphQL answer at ${issue?.path.join(".") || "(root)"}: ${issue?.message ?? "invalid"}`);
      }
      return data.data;
    },
    async status(): Promise<IndexerStatus> {
      const [ready, status] = await Promise.all([request("/ready"), request("/status")]);
      let json: unknown;
      try {
        json = await status.json();
      } catch {
        throw new IndexerError("indexer_bad_response", `the indexer at ${base}: /status answered HTTP ${status.status} without JSON`);
      }
      const body = statusBody.safeParse(json);
      if (!body.success) throw new IndexerError("indexer_bad_response", `the indexer at ${base}: /status is not Ponder's status`);
      const chains = Object.values(body.data);
      if (chains.length !== 1) throw new IndexerError("indexer_bad_response", `the indexer at ${base} indexes ${chains.length} chains, expected 1`);
      const block = chains[0]!.block?.number;
      return { ready: ready.ok, indexedBlock: block === undefined ? undefined : BigInt(block) };
    },
  };
}

export interface IndexLag {
  /** Chain head read live from the RPC. */
  head: bigint;
  indexedBlock: bigint | undefined;
  /** Blocks the index is behind the head (0 when caught up; the head when nothing is indexed yet). */
  behind: bigint;
  ready: boolean;
}

/** How far the index is behind `head` (read live from the chain by the caller). */
export function indexLag(status: IndexerStatus, head: bigint): IndexLag {
  const indexed = status.indexedBlock;
  const behind = indexed === undefined ? head + 1n : head > indexed ? head - indexed : 0n;
  return { head, indexedBlock: indexed, behind, ready: status.ready };
}
