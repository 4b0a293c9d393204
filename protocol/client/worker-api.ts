// The worker's HTTP API seen from the buyer: typed calls that validate every answer with the protocol's zod
// schemas. Network failures become `worker_unreachable` so callers can retry or move to another device.
import type { Address, Hex } from "viem";
import { z } from "zod";
import {
  closeResponseWire,
  errorBodyWire,
  inferResponseWire,
  offeringsWire,
  paymentRequiredBodyWire,
  type OfferingsWire,
  type PaymentRequirementsWire,
} from "../wire.ts";
import { BODY_HASH_HEADER, bodyHash, MAC_HEADER } from "../session.ts";
import { VOUCHER_HEADER } from "../voucher.ts";
import { tensorFromWire, tensorToWire, type Tensor, type TensorMapWire } from "../tensors.ts";
import { decodeTensorFrame, encodeTensorFrame, TENSORS_MEDIA_TYPE, TensorFrameError } from "../tensor-binary.ts";
import { EdgepayClientError } from "./errors.ts";
import { answerJson, readSealedAnswer, type SealedCall } from "./sealed-call.ts";

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface HttpOptions {
  fetch?: FetchLike;
  /** Per-request timeout in milliseconds (default 15 s). */
  timeoutMs?: number;
  /**
   * Encoding of inference requests and answers: "binary" (default; application/vnd.edgepay.tensors, docs/protocol.md
   * section 6b) or "json". Receipts and costs are the same either way.
   */
  encoding?: InferEncoding;
}

export type InferEncoding = "binary" | "json";

/** A 200 inference answer, its outputs decoded (whichever encoding carried them). */
export type InferOk = Omit<z.output<typeof inferResponseWire>, "outputs"> & { outputs: Record<string, Tensor> };

export type InferAnswer =
  | { kind: "ok"; body: InferOk }
  | { kind: "payment_required"; status: number; code: string; message: string; payment: PaymentRequirementsWire; unauthenticated?: boolean }
  | { kind: "error"; status: number; code: string; message: string; unauthenticated?: boolean };

