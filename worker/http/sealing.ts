// Sealed requests on the worker (protocol/sealed.ts, docs/protocol.md section 13), natively: node:crypto AES-GCM,
// HMAC and HKDF, libsecp256k1 ECDH. Hooked into a route with two calls, independent of the tensor encoding inside:
// `sealedRequest` before anything reads the Content-Type (it swaps in the inner type), and `openPaid` /
// `openAnonymous` right after the body was read (they open it and seal every answer written after them).
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync } from "node:crypto";
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import { hexToBytes, type Hex } from "viem";
import {
  anonymousInfo,
  ENVELOPE_ANONYMOUS,
  ENVELOPE_SEALED,
  EPHEMERAL_BYTES,
  innerTypeOf,
  isSealedType,
  IV_BYTES,
  requestAad,
  responseAad,
  SEAL_LABEL,
  sealedContentType,
  SealError,
  TAG_BYTES,
  type DirectionKeys,
  type SealContext,
  type SealKeys,
} from "@edgepay/protocol/sealed";
import type { DigestSigner } from "../crypto.ts";
import { HttpError } from "./io.ts";

/** A request that arrived sealed: its inner media type (now also its `content-type` header for the route). */
export interface SealedRequest {
  innerType: string;
}

const SALT = Buffer.from(SEAL_LABEL);

function split(okm: Buffer): SealKeys {
  return {
    request: { enc: okm.subarray(0, 32), iv: okm.subarray(32, 64) },
    response: { enc: okm.subarray(64, 96), iv: okm.subarray(96, 128) },
  };
}

/** Channel keys per session key (a channel's session key Buffer lives as long as the channel). */
const channelKeys = new WeakMap<Uint8Array, SealKeys>();

export function channelSealKeysNative(sessionKey: Uint8Array): SealKeys {
  let keys = channelKeys.get(sessionKey);
  if (!keys) {
    keys = split(Buffer.from(hkdfSync("sha256", sessionKey, SALT, Buffer.from("channel"), 128)));
    channelKeys.set(sessionKey, keys);
  }
  return keys;
}

/** Keys of recent ephemeral keys (a client may reuse one for a while), so each costs one ECDH, not one per request. */
const anonymousKeys = new Map<string, SealKeys>();
const ANONYMOUS_CACHE = 1024;

export function anonymousSealKeysNative(device: DigestSigner, ephemeralPublicKey: Uint8Array): SealKeys {
  const id = `${device.publicKey}:${Buffer.from(ephemeralPublicKey).toString("hex")}`;
  const cached = anonymousKeys.get(id);
  if (cached) return cached;
  const shared = device.sharedX(ephemeralPublicKey);
  const info = anonymousInfo(ephemeralPublicKey, hexToBytes(device.publicKey));
  const keys = split(Buffer.from(hkdfSync("sha256", shared, SALT, info, 128)));
  if (anonymousKeys.size >= ANONYMOUS_CACHE) anonymousKeys.delete(anonymousKeys.keys().next().value!);
  anonymousKeys.set(id, keys);
  return keys;
}

/** prefix || iv || AES-256-GCM(plaintext) || tag, iv = HMAC-SHA256(iv key, u32be(|aad|) || aad || plaintext)[0..12]. */
export function sealNative(keys: DirectionKeys, aad: Uint8Array, plaintext: Uint8Array, prefix: Uint8Array): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(aad.length);
  const iv = createHmac("sha256", keys.iv).update(len).update(aad).update(plaintext).digest().subarray(0, IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", keys.enc, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const head = cipher.update(plaintext);
  const tail = cipher.final();
  return Buffer.concat([prefix, iv, head, tail, cipher.getAuthTag()]);
}

