// A counting JSON-RPC proxy in front of a chain: the worker under test talks to it instead of the node, and the
// test reads every call it made (method and the raw request text), e.g. to prove that some requests cost no RPC.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface RpcCall {
  method: string;
  /** The JSON text of this one call (params included), lowercased for searching. */
  text: string;
  at: number;
}

export interface RpcProxy {
  url: string;
  calls: RpcCall[];
  /** Calls since `mark` (an index into `calls`). */
  since(mark: number): RpcCall[];
  stop(): Promise<void>;
}

export async function startRpcProxy(target: string): Promise<RpcProxy> {
  const calls: RpcCall[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      try {
        const parsed = JSON.parse(body) as unknown;
        for (const call of Array.isArray(parsed) ? parsed : [parsed]) {
          calls.push({ method: String((call as { method?: unknown }).method), text: JSON.stringify(call).toLowerCase(), at: Date.now() });
        }
      } catch {
        calls.push({ method: "(unparsable)", text: body.toLowerCase(), at: Date.now() });
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
    calls,
    since: (mark) => calls.slice(mark),
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
