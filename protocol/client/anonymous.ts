// A request sealed to the device key alone, before any channel exists (protocol/sealed.ts, anonymous mode): a fresh
// ephemeral key per request, so only the device key can read the inputs and only it can seal the answer. Used on
// the worker's unpaid route (a benchmark baseline, and any free first contact a device chooses to offer).
import type { Hex } from "viem";
import { anonymousSealKeys } from "../sealed.ts";
import { bodyHash } from "../session.ts";
import type { TensorMapWire } from "../tensors.ts";
import { EdgepayClientError } from "./errors.ts";
import { answerJson, readSealedAnswer, sealBody, type SealedCall } from "./sealed-call.ts";
import { inferBody, type HttpOptions } from "./worker-api.ts";

/**
 * An ephemeral key and the keys it shares with one device. A fresh one per request costs a pure-JS ECDH (about a
 * millisecond); reusing one for a while links the requests to each other (as the client's address does anyway) and
 * stays safe, since nonces are synthetic: distinct messages never share one under the same key.
 */
export interface AnonymousSession {
  devicePublicKey: Hex;
  keys: ReturnType<typeof anonymousSealKeys>["keys"];
  ephemeralPublicKey: Hex;
}

export function anonymousSession(devicePublicKey: Hex): AnonymousSession {
  return { devicePublicKey, ...anonymousSealKeys(devicePublicKey) };
}

/**
 * POST /v1/unpaid/infer/:modelId sealed to `devicePublicKey` (check it against the chain first); the opened JSON.
 * Without `session`, a fresh ephemeral key is drawn for this request.
 */
export async function postUnpaidSealed(
  baseUrl: string,
  modelId: bigint,
  inputs: TensorMapWire,
  devicePublicKey: Hex,
  options: HttpOptions = {},
  session: AnonymousSession = anonymousSession(devicePublicKey),
): Promise<{ status: number; json: unknown }> {
  if (session.devicePublicKey.toLowerCase() !== devicePublicKey.toLowerCase()) throw new EdgepayClientError("bad_argument", "the anonymous session is for another device key");
  const path = `/v1/unpaid/infer/${modelId}`;
  const { keys, ephemeralPublicKey } = session;
  const call: SealedCall = { keys, ctx: { kind: "anonymous", ephemeralPublicKey, devicePublicKey, method: "POST", path } };
  const sealed = await sealBody(call, "application/json", inferBody(inputs));
  const url = `${baseUrl.replace(/\/$/, "")}${path}`;
  let res: Response;
  try {
    res = await (options.fetch ?? globalThis.fetch)(url, {
      method: "POST",
      headers: { "content-type": sealed.contentType },
      body: sealed.body as BodyInit,
      signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
    });
  } catch (error) {
    throw new EdgepayClientError("worker_unreachable", `${url}: ${(error as Error).message}`, { cause: error });
  }
  const answer = await readSealedAnswer(res, call, bodyHash(sealed.body), baseUrl);
  return { status: res.status, json: answerJson(answer.bytes, res.status, baseUrl) };
}
