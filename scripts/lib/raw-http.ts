// Raw HTTP from a chosen local address (127.0.0.0/8 is all loopback on Linux): lets one test play several clients
// with different addresses, hold idle sockets, and send slow or partial requests.
import http from "node:http";
import net from "node:net";

export interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown>;
  text: string;
}

/** One request on its own connection from `localAddress`; resolves with the answer (JSON parsed when it is JSON). */
export function rawRequest(args: {
  url: string;
  localAddress?: string;
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  timeoutMs?: number;
}): Promise<RawAnswer> {
  const target = new URL(args.url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: args.method ?? "POST",
        path: args.path,
        headers: args.headers,
        localAddress: args.localAddress,
        agent: false,
        timeout: args.timeoutMs ?? 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let body: Record<string, unknown> = {};
          try {
            body = JSON.parse(text) as Record<string, unknown>;
          } catch {
            // not JSON
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text });
        });
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("client timeout")));
    req.on("error", reject);
    if (args.body !== undefined) req.end(args.body);
    else req.end();
  });
}

export interface HeldSocket {
  socket: net.Socket;
  /** Everything the server sent. */
  received(): string;
  /** Resolves with the ms from open to close once the server (or anyone) closed it. */
  closed: Promise<number>;
  isClosed(): boolean;
}

/** Opens a TCP connection from `localAddress` and optionally writes `initial`; never sends anything else. */
export function holdSocket(url: string, localAddress: string, initial?: string): Promise<HeldSocket> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const opened = Date.now();
    const socket = net.connect({ host: target.hostname, port: Number(target.port), localAddress });
    let data = "";
    let done = false;
    socket.on("data", (d: Buffer) => (data += d.toString("utf8")));
    socket.on("error", () => undefined);
    const closed = new Promise<number>((r) =>
      socket.once("close", () => {
        done = true;
        r(Date.now() - opened);
      }),
    );
    socket.once("connect", () => {
      if (initial) socket.write(initial);
      resolve({ socket, received: () => data, closed, isClosed: () => done });
    });
    socket.once("error", reject);
  });
}
