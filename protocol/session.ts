// Session MACs: buyer and device share a key per channel, derived by ECDH between the channel's signer key and the
// device key (the worker learns the signer's public key by recovering the channel's first voucher). Every paid
// request carries an HMAC under that key of the whole request: chain, contract, channel, amount, voucher signature,
// model, method, path and the sha256 of the exact body bytes (`requestMacMessage`). A voucher alone is a bearer
// token anyone on the path can copy; the MAC binds it to the buyer's own inputs, and costs ~1 µs against ~70 µs for
// an ECDSA recovery. The worker still verifies the ECDSA signature of vouchers lazily (within a per-channel risk
// budget) and always before it claims one, because only a valid signature is worth anything on-chain.
import { secp256k1 } from "@noble/curves/secp256k1";
import { hkdf } from "@noble/hashes/hkdf";
import { hmac } from "@noble/hashes/hmac";
import { sha256 } from "@noble/hashes/sha2";
import { bytesToHex, hexToBytes, type Hex } from "viem";

/** Request header with the HMAC-SHA256 (hex, no 0x) of `requestMacMessage(...)` under the session key. */
export const MAC_HEADER = "x-edgepay-mac";
/** sha256 of the body bytes a paid request sends (0x-hex): lets the device check the MAC before reading the body. */
export const BODY_HASH_HEADER = "x-edgepay-body-sha256";

const SALT = new TextEncoder().encode("edgepay.session.v2");

/**
 * Session key of one channel: HKDF-SHA256 (RFC 5869) with
 *   ikm  = x-coordinate of ECDH(signer key, device key)      (32 bytes; symmetric: either side computes it)
 *   salt = "edgepay.session.v2"
 *   info = signer public key (33 bytes, compressed) || device public key (33 bytes, compressed) || channelId (32 bytes)
 * 32 bytes out. Both public keys are bound, so a key is never shared between two pairs that happen to have the same
 * shared point, and the channel id makes it one key per channel.
 */
export function deriveSessionKey(sharedX: Uint8Array, signerPublicKey: Uint8Array, devicePublicKey: Uint8Array, channelId: Hex): Uint8Array {
  const info = new Uint8Array(33 + 33 + 32);
  info.set(signerPublicKey, 0);
  info.set(devicePublicKey, 33);
  info.set(hexToBytes(channelId), 66);
  return hkdf(sha256, sharedX, SALT, info, 32);
}

/** The session key as the channel's signer computes it (its private key, the device's public key from the offerings). */
export function sessionKey(signerPrivateKey: Hex, devicePublicKey: Hex, channelId: Hex): Uint8Array {
  const device = secp256k1.ProjectivePoint.fromHex(devicePublicKey.slice(2)).toRawBytes(true);
  const shared = secp256k1.getSharedSecret(hexToBytes(signerPrivateKey), device, true);
  return deriveSessionKey(shared.subarray(1, 33), secp256k1.getPublicKey(hexToBytes(signerPrivateKey), true), device, channelId);
}

/** What a request MAC covers. `path` is the route with the decimal model id (`/v1/infer/7`) or the lowercase channel id. */
export interface MacRequest {
  chainId: number;
  paymentChannels: string;
  channelId: string;
  cumulativeAmount: bigint;
  /** The voucher's signature, as in the voucher header. */
  signature: string;
  modelId: bigint;
  method: string;
  path: string;
  /** `bodyHash(body)`: sha256 of the exact body bytes sent. */
  bodyHash: string;
}

const REQUEST_LABEL = "edgepay.request.v1";

/** The exact string a request MAC signs: one field per line, lowercase hex, decimal integers. */
export function requestMacMessage(r: MacRequest): string {
  return [
    REQUEST_LABEL,
    String(r.chainId),
    r.paymentChannels.toLowerCase(),
    r.channelId.toLowerCase(),
    r.cumulativeAmount.toString(),
    r.signature.toLowerCase(),
    r.modelId.toString(),
    r.method.toUpperCase(),
    r.path,
    r.bodyHash.toLowerCase(),
  ].join("\n");
}

/** sha256 of the body bytes (a string is hashed as UTF-8), 0x-hex. */
export function bodyHash(body: Uint8Array | string): Hex {
  return bytesToHex(sha256(typeof body === "string" ? new TextEncoder().encode(body) : body));
}

/** HMAC-SHA256 of the request under the session key, as lowercase hex without 0x (the `x-edgepay-mac` value). */
export function requestMac(key: Uint8Array, r: MacRequest): string {
  return bytesToHex(hmac(sha256, key, new TextEncoder().encode(requestMacMessage(r)))).slice(2);
}

/** Route paths a MAC names. */
export const inferPath = (modelId: bigint) => `/v1/infer/${modelId.toString()}`;
export const closePath = (channelId: string) => `/v1/channels/${channelId.toLowerCase()}/close`;

/** Compressed public key (33 bytes hex) of a private key, as published by the worker in /v1/offerings. */
export function publicKeyOf(privateKey: Hex): Hex {
  return bytesToHex(secp256k1.getPublicKey(hexToBytes(privateKey), true));
}
