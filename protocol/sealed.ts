// Sealed requests and answers (docs/protocol.md, section 13): bodies travel encrypted and authenticated with
// AES-256-GCM under keys only the buyer and the device key can derive, so a relay on a shared network can neither
// read nor alter inputs or outputs, and an answer that opens is provably from the device key. No certificate
// authority is involved: the device key is the one whose address is registered in the DeviceRegistry.
//
// Two modes:
// - channel: keys from the channel's session key (ECDH(signer key, device key) + HKDF, protocol/session.ts), so a
//   paid request costs no public-key operation beyond what the MAC already needs;
// - anonymous: keys from ECDH(fresh ephemeral key, device key), for requests before any channel exists.
// Nonces are synthetic (SIV-style): HMAC-SHA256 under a separate key over the associated data and the plaintext.
// Distinct messages get distinct nonces unless HMAC-SHA256 truncated to 96 bits collides, and an identical message
// is sealed to identical bytes, which is what lets a lost request be re-sent with its original MAC.
//
// This file is the reference: WebCrypto (node and browsers alike) for AES-GCM and HMAC over the bodies,
// @noble for HKDF and ECDH. The worker has a native twin (worker/http/sealing.ts) checked against the same vectors.
import { secp256k1 } from "@noble/curves/secp256k1";
import { hkdf } from "@noble/hashes/hkdf";
import { sha256 } from "@noble/hashes/sha2";
import { bytesToHex, hexToBytes, type Hex } from "viem";
import type { MacRequest } from "./session.ts";

/** Outer media type of a sealed body; the inner (encoding's) media type is its `type` parameter. */
export const SEALED_MEDIA_TYPE = "application/vnd.edgepay.sealed";
export const SEAL_LABEL = "edgepay.sealed.v1";
/** Envelope versions: 0x01 = iv || ciphertext || tag; 0x02 = ephemeral public key (33 bytes) || iv || ciphertext || tag. */
export const ENVELOPE_SEALED = 0x01;
export const ENVELOPE_ANONYMOUS = 0x02;
export const IV_BYTES = 12;
export const TAG_BYTES = 16;
export const EPHEMERAL_BYTES = 33;

/** Keys of one direction: `enc` for AES-256-GCM, `iv` for the synthetic nonce. */
export interface DirectionKeys {
  enc: Uint8Array;
  iv: Uint8Array;
}

/** Both directions of one channel (or one anonymous exchange). */
export interface SealKeys {
  request: DirectionKeys;
  response: DirectionKeys;
}

/** What a sealed body is bound to besides its own bytes (the associated data). */
export type SealContext =
  /** A paid request: what its MAC covers except the body's hash (the body is what is sealed). */
  | ({ kind: "channel" } & Omit<MacRequest, "bodyHash">)
  | { kind: "anonymous"; ephemeralPublicKey: Hex; devicePublicKey: Hex; method: string; path: string };

export class SealError extends Error {
  /** not_sealed: a clear body where a sealed one is required; invalid_envelope: not the format; tampered: does not open. */
  readonly code: "not_sealed" | "invalid_envelope" | "tampered";
  constructor(code: SealError["code"], message: string) {
    super(message);
    this.name = "SealError";
    this.code = code;
  }
}

const enc = new TextEncoder();

/** 128 bytes of HKDF-SHA256 cut into request enc | request iv | response enc | response iv. */
function splitKeys(okm: Uint8Array): SealKeys {
  return {
    request: { enc: okm.slice(0, 32), iv: okm.slice(32, 64) },
    response: { enc: okm.slice(64, 96), iv: okm.slice(96, 128) },
  };
}

/** Channel keys: HKDF-SHA256(ikm = session key, salt = "edgepay.sealed.v1", info = "channel", 128 bytes). */
export function channelSealKeys(sessionKey: Uint8Array): SealKeys {
  return splitKeys(hkdf(sha256, sessionKey, enc.encode(SEAL_LABEL), enc.encode("channel"), 128));
}

