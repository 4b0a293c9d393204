// The worker's two libsecp256k1 backends (worker/secp256k1-backend.ts): native addon and wasm must give the same
// bytes for everything the worker signs, recovers and derives, and both must agree with @noble/curves.
import { expect } from "chai";
import fc from "fast-check";
import { secp256k1 as noble } from "@noble/curves/secp256k1";
import { loadBackend, type Secp256k1Backend } from "../../worker/secp256k1-backend.ts";

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const HALF_N = N >> 1n;
const bytes32 = (n: bigint) => Uint8Array.from(Buffer.from(n.toString(16).padStart(64, "0"), "hex"));
const secretArb = fc.bigInt({ min: 1n, max: N - 1n }).map(bytes32);
const digestArb = fc.uint8Array({ minLength: 32, maxLength: 32 });
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("worker secp256k1 backends (native addon and wasm)", () => {
  let native: Secp256k1Backend;
  let wasm: Secp256k1Backend;
  before(async () => {
    native = await loadBackend("native");
    wasm = await loadBackend("wasm");
  });

  it("load by name, and refuse an unknown choice with a clear error", async () => {
    expect(native.name).to.equal("native");
    expect(wasm.name).to.equal("wasm");
    let error: unknown;
    await loadBackend("elliptic").catch((e: unknown) => (error = e));
    expect(String(error)).to.match(/EDGEPAY_SECP256K1 must be "native" or "wasm"/);
  });

  it("sign the same low-s signature and recovery id, which both recover to the signer", () => {
    fc.assert(
      fc.property(secretArb, digestArb, (secret, digest) => {
        const a = native.sign(digest, secret);
        const b = wasm.sign(digest, secret);
        expect(hex(b.signature)).to.equal(hex(a.signature));
        expect(b.recid).to.equal(a.recid);
        expect(BigInt("0x" + hex(a.signature.subarray(32)))).to.be.lessThanOrEqual(HALF_N);
        const pub = hex(noble.getPublicKey(secret, false));
        expect(hex(native.recover(b.signature, b.recid, digest))).to.equal(pub);
        expect(hex(wasm.recover(a.signature, a.recid, digest))).to.equal(pub);
      }),
      { numRuns: 150 },
    );
  });

  it("derive the same raw ECDH x-coordinate as @noble/curves, from compressed or uncompressed peers", () => {
    fc.assert(
      fc.property(secretArb, secretArb, fc.boolean(), (mine, theirs, compressed) => {
        const peer = noble.getPublicKey(theirs, compressed);
        const expected = hex(noble.getSharedSecret(mine, peer, true).subarray(1));
        expect(hex(native.ecdhX(native.publicKeyConvert(peer, true), mine))).to.equal(expected);
        expect(hex(wasm.ecdhX(wasm.publicKeyConvert(peer, true), mine))).to.equal(expected);
        expect(hex(wasm.publicKeyCreate(mine, true))).to.equal(hex(native.publicKeyCreate(mine, true)));
      }),
      { numRuns: 100 },
    );
  });

  it("reject private keys 0, n and n+1 and accept n-1, alike", () => {
    for (const [k, ok] of [[0n, false], [N, false], [N + 1n, false], [N - 1n, true], [1n, true]] as const) {
      const secret = k > 2n ** 256n - 1n ? new Uint8Array(32).fill(0xff) : bytes32(k);
      expect(native.privateKeyVerify(secret), `native ${k}`).to.equal(ok);
      expect(wasm.privateKeyVerify(secret), `wasm ${k}`).to.equal(ok);
    }
  });

  it("throw (never return a key) for a signature with r = 0 or r >= n", () => {
    const digest = new Uint8Array(32).fill(7);
    for (const r of [0n, N, N + 5n]) {
      const sig = new Uint8Array(64);
      sig.set(bytes32(r % 2n ** 256n), 0);
      sig.set(bytes32(1n), 32);
      for (const backend of [native, wasm]) expect(() => backend.recover(sig, 0, digest), `${backend.name} r=${r}`).to.throw();
    }
  });
});
