// Sealed requests and answers (docs/protocol.md section 13): the doc's vectors are what the reference code computes;
// the worker's native twin (node:crypto, libsecp256k1) produces and opens the same bytes; and properties an attacker
// or a careless caller would test: no two different messages under one key share a nonce, any altered byte or
// context field is refused, envelopes of any odd size are refused cleanly.
import { expect } from "chai";
import fc from "fast-check";
import { readFileSync } from "node:fs";
import path from "node:path";
import { bytesToHex, hexToBytes, type Hex } from "viem";
import {
  channelSealKeys,
  innerTypeOf,
  isSealedType,
  ivMessage,
  openRequest,
  openResponse,
  requestAad,
  SealError,
  sealedContentType,
  sealRequest,
  sealResponse,
  sha256Hex,
  syntheticIv,
  type SealContext,
} from "../../protocol/sealed.ts";
import { publicKeyOf, sessionKey } from "../../protocol/session.ts";
import { ROOT } from "../../scripts/lib/paths.ts";
import { digestSigner } from "../../worker/crypto.ts";
import { anonymousSealKeysNative, channelSealKeysNative, openNative, sealNative } from "../../worker/http/sealing.ts";
import { DEVICE_KEY, SIGNER_KEY } from "../helpers/protocol-vectors.ts";
import { BODY, channelContext, CHANNEL_ID, computeSealedVectors } from "../helpers/sealed-vectors.ts";

const enc = new TextEncoder();

function docVectors(): Awaited<ReturnType<typeof computeSealedVectors>> {
  const text = readFileSync(path.join(ROOT, "docs/protocol.md"), "utf8");
  const m = /<!-- sealed-vectors:begin -->\s*```json\n([\s\S]*?)```\s*<!-- sealed-vectors:end -->/.exec(text);
  if (!m) throw new Error("docs/protocol.md has no sealed-vectors block");
  return JSON.parse(m[1]!) as Awaited<ReturnType<typeof computeSealedVectors>>;
}

async function rejects(p: Promise<unknown>): Promise<SealError> {
  try {
    await p;
  } catch (error) {
    expect(error).to.be.instanceOf(SealError);
    return error as SealError;
  }
  throw new Error("expected a SealError");
}

function nativeRejects(fn: () => unknown): SealError {
  try {
    fn();
  } catch (error) {
    expect(error).to.be.instanceOf(SealError);
    return error as SealError;
  }
  throw new Error("expected a SealError");
}

