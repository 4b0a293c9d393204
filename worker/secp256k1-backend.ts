// libsecp256k1 for the worker's signatures, natively where the npm `secp256k1` package ships a prebuilt addon
// (linux-x64 glibc/musl, darwin-arm64, win32-x64) and as WebAssembly (`tiny-secp256k1`: libsecp256k1 compiled to
// wasm) where it does not, e.g. linux-arm64. Never `secp256k1`'s own fallback: its index.js silently switches to
// pure-JS `elliptic` (~20x slower than native) when the addon is missing, so only its native entry is loaded here.
// Measured on x64 Node 22 (recoveries/s): native ~8-10k, wasm ~2-2.6k, pure JS ~0.5k.
// EDGEPAY_SECP256K1=wasm forces the wasm path (tests, comparisons); =native fails when the addon is missing.
import { createRequire } from "node:module";

export interface Secp256k1Backend {
  readonly name: "native" | "wasm";
  privateKeyVerify(secret: Uint8Array): boolean;
  publicKeyCreate(secret: Uint8Array, compressed: boolean): Uint8Array;
  publicKeyConvert(publicKey: Uint8Array, compressed: boolean): Uint8Array;
  /** 64-byte r|s and recovery id 0/1 (low-s, RFC 6979 nonces). */
  sign(digest: Uint8Array, secret: Uint8Array): { signature: Uint8Array; recid: number };
  /** Uncompressed public key; throws on an invalid signature. */
  recover(signature64: Uint8Array, recid: number, digest: Uint8Array): Uint8Array;
  /** x-coordinate (32 bytes) of secret * peer, unhashed. */
  ecdhX(peerPublicKey: Uint8Array, secret: Uint8Array): Uint8Array;
}

interface NativeSecp256k1 {
  privateKeyVerify(secret: Uint8Array): boolean;
  publicKeyCreate(secret: Uint8Array, compressed: boolean): Uint8Array;
  publicKeyConvert(publicKey: Uint8Array, compressed: boolean): Uint8Array;
  ecdsaSign(digest: Uint8Array, secret: Uint8Array): { signature: Uint8Array; recid: number };
  ecdsaRecover(signature: Uint8Array, recid: number, digest: Uint8Array, compressed: boolean): Uint8Array;
  ecdh(pub: Uint8Array, secret: Uint8Array, options: { hashfn: (x: Uint8Array) => Uint8Array }, output: Uint8Array): Uint8Array;
}

const requireFromHere = createRequire(import.meta.url);
/** libsecp256k1's ECDH with the raw x-coordinate as output (its default hashes it). */
const RAW_X = { hashfn: (x: Uint8Array) => x };

function nativeBackend(): Secp256k1Backend | undefined {
  let lib: NativeSecp256k1;
  try {
    // `secp256k1/bindings` is the addon only (node-gyp-build: a prebuild or a local build), no JS fallback.
    lib = requireFromHere("secp256k1/bindings") as NativeSecp256k1;
  } catch {
    return undefined;
  }
  return {
    name: "native",
    privateKeyVerify: (secret) => lib.privateKeyVerify(secret),
    publicKeyCreate: (secret, compressed) => lib.publicKeyCreate(secret, compressed),
    publicKeyConvert: (pub, compressed) => lib.publicKeyConvert(pub, compressed),
    sign: (digest, secret) => lib.ecdsaSign(digest, secret),
    recover: (sig, recid, digest) => lib.ecdsaRecover(sig, recid, digest, false),
    ecdhX: (pub, secret) => lib.ecdh(pub, secret, RAW_X, new Uint8Array(32)),
  };
}

async function wasmBackend(): Promise<Secp256k1Backend> {
  const lib = await import("tiny-secp256k1");
  const must = <T>(value: T | null, what: string): T => {
    if (value === null) throw new Error(`secp256k1: ${what} failed`);
    return value;
  };
  return {
    name: "wasm",
    privateKeyVerify: (secret) => lib.isPrivate(secret),
    publicKeyCreate: (secret, compressed) => must(lib.pointFromScalar(secret, compressed), "public key"),
    publicKeyConvert: (pub, compressed) => lib.pointCompress(pub, compressed),
    sign(digest, secret) {
      const { signature, recoveryId } = lib.signRecoverable(digest, secret);
      return { signature, recid: recoveryId };
    },
    recover: (sig, recid, digest) => must(lib.recover(digest, sig, recid as 0 | 1, false), "recovery"),
    ecdhX: (pub, secret) => must(lib.pointMultiply(pub, secret, true), "ecdh").subarray(1, 33),
  };
}

export async function loadBackend(choice = process.env.EDGEPAY_SECP256K1): Promise<Secp256k1Backend> {
  if (choice !== undefined && choice !== "native" && choice !== "wasm") {
    throw new Error(`EDGEPAY_SECP256K1 must be "native" or "wasm", got ${JSON.stringify(choice)}`);
  }
  if (choice === "wasm") return wasmBackend();
  const native = nativeBackend();
  if (native) return native;
  if (choice === "native") throw new Error(`EDGEPAY_SECP256K1=native, but secp256k1 has no native addon for ${process.platform}-${process.arch}`);
  return wasmBackend();
}

/** The backend this process uses (chosen once, at load; the listening line of `serve` names it). */
export const secp256k1: Secp256k1Backend = await loadBackend();