/** Opens prefix || iv || ct || tag with iv at `offset`; SealError when it does not authenticate. */
export function openNative(encKey: Uint8Array, aad: Uint8Array, envelope: Buffer, offset: number): Buffer {
  if (envelope.length < offset + IV_BYTES + TAG_BYTES) throw new SealError("invalid_envelope", `a sealed body has at least ${offset + IV_BYTES + TAG_BYTES} bytes, this one ${envelope.length}`);
  const decipher = createDecipheriv("aes-256-gcm", encKey, envelope.subarray(offset, offset + IV_BYTES), { authTagLength: TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(envelope.subarray(envelope.length - TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(envelope.subarray(offset + IV_BYTES, envelope.length - TAG_BYTES)), decipher.final()]);
  } catch {
    throw new SealError("tampered", "the sealed body does not authenticate (altered, or sealed under other keys or for another request)");
  }
}

/**
 * Reads the request's Content-Type: a sealed one has its inner type put in its place (so the route's own media type
 * checks apply to what is inside) and is returned; a clear one is refused when the config requires sealing.
 */
export function sealedRequest(req: IncomingMessage, requireSealed: boolean): SealedRequest | undefined {
  const type = req.headers["content-type"];
  if (!isSealedType(type)) {
    if (requireSealed) throw new HttpError("sealing_required", `this device accepts inference requests only sealed (content-type ${sealedContentType("<inner media type>")}; docs/protocol.md section 13)`);
    return undefined;
  }
  let innerType: string;
  try {
    innerType = innerTypeOf(type!);
  } catch (error) {
    throw new HttpError("unsupported_media_type", (error as Error).message);
  }
  req.headers["content-type"] = innerType;
  return { innerType };
}

/** The session key of an authenticated request's channel (a channel's first request derives it from the recovered key). */
export function sessionKeyAfterAuth(device: DigestSigner, ch: { id: Hex; sessionKey: Buffer | null }, signerPubkey: Hex | null): Buffer {
  if (ch.sessionKey) return ch.sessionKey;
  if (!signerPubkey) throw new Error("an authenticated request without a session key or a recovered signer key");
  return device.sessionKey(hexToBytes(signerPubkey), ch.id);
}

/**
 * Opens the body of an authenticated paid request (its bytes hash to `bodyHash`, which the MAC covers) and seals
 * every answer written to `res` from now on, errors included.
 */
export function openPaid(sealed: SealedRequest, sessionKey: Uint8Array, ctx: SealContext, body: Buffer, bodyHash: Hex, res: ServerResponse): Buffer {
  const keys = channelSealKeysNative(sessionKey);
  sealAnswers(res, keys, ctx, bodyHash);
  if (body[0] !== ENVELOPE_SEALED) throw new HttpError("invalid_sealed_body", `a sealed paid request starts with 0x01, not ${body[0] ?? "nothing"}`);
  return open(keys, ctx, sealed.innerType, body, 1);
}

/** Opens a request sealed to the device key by an ephemeral key (no channel) and seals the answers to it. */
export function openAnonymous(sealed: SealedRequest, device: DigestSigner, method: string, path: string, body: Buffer, res: ServerResponse): Buffer {
  if (body[0] !== ENVELOPE_ANONYMOUS || body.length < 1 + EPHEMERAL_BYTES) throw new HttpError("invalid_sealed_body", `an anonymous sealed request starts with 0x02 and a 33-byte ephemeral public key`);
  const ephemeral = body.subarray(1, 1 + EPHEMERAL_BYTES);
  let keys: SealKeys;
  try {
    keys = anonymousSealKeysNative(device, ephemeral);
  } catch {
    throw new HttpError("invalid_sealed_body", "the ephemeral public key is not a secp256k1 point");
  }
  const ctx: SealContext = { kind: "anonymous", ephemeralPublicKey: `0x${ephemeral.toString("hex")}`, devicePublicKey: device.publicKey, method, path };
  sealAnswers(res, keys, ctx, `0x${createHash("sha256").update(body).digest("hex")}`);
  return open(keys, ctx, sealed.innerType, body, 1 + EPHEMERAL_BYTES);
}

function open(keys: SealKeys, ctx: SealContext, innerType: string, body: Buffer, offset: number): Buffer {
  try {
    return openNative(keys.request.enc, requestAad(ctx, innerType), body, offset);
  } catch (error) {
    if (error instanceof SealError) throw new HttpError("invalid_sealed_body", error.message);
    throw error;
  }
}

/**
 * From now on the answer on `res` is sealed: whatever the route writes (writeHead, write, end) is buffered, then
 * sealed whole with its status and content type bound, and sent as one body. Headers set with setHeader stay
 * (CORS, connection), except the content type and length, which become the sealed body's.
 */
function sealAnswers(res: ServerResponse, keys: SealKeys, ctx: SealContext, requestBodyHash: Hex) {
  const writeHead = res.writeHead.bind(res) as (status: number, headers: OutgoingHttpHeaders) => ServerResponse;
  const end = res.end.bind(res) as (chunk?: Buffer) => ServerResponse;
  const chunks: Buffer[] = [];
  let head: { status: number; headers: OutgoingHttpHeaders } | undefined;
  const toBuffer = (chunk: unknown, encoding?: unknown) =>
    typeof chunk === "string" ? Buffer.from(chunk, typeof encoding === "string" ? (encoding as BufferEncoding) : "utf8") : Buffer.from(chunk as Uint8Array);
  res.writeHead = ((status: number, a?: unknown, b?: unknown) => {
    const headers = (typeof a === "string" ? b : a) ?? {};
    if (Array.isArray(headers)) throw new Error("sealed answers take writeHead headers as an object");
    head = { status, headers: headers as OutgoingHttpHeaders };
    return res;
  }) as ServerResponse["writeHead"];
  res.write = ((chunk: unknown, encoding?: unknown, cb?: unknown) => {
    chunks.push(toBuffer(chunk, encoding));
    const done = typeof encoding === "function" ? encoding : cb;
    if (typeof done === "function") queueMicrotask(() => (done as () => void)());
    return true;
  }) as ServerResponse["write"];
  res.end = ((chunk?: unknown, encoding?: unknown, cb?: unknown) => {
    if (chunk !== undefined && chunk !== null && typeof chunk !== "function") chunks.push(toBuffer(chunk, encoding));
    const status = head?.status ?? res.statusCode;
    const headers: OutgoingHttpHeaders = {};
    let innerType = res.getHeader("content-type");
    for (const [name, value] of Object.entries(head?.headers ?? {})) {
      const lower = name.toLowerCase();
      if (lower === "content-type") innerType = value;
      else if (lower !== "content-length") headers[name] = value;
    }
    res.removeHeader("content-type");
    res.removeHeader("content-length");
    const inner = typeof innerType === "string" ? innerType : "application/octet-stream";
    const sealed = sealNative(keys.response, responseAad(ctx, requestBodyHash, status, inner), Buffer.concat(chunks), Uint8Array.of(ENVELOPE_SEALED));
    writeHead(status, { ...headers, "content-type": sealedContentType(inner), "content-length": sealed.length });
    const done = [chunk, encoding, cb].find((x) => typeof x === "function") as (() => void) | undefined;
    end(sealed);
    if (done) res.once("finish", done);
    return res;
  }) as ServerResponse["end"];
}
