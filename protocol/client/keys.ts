// Key helpers that must work in a browser too: random salts and the address of a compressed public key.
import { secp256k1 } from "@noble/curves/secp256k1";
import { bytesToHex, hexToBytes, type Address, type Hex } from "viem";
import { publicKeyToAddress } from "viem/accounts";

/** A uniformly random uint256 from the platform CSPRNG (channel salts). */
export function randomUint256(): bigint {
  const bytes = new Uint8Array(32);
  globalThis.crypto.getRandomValues(bytes);
  return BigInt(bytesToHex(bytes));
}

/** Address of a compressed (33-byte) or uncompressed secp256k1 public key; undefined when it is not on the curve. */
export function addressOfPublicKey(publicKey: Hex): Address | undefined {
  try {
    const uncompressed = secp256k1.ProjectivePoint.fromHex(hexToBytes(publicKey)).toRawBytes(false);
    return publicKeyToAddress(bytesToHex(uncompressed));
  } catch {
    return undefined;
  }
}
