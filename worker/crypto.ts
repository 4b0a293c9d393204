// libsecp256k1 on the hot path, native or wasm (./secp256k1-backend.ts): ~10k / ~2.5k recoveries/s against ~500/s in
// pure JS (see ../shared/notes).
// Signatures follow what PaymentChannels accepts through OpenZeppelin's ECDSA: 65 bytes r|s|v, v in {27, 28},
// s in the lower half of the curve order. Anything else would be refused on-chain, so it is refused here.
import { createHash, createHmac, hkdfSync, timingSafeEqual } from "node:crypto";
import { secp256k1 } from "./secp256k1-backend.ts";
import { keccak256 } from "./hashing.ts";
import { getAddress, type Address, type Hex } from "viem";

const HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;

export interface Recovered {
  address: Address;
  /** Uncompressed public key (65 bytes). */
  publicKey: Uint8Array;
}

/** Recovers the signer of a 32-byte digest; undefined for a malformed or non-canonical signature. */
export function recoverDigest(digest: Uint8Array, signature: Hex): Recovered | undefined {
  if (signature.length !== 132) return undefined;
  const sig = Buffer.from(signature.slice(2), "hex");
  const v = sig[64]!;
  if (v !== 27 && v !== 28) return undefined;
  const s = BigInt("0x" + sig.subarray(32, 64).toString("hex"));
  if (s === 0n || s > HALF_N) return undefined;
  try {
    const publicKey = secp256k1.recover(sig.subarray(0, 64), v - 27, digest);
    // The address costs two keccaks and a checksum; a caller that knows the signer's key compares keys instead.
    return { publicKey, get address() { return addressOfPublicKey(publicKey); } };
  } catch {
    return undefined;
  }
}

/** Ethereum address of an uncompressed public key. */
export function addressOfPublicKey(publicKey: Uint8Array): Address {
  const hash = keccak256(publicKey.subarray(1));
  return getAddress("0x" + Buffer.from(hash.subarray(12)).toString("hex"));
}

/** A signer bound to the device key: 65-byte Ethereum signatures over digests, natively. */
export interface DigestSigner {
  address: Address;
  /** Compressed public key, 33 bytes hex. */
  publicKey: Hex;
  sign(digest: Uint8Array): Hex;
  /** Session key for a channel given the signer's public key (same bytes as protocol/session.ts sessionKey). */
  sessionKey(peerPublicKey: Uint8Array, channelId: Hex): Buffer;
  /** x-coordinate of ECDH(device key, peer key) (anonymous sealed requests); throws for a key not on the curve. */
  sharedX(peerPublicKey: Uint8Array): Buffer;
}

const SESSION_SALT = Buffer.from("edgepay.session.v2");

export function digestSigner(privateKey: Hex): DigestSigner {
  const secret = Buffer.from(privateKey.slice(2), "hex");
  if (!secp256k1.privateKeyVerify(secret)) throw new Error("invalid device private key");
  const uncompressed = secp256k1.publicKeyCreate(secret, false);
  const ownCompressed = secp256k1.publicKeyCreate(secret, true);
  return {
    address: addressOfPublicKey(uncompressed),
    publicKey: `0x${Buffer.from(secp256k1.publicKeyCreate(secret, true)).toString("hex")}`,
    sign(digest) {
      // libsecp256k1 produces low-s signatures (RFC 6979 nonces), as OpenZeppelin requires.
      const { signature, recid } = secp256k1.sign(digest, secret);
      const out = Buffer.alloc(65);
      out.set(signature, 0);
      out[64] = 27 + recid;
      return `0x${out.toString("hex")}`;
    },
    sessionKey(peerPublicKey, channelId) {
      // libsecp256k1 ECDH (native: ~10x Node's createECDH here), then HKDF over both public keys: the same bytes as
      // protocol/session.ts deriveSessionKey. The peer is the channel's signer.
      const signer = secp256k1.publicKeyConvert(peerPublicKey, true);
      const x = secp256k1.ecdhX(signer, secret);
      const info = Buffer.concat([signer, ownCompressed, Buffer.from(channelId.slice(2), "hex")]);
      return Buffer.from(hkdfSync("sha256", x, SESSION_SALT, info, 32));
    },
    sharedX(peerPublicKey) {
      return Buffer.from(secp256k1.ecdhX(secp256k1.publicKeyConvert(peerPublicKey, true), secret));
    },
  };
}

/** Constant-time check of an `x-edgepay-mac` value (hex HMAC-SHA256 of protocol/session.ts requestMacMessage). */
export function macMatches(key: Buffer, message: string, mac: string): boolean {
  if (!/^[0-9a-fA-F]{64}$/.test(mac)) return false;
  const expected = createHmac("sha256", key).update(message).digest();
  return timingSafeEqual(expected, Buffer.from(mac, "hex"));
}

export function sha256File(bytes: Uint8Array): Hex {
  return `0x${createHash("sha256").update(bytes).digest("hex")}`;
}