/** GET /v1/offerings */
export async function fetchOfferings(baseUrl: string, options: HttpOptions = {}): Promise<OfferingsWire> {
  const res = await send(`${trimSlash(baseUrl)}/v1/offerings`, { method: "GET" }, options);
  const json = await readJson(res, baseUrl);
  if (!res.ok) throw workerError(res.status, json, baseUrl);
  const parsed = offeringsWire.safeParse(json);
  if (!parsed.success) throw new EdgepayClientError("bad_worker_response", `${baseUrl}: offerings do not follow the protocol: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** The exact body of POST /v1/infer/:modelId for `inputs` (the request MAC covers the sha256 of these bytes). */
export function inferBody(inputs: TensorMapWire): string {
  return JSON.stringify({ inputs });
}

/** An inference request body in the chosen encoding: the exact bytes sent (and covered by the request MAC). */
export interface InferRequestBody {
  body: string | Uint8Array<ArrayBuffer>;
  contentType: string;
}

/**
 * `inputs` as the body of POST /v1/infer/:modelId. The binary frame refuses what JSON cannot carry (a non-finite
 * float) and writes -0 as +0, as JSON does, so both encodings send the same tensors.
 */
export function encodeInferRequest(inputs: Record<string, Tensor>, encoding: InferEncoding = "binary"): InferRequestBody {
  if (encoding === "binary") {
    try {
      return { body: encodeTensorFrame(inputs), contentType: TENSORS_MEDIA_TYPE };
    } catch (error) {
      if (error instanceof TensorFrameError) throw new EdgepayClientError("bad_argument", error.message);
      throw error;
    }
  }
  const wire: TensorMapWire = {};
  for (const [name, t] of Object.entries(inputs)) wire[name] = tensorToWire(t);
  return { body: inferBody(wire), contentType: "application/json" };
}

/** The exact body of a cooperative-close request. */
export const CLOSE_BODY = "{}";

/**
 * POST /v1/infer/:modelId with a voucher and the request MAC (protocol/session.ts requestMac). `inputs` may be the
 * body already serialised with `inferBody`, so that the bytes sent are the bytes the MAC covers.
 */
export async function postInfer(
  baseUrl: string,
  modelId: bigint,
  inputs: TensorMapWire | { body: string | Uint8Array<ArrayBuffer>; contentType?: string },
  headers: { voucher?: string; mac?: string },
  options: HttpOptions = {},
  /** The body is sealed (protocol/sealed.ts) for this call: the answer must open under its keys. */
  sealed?: SealedCall,
): Promise<InferAnswer> {
  const given = isEncoded(inputs) ? inputs : { body: inferBody(inputs) };
  const h: Record<string, string> = { "content-type": given.contentType ?? "application/json" };
  // Answers in the frame by default; a worker that does not know it answers JSON, which is read as well. A sealed
  // answer carries the same choice as its inner type.
  h.accept = (options.encoding ?? "binary") === "binary" ? `${TENSORS_MEDIA_TYPE}, application/json;q=0.5` : "application/json";
  if (headers.voucher) h[VOUCHER_HEADER] = headers.voucher;
  if (headers.mac) h[MAC_HEADER] = headers.mac;
  const body = given.body;
  // The body's hash up front: the worker checks the MAC from the headers before it reads a large body. A sealed
  // answer is bound to it too.
  const hash = bodyHash(body);
  if (headers.mac) h[BODY_HASH_HEADER] = hash;
  const res = await send(`${trimSlash(baseUrl)}/v1/infer/${modelId}`, { method: "POST", headers: h, body }, options);
  return readInferAnswer(res, baseUrl, sealed ? { call: sealed, bodyHash: hash } : undefined);
}

/**
 * A worker's answer to a paid request (JSON or the binary frame, clear or sealed), as the protocol defines it.
 * `sealed` names the call's keys and the request body's hash when the request was sealed.
 */
export async function readInferAnswer(res: Response, baseUrl: string, sealed?: { call: SealedCall; bodyHash: Hex }): Promise<InferAnswer> {
  let json: unknown;
  let unauthenticated = false;
  if (sealed) {
    const answer = await readSealedAnswer(res, sealed.call, sealed.bodyHash, baseUrl);
    unauthenticated = !answer.sealed;
    if (res.status === 200 && isFrameType(answer.innerType)) return { kind: "ok", body: decodeFrameAnswer(answer.bytes, baseUrl) };
    json = answerJson(answer.bytes, res.status, baseUrl);
  } else {
    if (res.status === 200 && isFrameType(res.headers.get("content-type"))) return { kind: "ok", body: await readFrameAnswer(res, baseUrl) };
    json = await readJson(res, baseUrl);
  }
  if (res.status === 200) {
    const parsed = inferResponseWire.safeParse(json);
    if (!parsed.success) throw new EdgepayClientError("bad_worker_response", `${baseUrl}: answer does not follow the protocol: ${z.prettifyError(parsed.error)}`);
    let outputs: Record<string, Tensor>;
    try {
      outputs = Object.fromEntries(Object.entries(parsed.data.outputs).map(([name, w]) => [name, tensorFromWire(name, w)]));
    } catch (error) {
      throw new EdgepayClientError("bad_worker_response", `${baseUrl}: outputs do not decode: ${(error as Error).message}`);
    }
    return { kind: "ok", body: { ...parsed.data, outputs } };
  }
  if (res.status >= 500) throw workerError(res.status, json, baseUrl);
  const withPayment = paymentRequiredBodyWire.safeParse(json);
  if (withPayment.success) {
    return { kind: "payment_required", status: res.status, code: withPayment.data.error.code, message: withPayment.data.error.message, payment: withPayment.data.payment, unauthenticated };
  }
  const plain = errorBodyWire.safeParse(json);
  if (plain.success) return { kind: "error", status: res.status, code: plain.data.error.code, message: plain.data.error.message, unauthenticated };
  throw new EdgepayClientError("bad_worker_response", `${baseUrl}: HTTP ${res.status} without a protocol error body`, { status: res.status });
}

type EncodedBody = { body: string | Uint8Array<ArrayBuffer>; contentType?: string };

function isEncoded(inputs: TensorMapWire | EncodedBody): inputs is EncodedBody {
  const body = (inputs as { body?: unknown }).body;
  return typeof body === "string" || body instanceof Uint8Array;
}

function isFrameType(type: string | null): boolean {
  return (type ?? "").toLowerCase().split(";")[0]!.trim() === TENSORS_MEDIA_TYPE;
}

const inferAnswerMetaWire = inferResponseWire.omit({ outputs: true });

/** A 200 answer in the binary frame: outputs from its tensors, receipt and cost from its metadata. */
async function readFrameAnswer(res: Response, baseUrl: string): Promise<InferOk> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await res.arrayBuffer());
  } catch (error) {
    throw new EdgepayClientError("worker_unreachable", `${baseUrl}: connection lost while reading the answer`, { cause: error });
  }
  return decodeFrameAnswer(bytes, baseUrl);
}

/** The frame's bytes (read from the response, or opened from a sealed one) as an answer. */
function decodeFrameAnswer(bytes: Uint8Array, baseUrl: string): InferOk {
  let frame: ReturnType<typeof decodeTensorFrame>;
  let meta: unknown;
  try {
    frame = decodeTensorFrame(bytes, { allowMeta: true });
    meta = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(frame.meta));
  } catch (error) {
    throw new EdgepayClientError("bad_worker_response", `${baseUrl}: the binary answer does not decode: ${(error as Error).message}`);
  }
  const parsed = inferAnswerMetaWire.safeParse(meta);
  if (!parsed.success) throw new EdgepayClientError("bad_worker_response", `${baseUrl}: answer does not follow the protocol: ${z.prettifyError(parsed.error)}`);
  return { ...parsed.data, outputs: frame.tensors };
}

/**
 * POST /v1/channels/:channelId/close: the device's CloseChannel signature, authorised by the channel's latest
 * voucher and the request MAC (over CLOSE_BODY, path closePath(channelId)).
 */
export async function requestCloseSignature(baseUrl: string, channelId: string, voucherHeader: string, mac: string | undefined, options: HttpOptions = {}) {
  const headers: Record<string, string> = { [VOUCHER_HEADER]: voucherHeader, "content-type": "application/json" };
  if (mac) headers[MAC_HEADER] = mac;
  const res = await send(`${trimSlash(baseUrl)}/v1/channels/${channelId}/close`, { method: "POST", headers, body: CLOSE_BODY }, options);
  const json = await readJson(res, baseUrl);
  if (!res.ok) throw workerError(res.status, json, baseUrl);
  const parsed = closeResponseWire.safeParse(json);
  if (!parsed.success) throw new EdgepayClientError("bad_worker_response", `${baseUrl}: close answer does not follow the protocol: ${z.prettifyError(parsed.error)}`);
  return {
    channelId: parsed.data.channelId as Hex,
    cumulativeAmount: BigInt(parsed.data.cumulativeAmount),
    device: parsed.data.device as Address,
    signature: parsed.data.signature as Hex,
  };
}

const channelInfoWire = z.object({
  channelId: z.string(),
  lastAccepted: z.string().regex(/^[0-9]{1,78}$/),
  deposit: z.string().regex(/^[0-9]{1,78}$/),
});

/** GET /v1/channels/:channelId: the worker's view of a channel (what it accepted so far). */
export async function fetchChannelInfo(baseUrl: string, channelId: string, options: HttpOptions = {}) {
  const res = await send(`${trimSlash(baseUrl)}/v1/channels/${channelId}`, { method: "GET" }, options);
  const json = await readJson(res, baseUrl);
  if (!res.ok) throw workerError(res.status, json, baseUrl);
  const parsed = channelInfoWire.safeParse(json);
  if (!parsed.success) throw new EdgepayClientError("bad_worker_response", `${baseUrl}: channel info does not follow the protocol: ${z.prettifyError(parsed.error)}`);
  return { lastAccepted: BigInt(parsed.data.lastAccepted), deposit: BigInt(parsed.data.deposit) };
}

async function send(url: string, init: RequestInit, options: HttpOptions): Promise<Response> {
  const doFetch = options.fetch ?? globalThis.fetch;
  try {
    return await doFetch(url, { ...init, signal: AbortSignal.timeout(options.timeoutMs ?? 15_000) });
  } catch (error) {
    const why = error instanceof Error ? (error.name === "TimeoutError" ? "timed out" : (causeMessage(error) ?? error.message)) : String(error);
    throw new EdgepayClientError("worker_unreachable", `${url}: ${why}`, { cause: error });
  }
}

async function readJson(res: Response, baseUrl: string): Promise<unknown> {
  let text: string;
  try {
    text = await res.text();
  } catch (error) {
    throw new EdgepayClientError("worker_unreachable", `${baseUrl}: connection lost while reading the answer`, { cause: error });
  }
  try {
    return JSON.parse(text);
  } catch {
    if (res.status >= 500) throw new EdgepayClientError("worker_unreachable", `${baseUrl}: HTTP ${res.status}`, { status: res.status });
    throw new EdgepayClientError("bad_worker_response", `${baseUrl}: HTTP ${res.status} with a body that is not JSON`, { status: res.status });
  }
}

function workerError(status: number, json: unknown, baseUrl: string): EdgepayClientError {
  const body = errorBodyWire.safeParse(json);
  const code = body.success ? body.data.error.code : undefined;
  const message = body.success ? body.data.error.message : `HTTP ${status}`;
  // 5xx means the device cannot serve now: the caller may retry or fail over.
  const kind = status >= 500 ? "worker_unreachable" : "worker_rejected";
  return new EdgepayClientError(kind, `${baseUrl}: ${code ? `${code}: ` : ""}${message}`, { status, workerCode: code });
}

function causeMessage(error: Error): string | undefined {
  const cause = (error as { cause?: unknown }).cause;
  if (cause instanceof Error) return (cause as { code?: string }).code ?? cause.message;
  return undefined;
}

function trimSlash(url: string): string {
  return url.endsWith("/") ? url.slice(0, -1) : url;
}
