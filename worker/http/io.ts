// HTTP plumbing: bounded body reads and JSON answers with the stable error shape of protocol/wire.ts.
import type { IncomingMessage, ServerResponse } from "node:http";
import { ERROR_STATUS, type ErrorCode } from "@edgepay/protocol/wire";

export class HttpError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly extra: Record<string, unknown> | undefined;
  constructor(code: ErrorCode, message: string, extra?: Record<string, unknown>) {
    super(message);
    this.name = "HttpError";
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.extra = extra;
  }
}

/** Most bytes drained after an early 413 before the connection is cut (so small overruns still get a clean answer). */
const DRAIN_LIMIT = 8 * 1024 * 1024;

/** Reads the whole body, refusing more than `limit` bytes (413 body_too_large) without buffering the excess. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? NaN);
    const tooLarge = (size: number) => {
      let drained = 0;
      req.removeAllListeners("data");
      req.on("data", (c: Buffer) => {
        drained += c.length;
        if (drained > DRAIN_LIMIT) req.destroy();
      });
      reject(new HttpError("body_too_large", `request body of ${size} bytes exceeds the limit of ${limit} bytes`));
    };
    if (Number.isFinite(declared) && declared > limit) {
      tooLarge(declared);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on("data", (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        tooLarge(size);
        return;
      }
      chunks.push(chunk);
    });
    let ended = false;
    req.on("end", () => {
      ended = true;
      if (!failed) resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    });
    req.on("error", (e) => {
      if (!failed) {
        failed = true;
        reject(e);
      }
    });
    // A connection cut mid-body (client gone, request timeout) may close without an error: never leave the read pending.
    req.on("close", () => {
      if (!ended && !failed) {
        failed = true;
        reject(Object.assign(new Error("aborted"), { code: "ECONNRESET" }));
      }
    });
  });
}

/** Whether `error` only says the client went away (or its connection was cut) while the request was read. */
export function isAborted(req: IncomingMessage, error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === "ECONNRESET" || code === "ERR_STREAM_PREMATURE_CLOSE" || code === "EPIPE" || (req.destroyed && !(error instanceof HttpError));
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  sendJsonText(res, status, JSON.stringify(body), headers);
}

/** An answer already serialised as JSON (the paid route builds it around outputs it stored as JSON). */
export function sendJsonText(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}) {
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
    ...headers,
  });
  res.end(text);
}

export function sendError(res: ServerResponse, error: HttpError) {
  const headers: Record<string, string> = {};
  if (error.code === "body_too_large" || error.code === "request_timeout") headers.connection = "close";
  sendJson(res, error.status, { error: { code: error.code, message: error.message }, ...(error.extra ?? {}) }, headers);
}
