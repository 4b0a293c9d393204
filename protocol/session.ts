// Session MACs: after the first voucher of a channel (verified by full ECDSA recovery), buyer and device share a key
// derived by ECDH between the channel's signer key and the device key. Later requests carry an HMAC of the voucher
// header under that key, which proves the request comes from the signer for ~1 µs of hashing instead of a ~100 µs
// signature recovery. The worker still verifies the ECDSA signature of vouchers lazily (within a per-channel risk
// budget) and always before it claims one, because only a valid signature is worth anything on-chain.
import { secp256k1 } from "@noble/curves/secp256k1";
import { hmac } from "@noble/hashes/hmac";
import { sha256 } from "@noble/hashes/sha2";
import { bytesToHex, hexToBytes, type Hex } from "viem";

/** Request header with the HMAC-SHA256 (hex) of the exact voucher header string. */
export const MAC_HEADER = "x-edgepay-mac";

const LABEL = new TextEncoder().encode("edgepay.session.v1");

/**
 * Session key for one channel: sha256(label || ECDH x-coordinate || channelId).
 * Symmetric: sessionKey(signerPriv, devicePub) == sessionKey(devicePriv, signerPub).
 */
export function sessionKey(privateKey: Hex, peerPublicKey: Hex, channelId: Hex): Uint8Array {
  const shared = secp256k1.getSharedSecret(hexToBytes(privateKey), hexToBytes(peerPublicKey), true);
  const input = new Uint8Array(LABEL.length + 32 + 32);
  input.set(LABEL, 0);
  input.set(shared.subarray(1, 33), LABEL.length);
  input.set(hexToBytes(channelId), LABEL.length + 32);
  return sha256(input);
}

/** HMAC-SHA256 of the voucher header under the session key, as lowercase hex without 0x. */
export function voucherMac(key: Uint8Array, voucherHeader: string): string {
  return bytesToHex(hmac(sha256, key, new TextEncoder().encode(voucherHeader))).slice(2);
}

/** Compressed public key (33 bytes hex) of a private key, as published by the worker in /v1/offerings. */
export function publicKeyOf(privateKey: Hex): Hex {
  return bytesToHex(secp256k1.getPublicKey(hexToBytes(privateKey), true));
}
