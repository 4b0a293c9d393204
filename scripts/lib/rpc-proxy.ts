// A counting JSON-RPC proxy in front of a chain: the worker under test talks to it instead of the node, and the
// test reads every call it made (method and the raw request text), e.g. to prove that some requests cost no RPC.
// Optional faults make it behave like a public provider: eth_getLogs ranges capped (refused with a message naming the
// cap, as providers do), a share of calls failing with a transient error, added latency. They can change mid-test.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface RpcCall {
  method: string;
  /** The JSON text of this one call (params included), lowercased for searching. */
  text: string;
  at: number;
}

export interface RpcFaults {
  /** eth_getLogs spanning more blocks than this is refused ("Max range: N", as e.g. Cloudflare's gateway words it). */
  maxLogRange?: number;
  /** Every `failEvery`-th call (counting all methods) fails with HTTP 503 / a -32603 error, before reaching the chain. */
  failEvery?: number;
  /** Added latency per request, ms. */
  delayMs?: number;
}

export interface RpcProxy {
  url: string;
  /** Faults in force; mutate to change them. */
  faults: RpcFaults;
  /** eth_getLogs calls refused for their range, and calls failed on purpose. */
  refused: { range: number; transient: number };
  calls: RpcCall[];
  /** Calls since `mark` (an index into `calls`). */
  since(mark: number): RpcCall[];
  stop(): Promise<void>;
}

interface JsonRpcCall {
  id?: unknown;
  method?: unknown;
  params?: unknown;
}

const blockNumberOf = (tag: unknown, latest: bigint): bigint | undefined =>
  typeof tag === "string" && tag.startsWith("0x") ? BigInt(tag) : tag === "latest" || tag === "pending" || tag === "safe" || tag === "finalized" ? latest : tag === "earliest" ? 0n : undefined;

/** The error a capped provider answers an over-wide eth_getLogs with, or undefined when the call may pass. */
async function rangeRefusal(call: JsonRpcCall, max: number, target: string): Promise<string | undefined> {
  if (call.method !== "eth_getLogs" || !Array.isArray(call.params)) return undefined;
  const filter = call.params[0] as { fromBlock?: unknown; toBlock?: unknown; blockHash?: unknown } | undefined;
  if (!filter || filter.blockHash) return undefined;
  let latest = 0n;
  if (filter.toBlock === undefined || typeof filter.toBlock !== "string" || !filter.toBlock.startsWith("0x")) {
    const r = await fetch(target, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_blockNumber", params: [] }) });
    latest = BigInt(((await r.json()) as { result: string }).result);
  }
  const from = blockNumberOf(filter.fromBlock ?? "latest", latest) ?? 0n;
  const to = blockNumberOf(filter.toBlock ?? "latest", latest) ?? latest;
  const span = to - from + 1n;
  return span > BigInt(max) ? `eth_getLogs range of ${span} blocks is too large. Max range: ${max}` : undefined;
}

export async function startRpcProxy(target: string, initialFaults: RpcFaults = {}): Promise<RpcProxy> {
  const calls: RpcCall[] = [];
  const faults: RpcFaults = { ...initialFaults };
  const refused = { range: 0, transient: 0 };
  let counter = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const body = Buffer.concat(chunks).toString("utf8");
      let parsed: JsonRpcCall | JsonRpcCall[] | undefined;
      try {
        parsed = JSON.parse(body) as JsonRpcCall | JsonRpcCall[];
        for (const call of Array.isArray(parsed) ? parsed : [parsed]) {
          calls.push({ method: String(call.method), text: JSON.stringify(call).toLowerCase(), at: Date.now() });
        }
      } catch {
        calls.push({ method: "(unparsable)", text: body.toLowerCase(), at: Date.now() });
      }
      if (faults.delayMs) await new Promise((r) => setTimeout(r, faults.delayMs));
      const single = parsed && !Array.isArray(parsed) ? parsed : undefined;
      counter++;
      if (faults.failEvery && counter % faults.failEvery === 0) {
        refused.transient++;
        res.writeHead(503, { "content-type": "application/json" });
        res.end(JSON.stringify({ jsonrpc: "2.0", id: single?.id ?? null, error: { code: -32603, message: "upstream temporarily unavailable (injected fault)" } }));
        return;
      }
      if (single && faults.maxLogRange) {
        const refusal = await rangeRefusal(single, faults.maxLogRange, target).catch(() => undefined);
        if (refusal) {
          refused.range++;
          res.writeHead(200, { "content-type": "application/json" });
          res.end(JSON.stringify({ jsonrpc: "2.0", id: single.id ?? null, error: { code: -32005, message: refusal } }));
          return;
        }
      }
      fetch(target, { method: "POST", headers: { "content-type": "application/json" }, body })
        .then(async (r) => {
          const text = await r.text();
          res.writeHead(r.status, { "content-type": "application/json" });
          res.end(text);
        })
        .catch((error: unknown) => {
          res.writeHead(502, { "content-type": "application/json" });
          res.end(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32000, message: String(error) } }));
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    faults,
    refused,
    calls,
    since: (mark) => calls.slice(mark),
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