/** The `info` of anonymous keys: "anonymous" || ephemeral public key (33) || device public key (33), both compressed. */
export function anonymousInfo(ephemeralPublicKey: Uint8Array, devicePublicKey: Uint8Array): Uint8Array {
  const label = enc.encode("anonymous");
  const info = new Uint8Array(label.length + 66);
  info.set(label, 0);
  info.set(ephemeralPublicKey, label.length);
  info.set(devicePublicKey, label.length + 33);
  return info;
}

/** Anonymous keys from the ECDH x-coordinate: HKDF-SHA256(ikm = x, salt = "edgepay.sealed.v1", info = anonymousInfo). */
export function anonymousSealKeysFromShared(sharedX: Uint8Array, ephemeralPublicKey: Uint8Array, devicePublicKey: Uint8Array): SealKeys {
  return splitKeys(hkdf(sha256, sharedX, enc.encode(SEAL_LABEL), anonymousInfo(ephemeralPublicKey, devicePublicKey), 128));
}

/** A fresh ephemeral key (or the given one, for vectors) and the anonymous keys it shares with the device key. */
export function anonymousSealKeys(devicePublicKey: Hex, ephemeralPrivateKey?: Uint8Array): { keys: SealKeys; ephemeralPublicKey: Hex } {
  const secret = ephemeralPrivateKey ?? secp256k1.utils.randomPrivateKey();
  const device = secp256k1.ProjectivePoint.fromHex(devicePublicKey.slice(2)).toRawBytes(true);
  const ephemeral = secp256k1.getPublicKey(secret, true);
  const shared = secp256k1.getSharedSecret(secret, device, true).subarray(1, 33);
  return { keys: anonymousSealKeysFromShared(shared, ephemeral, device), ephemeralPublicKey: bytesToHex(ephemeral) };
}

function contextLines(ctx: SealContext): string[] {
  if (ctx.kind === "anonymous") return ["anonymous", ctx.ephemeralPublicKey.toLowerCase(), ctx.devicePublicKey.toLowerCase(), ctx.method.toUpperCase(), ctx.path];
  return [
    "channel",
    String(ctx.chainId),
    ctx.paymentChannels.toLowerCase(),
    ctx.channelId.toLowerCase(),
    ctx.cumulativeAmount.toString(),
    ctx.signature.toLowerCase(),
    ctx.modelId.toString(),
    ctx.method.toUpperCase(),
    ctx.path,
  ];
}

function checkType(innerType: string) {
  if (!/^[\x20-\x7e]{1,200}$/.test(innerType)) throw new SealError("invalid_envelope", `inner media type must be 1-200 printable ASCII characters`);
}

/** Associated data of a request: label, "request", the context lines, the inner media type; joined by "\n". */
export function requestAad(ctx: SealContext, innerType: string): Uint8Array {
  checkType(innerType);
  return enc.encode([SEAL_LABEL, "request", ...contextLines(ctx), innerType].join("\n"));
}

/**
 * Associated data of an answer: as the request's, plus the sha256 of the sealed request bytes (0x-hex, the hash the
 * request MAC covers) and the HTTP status, so an answer cannot be moved to another request or another status.
 */
export function responseAad(ctx: SealContext, requestBodyHash: string, status: number, innerType: string): Uint8Array {
  checkType(innerType);
  return enc.encode([SEAL_LABEL, "response", ...contextLines(ctx), requestBodyHash.toLowerCase(), String(status), innerType].join("\n"));
}

/** The message the synthetic nonce is the HMAC of: u32be(aad length) || aad || plaintext. */
export function ivMessage(aad: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + aad.length + plaintext.length);
  new DataView(out.buffer).setUint32(0, aad.length);
  out.set(aad, 4);
  out.set(plaintext, 4 + aad.length);
  return out;
}

