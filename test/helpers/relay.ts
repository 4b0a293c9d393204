// A relay on 127.0.0.1 between a buyer and a worker, as anyone on a shared network could run: it records every
// request and answer (method, path, headers, bytes) and may rewrite either before passing it on.
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface Exchange {
  method: string;
  path: string;
  requestHeaders: IncomingHttpHeaders;
  requestBody: Buffer;
  status: number;
  responseHeaders: IncomingHttpHeaders;
  responseBody: Buffer;
}

export interface Rewrite {
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface Relay {
  url: string;
  seen: Exchange[];
  /** Rewrites a request before it goes on (return it changed or not). */
  onRequest?: (path: string, r: Rewrite) => Rewrite;
  /** Rewrites an answer before it goes back. */
  onResponse?: (path: string, status: number, r: Rewrite) => Rewrite & { status?: number };
  close(): Promise<void>;
}

const read = (s: NodeJS.ReadableStream) =>
  new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    s.on("data", (c: Buffer) => chunks.push(c));
    s.on("end", () => resolve(Buffer.concat(chunks)));
    s.on("error", reject);
  });

export async function startRelay(target: string): Promise<Relay> {
  const upstream = new URL(target);
  const relay: Relay = { url: "", seen: [], close: async () => {} };
  const server: Server = createServer(async (req, res) => {
    const path = req.url ?? "/";
    let fwd: Rewrite = { headers: { ...req.headers }, body: await read(req) };
    if (relay.onRequest) fwd = relay.onRequest(path, fwd);
    const headers: Record<string, string | string[] | undefined> = { ...fwd.headers, host: upstream.host, "content-length": String(fwd.body.length) };
    delete headers["transfer-encoding"];
    delete headers.connection;
    const out = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path, headers, agent: false }, async (up) => {
      const body = await read(up);
      let back: Rewrite & { status?: number } = { headers: { ...up.headers }, body };
      if (relay.onResponse) back = relay.onResponse(path, up.statusCode ?? 502, back);
      const status = back.status ?? up.statusCode ?? 502;
      relay.seen.push({ method: req.method ?? "GET", path, requestHeaders: req.headers, requestBody: fwd.body, status: up.statusCode ?? 0, responseHeaders: up.headers, responseBody: body });
      const h: Record<string, string | string[] | undefined> = { ...back.headers, "content-length": String(back.body.length) };
      delete h["transfer-encoding"];
      delete h.connection;
      delete h["keep-alive"];
      res.writeHead(status, h as Record<string, string>);
      res.end(back.body);
    });
    out.on("error", () => {
      res.writeHead(502);
      res.end();
    });
    out.end(fwd.body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  relay.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  relay.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return relay;
}
