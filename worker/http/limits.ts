// The connection boundary of the worker: header, request (headers + body) and keep-alive timeouts, a connection
// cap with eviction of idle connections, a per-client-address connection cap, and a per-client-address budget for
// requests that pay nothing. Nothing here knows about payments: app.ts tells the limiter which answers were unpaid.
import type { IncomingMessage, Server, ServerOptions } from "node:http";
import type { Socket } from "node:net";

export interface HttpLimits {
  /** A connection must send a complete request head within this long (also: a fresh connection that sends nothing). */
  headersTimeoutMs: number;
  /** A request (head and body) must arrive completely within this long of its first byte: slow bodies get 408. */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this long. */
  keepAliveTimeoutMs: number;
  /** Open connections at most; at the cap the oldest connection with no request in flight is closed for a new one. */
  maxConnections: number;
  /** Open connections per client address at most; more are answered 429 rate_limited and closed. */
  maxConnectionsPerClient: number;
  /** Requests that pay nothing (402s, unknown channels, other refusals, replays), per client address: a token bucket. */
  unpaidPerClient: { burst: number; perSecond: number };
}

/** Options for http.createServer (the timeout checker runs often enough for short timeouts to be exact). */
export function serverOptions(limits: HttpLimits): ServerOptions {
  return {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: Math.max(limits.requestTimeoutMs, limits.headersTimeoutMs),
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4))),
  };
}

/**
 * The client a request or socket counts against: its IPv4 address (IPv4-mapped IPv6 folded in), or for IPv6 its
 * /64 prefix, since one IPv6 host usually holds a whole /64 and could otherwise rotate addresses past every limit.
 */
export function clientAddress(socket: Socket | undefined): string {
  const a = socket?.remoteAddress ?? "unknown";
  if (a.startsWith("::ffff:") && a.includes(".")) return a.slice(7);
  if (!a.includes(":")) return a;
  return `${expandIpv6(a).slice(0, 4).join(":")}::/64`;
}

/** The eight 16-bit groups of an IPv6 address (zone id dropped). */
function expandIpv6(address: string): string[] {
  const [head = "", tail] = address.split("%")[0]!.split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const fill = tail === undefined ? [] : new Array<string>(Math.max(0, 8 - left.length - right.length)).fill("0");
  return [...left, ...fill, ...right].map((g) => g.toLowerCase().replace(/^0+(?=.)/, ""));
}

/** A raw HTTP/1.1 answer written straight to a socket (no request object exists, or the request is being cut). */
function rawJson(status: number, reason: string, code: string, message: string): string {
  const body = JSON.stringify({ error: { code, message } });
  return (
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
    `cache-control: no-store\r\naccess-control-allow-origin: *\r\nconnection: close\r\n\r\n${body}`
  );
}

interface Conn {
  socket: Socket;
  ip: string;
  inFlight: number;
  /** Requests answered on this connection (a keep-alive connection that served one is a client's, kept longer). */
  served: number;
  /** Closed by eviction (it leaves the map when its close event comes). */
  evicted: boolean;
}

export interface GuardStats {
  /** Connections refused because their address already had maxConnectionsPerClient. */
  refusedPerClient: number;
  /** Idle connections closed to make room at maxConnections. */
  evicted: number;
  /** Connections refused at maxConnections with no idle connection to close. */
  refusedFull: number;
  /** Requests cut by the header or request timeout. */
  timedOut: number;
}

/**
 * Tracks every connection of `server`: enforces the caps and answers timeouts and malformed requests with JSON.
 * Install before the server listens.
 */
export class ConnectionGuard {
  readonly #limits: HttpLimits;
  /** Insertion order = age: the first idle one is the oldest. */
  readonly #conns = new Map<Socket, Conn>();
  readonly #perClient = new Map<string, number>();
  readonly stats: GuardStats = { refusedPerClient: 0, evicted: 0, refusedFull: 0, timedOut: 0 };
  readonly #log: (level: "error" | "info" | "debug", msg: string) => void;

  constructor(limits: HttpLimits, log: (level: "error" | "info" | "debug", msg: string) => void) {
    this.#limits = limits;
    this.#log = log;
  }

  get open(): number {
    return this.#conns.size;
  }