// ---------------------------------------------------------------- content type

/** `application/vnd.edgepay.sealed; type="<inner>"` */
export function sealedContentType(innerType: string): string {
  checkType(innerType);
  return `${SEALED_MEDIA_TYPE}; type="${innerType.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

const SEALED_RE = /^\s*application\/vnd\.edgepay\.sealed\s*(;|$)/i;
const TYPE_PARAM_RE = /^\s*application\/vnd\.edgepay\.sealed\s*;\s*type\s*=\s*"((?:[^"\\]|\\.)*)"\s*$/i;

/** Whether a Content-Type names a sealed body (however well-formed the rest is). */
export function isSealedType(contentType: string | undefined | null): boolean {
  return contentType != null && SEALED_RE.test(contentType);
}

/** The inner media type of a sealed Content-Type; throws SealError(invalid_envelope) when it carries none. */
export function innerTypeOf(contentType: string): string {
  const m = TYPE_PARAM_RE.exec(contentType);
  if (!m) throw new SealError("invalid_envelope", `a sealed body's content-type is ${SEALED_MEDIA_TYPE}; type="<inner media type>", not ${contentType.slice(0, 200)}`);
  const inner = m[1]!.replace(/\\(.)/g, "$1");
  checkType(inner);
  return inner;
}

// ---------------------------------------------------------------- sealing (WebCrypto)

const subtle = () => {
  const s = globalThis.crypto?.subtle;
  if (!s) throw new Error("WebCrypto (crypto.subtle) is not available: sealed requests need a secure context in a browser");
  return s;
};

const aesKeys = new WeakMap<Uint8Array, Promise<CryptoKey>>();
const hmacKeys = new WeakMap<Uint8Array, Promise<CryptoKey>>();

function aesKey(raw: Uint8Array): Promise<CryptoKey> {
  let k = aesKeys.get(raw);
  if (!k) {
    k = subtle().importKey("raw", raw as BufferSource, "AES-GCM", false, ["encrypt", "decrypt"]);
    aesKeys.set(raw, k);
  }
  return k;
}

