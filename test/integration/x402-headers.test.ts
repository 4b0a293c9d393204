// The x402 header codec and the worker's PAYMENT-SIGNATURE mapping on arbitrary input (no chain needed): decoding
// never throws, a refusal never touches the native payment headers, and the size limit holds at its boundary.
import { expect } from "chai";
import fc from "fast-check";
import type { IncomingMessage } from "node:http";
import { BODY_HASH_HEADER, MAC_HEADER } from "../../protocol/session.ts";
import { VOUCHER_HEADER } from "../../protocol/voucher.ts";
import { decodeX402Header, encodeX402Header, PAYMENT_SIGNATURE_HEADER, X402_MAX_HEADER_CHARS } from "../../protocol/x402.ts";
import { checkExactWindow } from "../../worker/http/x402-exact.ts";
import { adoptPaymentSignature } from "../../worker/http/x402.ts";

const CHAIN = 31337;
const request = (value: string) => ({ headers: { [PAYMENT_SIGNATURE_HEADER]: value } }) as unknown as IncomingMessage;
const valid = (over: Record<string, unknown> = {}) =>
  encodeX402Header({
    x402Version: 2,
    accepted: { scheme: "edgepay-channel", network: `eip155:${CHAIN}`, amount: "1000", asset: "0x" + "11".repeat(20), payTo: "0x" + "22".repeat(20), maxTimeoutSeconds: 60, extra: {} },
    payload: { voucher: `0x${"ab".repeat(32)}:1000:0x${"cd".repeat(65)}`, mac: "ef".repeat(32), bodySha256: `0x${"01".repeat(32)}` },
    ...over,
  });

describe("x402 headers: codec and PAYMENT-SIGNATURE mapping", () => {
  it("encode/decode round-trips any JSON value (UTF-8 included)", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const d = decodeX402Header(encodeX402Header(v));
        expect(d.ok).to.equal(true);
        expect(d.ok && JSON.stringify(d.value)).to.equal(JSON.stringify(v));
      }),
      { numRuns: 300 },
    );
  });

  it("any header string: no throw, and a refusal leaves the native payment headers unset", () => {
    const codes = new Set(["x402_malformed", "x402_version", "x402_unsupported_scheme", "x402_unsupported_network"]);
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 300 }), fc.base64String({ maxLength: 400 }), fc.jsonValue().map(encodeX402Header)), (raw) => {
        const req = request(raw);
        const refusal = adoptPaymentSignature(req, CHAIN);
        expect(refusal, raw).to.not.equal(undefined);
        expect(codes.has(refusal!.code)).to.equal(true);
        expect([req.headers[VOUCHER_HEADER], req.headers[MAC_HEADER], req.headers[BODY_HASH_HEADER]]).to.deep.equal([undefined, undefined, undefined]);
      }),
      { numRuns: 500 },
    );
  });

  it("a valid header maps onto the three native headers", () => {
    const req = request(valid());
    expect(adoptPaymentSignature(req, CHAIN)).to.equal(undefined);
    expect(req.headers[VOUCHER_HEADER]).to.match(/^0x(ab){32}:1000:0x(cd){65}$/);
    expect(req.headers[MAC_HEADER]).to.equal("ef".repeat(32));
    expect(req.headers[BODY_HASH_HEADER]).to.equal(`0x${"01".repeat(32)}`);
  });

  it("size limit: exactly the limit is decoded, one more character is refused before decoding", () => {
    const padded = (n: number) => {
      // A valid payload padded with JSON whitespace up to n base64 characters (n a multiple of 4).
      const json = JSON.parse(Buffer.from(valid(), "base64").toString("utf8")) as object;
      const text = JSON.stringify(json);
      const bytes = (n / 4) * 3;
      return Buffer.from(text + " ".repeat(bytes - Buffer.byteLength(text))).toString("base64");
    };
    const atLimit = padded(X402_MAX_HEADER_CHARS);
    expect(atLimit.length).to.equal(X402_MAX_HEADER_CHARS);
    expect(adoptPaymentSignature(request(atLimit), CHAIN)).to.equal(undefined);
    const over = adoptPaymentSignature(request(atLimit + "A"), CHAIN);
    expect(over?.code).to.equal("x402_malformed");
    expect(over?.message).to.match(/8193 characters, the limit is 8192/);
  });

  it("version, scheme and network: each refused with its own code", () => {
    expect(adoptPaymentSignature(request(valid({ x402Version: 1 })), CHAIN)?.code).to.equal("x402_version");
    expect(adoptPaymentSignature(request(valid()), CHAIN + 1)?.code).to.equal("x402_unsupported_network");
    const exact = valid({ accepted: { scheme: "exact", network: `eip155:${CHAIN}`, amount: "1", asset: "a", payTo: "b", maxTimeoutSeconds: 1, extra: {} } });
    expect(adoptPaymentSignature(request(exact), CHAIN)?.code).to.equal("x402_unsupported_scheme");
    // A worker that offers `exact` hands the envelope to its exact path, and leaves the native headers unset.
    const req = request(exact);
    const taken = adoptPaymentSignature(req, CHAIN, true);
    expect(taken && "exact" in taken && taken.exact.accepted.scheme).to.equal("exact");
    expect([req.headers[VOUCHER_HEADER], req.headers[MAC_HEADER], req.headers[BODY_HASH_HEADER]]).to.deep.equal([undefined, undefined, undefined]);
    expect((adoptPaymentSignature(request(valid({ accepted: { scheme: "upto", network: `eip155:${CHAIN}`, amount: "1", asset: "a", payTo: "b", maxTimeoutSeconds: 1, extra: {} } })), CHAIN, true) as { code: string }).code).to.equal("x402_unsupported_scheme");
  });

  it("exact window edges: validAfter < now, validBefore > now + margin (==, -1, +1)", () => {
    const now = 1_000_000n;
    const margin = 30n;
    const w = (validAfter: bigint, validBefore: bigint) => {
      const r = checkExactWindow({ validAfter, validBefore }, now, margin);
      return r.valid ? "ok" : r.reason;
    };
    const far = now + 120n;
    expect([w(now - 1n, far), w(now, far), w(now + 1n, far)]).to.deep.equal(["ok", "exact_not_yet_valid", "exact_not_yet_valid"]);
    expect([w(0n, now + margin - 1n), w(0n, now + margin), w(0n, now + margin + 1n)]).to.deep.equal(["exact_expired", "exact_expired", "ok"]);
  });
});