  install(server: Server) {
    server.on("connection", (socket: Socket) => this.#onConnection(socket));
    // First listener: counts the request in flight before the app sees it.
    server.prependListener("request", (req: IncomingMessage, res) => {
      const conn = this.#conns.get(req.socket);
      if (!conn) return;
      conn.inFlight++;
      res.once("close", () => {
        conn.inFlight--;
        conn.served++;
      });
    });
    server.on("clientError", (error: NodeJS.ErrnoException, socket: Socket) => this.#onClientError(error, socket));
  }

  #onConnection(socket: Socket) {
    const ip = clientAddress(socket);
    const mine = this.#perClient.get(ip) ?? 0;
    if (mine >= this.#limits.maxConnectionsPerClient) {
      this.stats.refusedPerClient++;
      socket.on("error", () => undefined);
      socket.end(rawJson(429, "Too Many Requests", "rate_limited", `client ${ip} has ${mine} open connections, the most this worker allows per address`));
      socket.destroySoon?.();
      return;
    }
    if (this.#conns.size - this.#evicting() >= this.#limits.maxConnections && !this.#evictIdle()) {
      this.stats.refusedFull++;
      socket.on("error", () => undefined);
      socket.end(rawJson(503, "Service Unavailable", "unavailable", "the worker is at its connection limit; retry"));
      socket.destroySoon?.();
      return;
    }
    const conn: Conn = { socket, ip, inFlight: 0, served: 0, evicted: false };
    this.#conns.set(socket, conn);
    this.#perClient.set(ip, mine + 1);
    socket.once("close", () => {
      this.#conns.delete(socket);
      const n = (this.#perClient.get(ip) ?? 1) - 1;
      if (n <= 0) this.#perClient.delete(ip);
      else this.#perClient.set(ip, n);
    });
  }

  /**
   * Closes the oldest connection with no request in flight, preferring one that never sent a complete request (what
   * a slow-loris holds) over an idle keep-alive connection of a client that was served; false when all are busy.
   */
  #evictIdle(): boolean {
    let fallback: Conn | undefined;
    for (const conn of this.#conns.values()) {
      if (conn.inFlight !== 0 || conn.evicted) continue;
      if (conn.served === 0) return this.#evict(conn);
      fallback ??= conn;
    }
    return fallback ? this.#evict(fallback) : false;
  }

  #evicting(): number {
    let n = 0;
    for (const c of this.#conns.values()) if (c.evicted) n++;
    return n;
  }

  #evict(conn: Conn): true {
    this.stats.evicted++;
    conn.evicted = true;
    conn.socket.destroy();
    return true;
  }

  #onClientError(error: NodeJS.ErrnoException, socket: Socket) {
    const pending = (socket as Socket & { _httpMessage?: { headersSent: boolean } })._httpMessage;
    const canAnswer = socket.writable && !(pending && pending.headersSent);
    let answer: string | undefined;
    if (error.code === "ERR_HTTP_REQUEST_TIMEOUT") {
      this.stats.timedOut++;
      answer = rawJson(408, "Request Timeout", "request_timeout", `the request did not arrive completely within the worker's time limit`);
    } else if (error.code === "HPE_HEADER_OVERFLOW") {
      answer = rawJson(431, "Request Header Fields Too Large", "bad_request", "request headers are too large");
    } else if (error.code !== "ECONNRESET") {
      answer = rawJson(400, "Bad Request", "bad_request", "malformed HTTP request");
    }
    this.#log("debug", `client error from ${clientAddress(socket)}: ${error.code ?? error.message}`);
    if (answer && canAnswer) socket.end(answer);
    socket.destroySoon?.();
    setTimeout(() => socket.destroy(), 1000).unref();
  }
}

/**
 * Token bucket per client address for requests that pay nothing. `allowed` is checked before a request does any
 * work; `charge` is called when a request ends unpaid. Paid answers cost nothing, so a buyer that pays is never
 * slowed down by this limit; a client that only sends refusals is held to `perSecond`.
 */
export class UnpaidLimiter {
  readonly #burst: number;
  readonly #perMs: number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  static readonly MAX_CLIENTS = 50_000;

  constructor(limits: HttpLimits["unpaidPerClient"]) {
    this.#burst = limits.burst;
    this.#perMs = limits.perSecond / 1000;
  }

  #bucket(ip: string, now: number) {
    let b = this.#buckets.get(ip);
    if (!b) {
      if (this.#buckets.size >= UnpaidLimiter.MAX_CLIENTS) this.#sweep(now);
      b = { tokens: this.#burst, at: now };
      this.#buckets.set(ip, b);
    } else {
      b.tokens = Math.min(this.#burst, b.tokens + (now - b.at) * this.#perMs);
      b.at = now;
    }
    return b;
  }

  /** Whether `ip` may send another request that could end unpaid. */
  allowed(ip: string, now = Date.now()): boolean {
    return this.#bucket(ip, now).tokens >= 1;
  }

  /** Seconds until `ip` may send again (Retry-After). */
  retryAfter(ip: string, now = Date.now()): number {
    const b = this.#bucket(ip, now);
    return b.tokens >= 1 ? 0 : Math.max(1, Math.ceil((1 - b.tokens) / this.#perMs / 1000));
  }

  charge(ip: string, now = Date.now()) {
    const b = this.#bucket(ip, now);
    b.tokens = Math.max(0, b.tokens - 1);
  }

  /** Forgets full buckets (clients that have been quiet), oldest first, to bound memory. */
  #sweep(now: number) {
    for (const [ip, b] of this.#buckets) {
      if (b.tokens + (now - b.at) * this.#perMs >= this.#burst) this.#buckets.delete(ip);
    }
    if (this.#buckets.size >= UnpaidLimiter.MAX_CLIENTS) {
      let drop = this.#buckets.size - UnpaidLimiter.MAX_CLIENTS / 2;
      for (const ip of this.#buckets.keys()) {
        if (drop-- <= 0) break;
        this.#buckets.delete(ip);
      }
    }
  }
}