function hmacKey(raw: Uint8Array): Promise<CryptoKey> {
  let k = hmacKeys.get(raw);
  if (!k) {
    k = subtle().importKey("raw", raw as BufferSource, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    hmacKeys.set(raw, k);
  }
  return k;
}

/** The synthetic nonce: HMAC-SHA256(iv key, ivMessage(aad, plaintext)), first 12 bytes. */
export async function syntheticIv(ivKey: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Promise<Uint8Array> {
  const mac = await subtle().sign("HMAC", await hmacKey(ivKey), ivMessage(aad, plaintext) as BufferSource);
  return new Uint8Array(mac, 0, IV_BYTES);
}

/** prefix || iv || AES-256-GCM(enc key, iv, aad)(plaintext) || tag. */
export async function sealBytes(keys: DirectionKeys, aad: Uint8Array, plaintext: Uint8Array, prefix: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  const iv = await syntheticIv(keys.iv, aad, plaintext);
  const ct = new Uint8Array(await subtle().encrypt({ name: "AES-GCM", iv: iv as BufferSource, additionalData: aad as BufferSource, tagLength: 128 }, await aesKey(keys.enc), plaintext as BufferSource));
  const out = new Uint8Array(prefix.length + IV_BYTES + ct.length);
  out.set(prefix, 0);
  out.set(iv, prefix.length);
  out.set(ct, prefix.length + IV_BYTES);
  return out;
}

/** Opens an envelope whose iv starts at `offset`; SealError(tampered) when it does not authenticate. */
export async function openBytes(encKey: Uint8Array, aad: Uint8Array, envelope: Uint8Array, offset: number): Promise<Uint8Array> {
  if (envelope.length < offset + IV_BYTES + TAG_BYTES) throw new SealError("invalid_envelope", `a sealed body has at least ${offset + IV_BYTES + TAG_BYTES} bytes, this one ${envelope.length}`);
  const iv = envelope.subarray(offset, offset + IV_BYTES);
  try {
    const pt = await subtle().decrypt(
      { name: "AES-GCM", iv: iv as BufferSource, additionalData: aad as BufferSource, tagLength: 128 },
      await aesKey(encKey),
      envelope.subarray(offset + IV_BYTES) as BufferSource,
    );
    return new Uint8Array(pt);
  } catch {
    throw new SealError("tampered", "the sealed body does not authenticate (altered, or sealed under other keys or for another request)");
  }
}

/** A sealed request body and its Content-Type. */
export interface SealedBody {
  body: Uint8Array<ArrayBuffer>;
  contentType: string;
}

/** Seals a request body (channel mode: envelope 0x01; anonymous mode: envelope 0x02 carrying the ephemeral key). */
export async function sealRequest(keys: SealKeys, ctx: SealContext, innerType: string, plaintext: Uint8Array): Promise<SealedBody> {
  const prefix = ctx.kind === "anonymous" ? concat(Uint8Array.of(ENVELOPE_ANONYMOUS), hexToBytes(ctx.ephemeralPublicKey)) : Uint8Array.of(ENVELOPE_SEALED);
  if (prefix.length !== 1 && prefix.length !== 1 + EPHEMERAL_BYTES) throw new SealError("invalid_envelope", "the ephemeral public key must be 33 bytes (compressed)");
  return { body: await sealBytes(keys.request, requestAad(ctx, innerType), plaintext, prefix), contentType: sealedContentType(innerType) };
}

/** Seals an answer (envelope 0x01) to the request whose sealed bytes hash to `requestBodyHash`. */
export async function sealResponse(keys: SealKeys, ctx: SealContext, requestBodyHash: string, status: number, innerType: string, plaintext: Uint8Array): Promise<SealedBody> {
  return { body: await sealBytes(keys.response, responseAad(ctx, requestBodyHash, status, innerType), plaintext, Uint8Array.of(ENVELOPE_SEALED)), contentType: sealedContentType(innerType) };
}

/** Opens an answer: its Content-Type must be sealed and its bytes must authenticate for this request and status. */
export async function openResponse(
  keys: SealKeys,
  ctx: SealContext,
  requestBodyHash: string,
  status: number,
  contentType: string | null | undefined,
  envelope: Uint8Array,
): Promise<{ innerType: string; body: Uint8Array }> {
  if (!isSealedType(contentType)) throw new SealError("not_sealed", `the answer (HTTP ${status}) is not sealed (content-type ${contentType ?? "missing"})`);
  const innerType = innerTypeOf(contentType!);
  if (envelope[0] !== ENVELOPE_SEALED) throw new SealError("invalid_envelope", `a sealed answer starts with 0x01, not ${envelope[0] ?? "nothing"}`);
  return { innerType, body: await openBytes(keys.response.enc, responseAad(ctx, requestBodyHash, status, innerType), envelope, 1) };
}

/** Opens a request (what the device does; the reference for tests and other implementations). */
export async function openRequest(keys: SealKeys, ctx: SealContext, innerType: string, envelope: Uint8Array): Promise<Uint8Array> {
  const offset = ctx.kind === "anonymous" ? 1 + EPHEMERAL_BYTES : 1;
  const version = ctx.kind === "anonymous" ? ENVELOPE_ANONYMOUS : ENVELOPE_SEALED;
  if (envelope[0] !== version) throw new SealError("invalid_envelope", `this sealed request starts with 0x0${version}, not ${envelope[0] ?? "nothing"}`);
  return openBytes(keys.request.enc, requestAad(ctx, innerType), envelope, offset);
}

/** sha256 of bytes, 0x-hex (the body hash a MAC and an answer's associated data name). */
export function sha256Hex(bytes: Uint8Array): Hex {
  return bytesToHex(sha256(bytes));
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
