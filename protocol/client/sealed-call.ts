// The buyer's side of sealed requests (protocol/sealed.ts): seal a body for a channel or for the device key alone,
// and read an answer back, which must be sealed when it claims success.
import type { Hex } from "viem";
import { isSealedType, openResponse, SealError, sealRequest, type SealContext, type SealedBody, type SealKeys } from "../sealed.ts";
import { EdgepayClientError } from "./errors.ts";

/** What a sealed call needs to seal its body and open its answer. */
export interface SealedCall {
  keys: SealKeys;
  ctx: SealContext;
}

const utf8 = new TextEncoder();

export function sealBody(call: SealedCall, innerType: string, body: string | Uint8Array): Promise<SealedBody> {
  return sealRequest(call.keys, call.ctx, innerType, typeof body === "string" ? utf8.encode(body) : body);
}

/** An answer to a sealed request: its (inner) media type and bytes, and whether it came sealed. */
export interface SealedAnswer {
  innerType: string | null;
  bytes: Uint8Array;
  sealed: boolean;
}

/**
 * The answer's inner media type and bytes (JSON, or the binary tensor frame when the request's Accept asked for it)
 * and whether it was sealed. A success (2xx) must be sealed and open for this request; an error may come in clear
 * (a refusal before the worker authenticated the request has no key to seal with), and is then marked
 * unauthenticated so that nothing that moves money is concluded from it.
 */
export async function readSealedAnswer(res: Response, call: SealedCall, requestBodyHash: Hex, baseUrl: string): Promise<SealedAnswer> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await res.arrayBuffer());
  } catch (error) {
    throw new EdgepayClientError("worker_unreachable", `${baseUrl}: connection lost while reading the answer`, { cause: error });
  }
  const type = res.headers.get("content-type");
  if (!isSealedType(type)) {
    if (res.status < 300) throw new EdgepayClientError("sealed_answer_invalid", `${baseUrl}: not_sealed: the answer to a sealed request came in clear (HTTP ${res.status}, ${type ?? "no content-type"}); refused`, { status: res.status });
    return { innerType: type, bytes, sealed: false };
  }
  let opened: { innerType: string; body: Uint8Array };
  try {
    opened = await openResponse(call.keys, call.ctx, requestBodyHash, res.status, type, bytes);
  } catch (error) {
    if (error instanceof SealError) throw new EdgepayClientError("sealed_answer_invalid", `${baseUrl}: ${error.code}: ${error.message} (HTTP ${res.status}); refused`, { status: res.status, cause: error });
    throw error;
  }
  return { innerType: opened.innerType, bytes: opened.body, sealed: true };
}

/** An answer's bytes as JSON (a 5xx that is not JSON counts as the worker being unreachable). */
export function answerJson(bytes: Uint8Array, status: number, baseUrl: string): unknown {
  const text = new TextDecoder().decode(bytes);
  try {
    return JSON.parse(text);
  } catch {
    if (status >= 500) throw new EdgepayClientError("worker_unreachable", `${baseUrl}: HTTP ${status}`, { status });
    throw new EdgepayClientError("bad_worker_response", `${baseUrl}: HTTP ${status} with a body that is not JSON`, { status });
  }
}