describe("sealed requests: protocol (docs/protocol.md section 13)", () => {
  const keys = channelSealKeys(sessionKey(SIGNER_KEY, publicKeyOf(DEVICE_KEY), CHANNEL_ID));
  const ctx = channelContext();

  it("the doc's vectors are exactly what the code computes", async () => {
    expect(docVectors()).to.deep.equal(JSON.parse(JSON.stringify(await computeSealedVectors())));
  });

  it("the worker's native twin derives the same keys, seals the same bytes and opens the reference's", async () => {
    const v = docVectors();
    const native = channelSealKeysNative(hexToBytes(v.channel.sessionKey as Hex));
    expect(bytesToHex(native.request.enc)).to.equal(v.channel.keys.requestEnc);
    expect(bytesToHex(native.response.iv)).to.equal(v.channel.keys.responseIv);
    const sealed = sealNative(native.request, requestAad(ctx, "application/json"), enc.encode(BODY), Uint8Array.of(1));
    expect(bytesToHex(sealed)).to.equal(v.channel.request);
    expect(new TextDecoder().decode(openNative(native.request.enc, requestAad(ctx, "application/json"), Buffer.from(hexToBytes(v.channel.request as Hex)), 1))).to.equal(BODY);
    // The reference opens the vector's answer for that request and status only.
    const opened = await openResponse(keys, ctx, v.channel.requestSha256, 200, v.channel.responseContentType, hexToBytes(v.channel.response as Hex));
    expect(new TextDecoder().decode(opened.body)).to.equal(v.channel.answer);
    expect(opened.innerType).to.equal("application/json; charset=utf-8");
    expect((await rejects(openResponse(keys, ctx, v.channel.requestSha256, 402, v.channel.responseContentType, hexToBytes(v.channel.response as Hex)))).code).to.equal("tampered");
    expect((await rejects(openResponse(keys, ctx, sha256Hex(enc.encode("other")), 200, v.channel.responseContentType, hexToBytes(v.channel.response as Hex)))).code).to.equal("tampered");

    // Anonymous: the device key alone (libsecp256k1 ECDH) reaches the same keys as the ephemeral side.
    const device = digestSigner(DEVICE_KEY);
    const anon = anonymousSealKeysNative(device, hexToBytes(v.anonymous.ephemeralPublicKey as Hex));
    expect(bytesToHex(anon.request.enc)).to.equal(v.anonymous.keys.requestEnc);
    expect(bytesToHex(anon.response.enc)).to.equal(v.anonymous.keys.responseEnc);
    const anonCtx: SealContext = { kind: "anonymous", ephemeralPublicKey: v.anonymous.ephemeralPublicKey as Hex, devicePublicKey: device.publicKey, method: "POST", path: "/v1/unpaid/infer/1" };
    const plain = openNative(anon.request.enc, requestAad(anonCtx, "application/json"), Buffer.from(hexToBytes(v.anonymous.request as Hex)), 34);
    expect(new TextDecoder().decode(plain)).to.equal(BODY);
  });

  it("nonces: under one key, two seals share a nonce only when they seal the same message (fast-check)", async () => {
    // Messages with deliberate overlaps: same body at another amount, another body at the same amount, the same
    // message twice (a re-send), and the length-prefix edge where aad/plaintext bytes could be split differently.
    const message = fc.record({
      amount: fc.bigInt({ min: 0n, max: 10n }),
      body: fc.uint8Array({ maxLength: 24 }),
      type: fc.constantFrom("application/json", "application/json2", "a"),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(message, { minLength: 2, maxLength: 12 }), async (messages) => {
        const seen = new Map<string, string>();
        for (const m of messages) {
          const aad = requestAad({ ...ctx, cumulativeAmount: m.amount }, m.type);
          const iv = bytesToHex(await syntheticIv(keys.request.iv, aad, m.body));
          const what = bytesToHex(ivMessage(aad, m.body));
          const before = seen.get(iv);
          if (before !== undefined) expect(before, "a nonce was reused for another message").to.equal(what);
          seen.set(iv, what);
        }
      }),
      { numRuns: 200 },
    );
    // The length prefix makes (aad, plaintext) -> iv message injective: moving a byte across the boundary changes it.
    await fc.assert(
      fc.property(fc.uint8Array({ maxLength: 16 }), fc.uint8Array({ maxLength: 16 }), fc.integer({ min: -16, max: 16 }), (a, p, shift) => {
        const joined = new Uint8Array([...a, ...p]);
        const cut = Math.max(0, Math.min(joined.length, a.length + shift));
        const a2 = joined.subarray(0, cut);
        const p2 = joined.subarray(cut);
        const same = cut === a.length;
        expect(bytesToHex(ivMessage(a, p)) === bytesToHex(ivMessage(a2, p2))).to.equal(same);
      }),
    );
    // Directions and channels never share a key, so equal nonces across them are never a reuse.
    const other = channelSealKeys(sessionKey(SIGNER_KEY, publicKeyOf(DEVICE_KEY), `0x${"11".repeat(32)}`));
    const all = [keys.request.enc, keys.response.enc, other.request.enc, other.response.enc].map((k) => bytesToHex(k));
    expect(new Set(all).size).to.equal(4);
  });

  it("a re-sent request seals to the same bytes (the stored MAC stays valid); another amount does not", async () => {
    const a = await sealRequest(keys, ctx, "application/json", enc.encode(BODY));
    const b = await sealRequest(keys, ctx, "application/json", enc.encode(BODY));
    const c = await sealRequest(keys, { ...ctx, cumulativeAmount: 3001n }, "application/json", enc.encode(BODY));
    expect(bytesToHex(a.body)).to.equal(bytesToHex(b.body));
    expect(bytesToHex(a.body.subarray(1, 13))).to.not.equal(bytesToHex(c.body.subarray(1, 13)));
  });

  it("any altered byte of a request or an answer is refused, by the reference and the native twin (fast-check)", async () => {
    const request = await sealRequest(keys, ctx, "application/json", enc.encode(BODY));
    const hash = sha256Hex(request.body);
    const answer = await sealResponse(keys, ctx, hash, 200, "application/json", enc.encode(BODY));
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.integer({ min: 1, max: 255 }), async (at, mask) => {
        const i = at % request.body.length;
        const bad = Uint8Array.from(request.body);
        bad[i]! ^= mask;
        const e = await rejects(openRequest(keys, ctx, "application/json", bad));
        expect(e.code).to.equal(i === 0 ? "invalid_envelope" : "tampered");
        if (i > 0) nativeRejects(() => openNative(keys.request.enc, requestAad(ctx, "application/json"), Buffer.from(bad), 1));
        const j = at % answer.body.length;
        const badAnswer = Uint8Array.from(answer.body);
        badAnswer[j]! ^= mask;
        await rejects(openResponse(keys, ctx, hash, 200, answer.contentType, badAnswer));
      }),
      { numRuns: 150 },
    );
  });

  it("a request sealed for another context (channel, amount, signature, model, route, inner type) does not open", async () => {
    const request = await sealRequest(keys, ctx, "application/json", enc.encode(BODY));
    const variants: [SealContext, string][] = [
      [{ ...ctx, channelId: `0x${"22".repeat(32)}` }, "application/json"],
      [{ ...ctx, cumulativeAmount: 2999n }, "application/json"],
      [{ ...ctx, signature: `0x${"cd".repeat(64)}1c` }, "application/json"],
      [{ ...ctx, modelId: 2n }, "application/json"],
      [{ ...ctx, path: "/v1/infer/2" }, "application/json"],
      [{ ...ctx, chainId: 1 }, "application/json"],
      [ctx, "application/octet-stream"],
    ];
    for (const [other, type] of variants) expect((await rejects(openRequest(keys, other, type, request.body))).code).to.equal("tampered");
    expect(new TextDecoder().decode(await openRequest(keys, ctx, "application/json", request.body))).to.equal(BODY);
  });

  it("envelopes of odd sizes and versions are refused as invalid_envelope, never a crash", async () => {
    for (const size of [0, 1, 12, 28, 29]) {
      const e = await rejects(openRequest(keys, ctx, "application/json", new Uint8Array(size).fill(1)));
      expect(e.code).to.equal(size < 29 ? "invalid_envelope" : "tampered");
    }
    expect((await rejects(openRequest(keys, ctx, "application/json", Uint8Array.of(2, ...new Uint8Array(40))))).code).to.equal("invalid_envelope");
    expect((await rejects(openResponse(keys, ctx, sha256Hex(new Uint8Array()), 200, "application/json", new Uint8Array(40)))).code).to.equal("not_sealed");
    expect((await rejects(openResponse(keys, ctx, sha256Hex(new Uint8Array()), 200, "application/vnd.edgepay.sealed", new Uint8Array(40)))).code).to.equal("invalid_envelope");
    nativeRejects(() => openNative(keys.request.enc, requestAad(ctx, "application/json"), Buffer.alloc(28), 1));
  });

  it("content types: the inner type round-trips through quoting; malformed or non-printable types are refused", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[\x20-\x7e]{1,60}$/), (inner) => {
        const outer = sealedContentType(inner);
        expect(isSealedType(outer)).to.equal(true);
        expect(innerTypeOf(outer)).to.equal(inner);
      }),
    );
    expect(isSealedType("application/json")).to.equal(false);
    expect(isSealedType("application/vnd.edgepay.sealedx")).to.equal(false);
    expect(() => innerTypeOf("application/vnd.edgepay.sealed")).to.throw(SealError);
    expect(() => innerTypeOf('application/vnd.edgepay.sealed; type="a\nb"')).to.throw(SealError);
    expect(() => sealedContentType("")).to.throw(SealError);
  });
});
