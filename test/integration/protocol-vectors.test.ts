// The test vectors embedded in docs/protocol.md are what the code produces, byte for byte: the doc's JSON block is
// parsed and compared with the reference implementations (protocol/), with the byte layouts built by hand
// (test/helpers/protocol-vectors.ts), and with the worker's fast hot-path versions. A change of the wire format that
// does not update the doc fails here.
import { expect } from "chai";
import { sha256 } from "@noble/hashes/sha2";
import { readFileSync } from "node:fs";
import path from "node:path";
import { bytesToHex, hexToBytes, recoverAddress, recoverTypedDataAddress, type Hex } from "viem";
import { checkMetering } from "../../protocol/audit.ts";
import { receiptTypes } from "../../protocol/eip712.ts";
import { receiptDigest, type Receipt } from "../../protocol/receipt.ts";
import { decodeVoucherHeader } from "../../protocol/voucher.ts";
import { countUnits, unitRuleWire, UnitError } from "../../protocol/units.ts";
import { hashTensors } from "../../protocol/tensors.ts";
import { ROOT } from "../../scripts/lib/paths.ts";
import { digestSigner, macMatches } from "../../worker/crypto.ts";
import { hashTensorsFast } from "../../worker/hashing.ts";
import { createReceiptHasher, createVoucherHasher } from "../../worker/receipts.ts";
import { canonicalBytes, computeVectors, DEVICE_KEY, workedTensors } from "../helpers/protocol-vectors.ts";

const DOC = path.join(ROOT, "docs/protocol.md");

/** The JSON between `<!-- vectors:begin -->` and `<!-- vectors:end -->` in docs/protocol.md. */
function docVectors(): Awaited<ReturnType<typeof computeVectors>> {
  const text = readFileSync(DOC, "utf8");
  const m = /<!-- vectors:begin -->\s*```json\n([\s\S]*?)```\s*<!-- vectors:end -->/.exec(text);
  if (!m) throw new Error("docs/protocol.md has no vectors block");
  return JSON.parse(m[1]!) as Awaited<ReturnType<typeof computeVectors>>;
}

describe("protocol test vectors (docs/protocol.md)", () => {
  let v: ReturnType<typeof docVectors>;
  before(() => {
    v = docVectors();
  });

  it("the doc's vectors are exactly what the code computes", async () => {
    expect(v).to.deep.equal(JSON.parse(JSON.stringify(await computeVectors())));
  });

  it("canonical tensor hash: the doc's bytes, sha256 of them, the reference and the worker's fast hash agree", () => {
    const bytes = hexToBytes(v.tensorHash.canonicalBytes as Hex);
    expect(bytesToHex(canonicalBytes(workedTensors()))).to.equal(v.tensorHash.canonicalBytes);
    expect(bytesToHex(sha256(bytes))).to.equal(v.tensorHash.sha256);
    expect(hashTensors(workedTensors())).to.equal(v.tensorHash.sha256);
    expect(hashTensorsFast(workedTensors())).to.equal(v.tensorHash.sha256);
    // -0 and +0 hash the same (JSON carries no -0); any other change of a value, a dim or a name does not.
    const plus = workedTensors();
    (plus.input!.data as Float32Array)[2] = 0;
    expect(hashTensors(plus)).to.equal(v.tensorHash.sha256);
    (plus.input!.data as Float32Array)[2] = 1e-30;
    expect(hashTensors(plus)).to.not.equal(v.tensorHash.sha256);
  });

  it("the worked example's annotated bytes in the prose are the canonical bytes, and its sha256 is the vector's", () => {
    const text = readFileSync(DOC, "utf8");
    const block = /Worked example[\s\S]*?```\n([\s\S]*?)```\s*\n\s*sha256 of these bytes = `(0x[0-9a-f]{64})`/.exec(text);
    expect(block, "the worked example block").to.not.equal(null);
    const hex = block![1]!
      .split("\n")
      .map((line) => line.split(/\s{2,}/)[0]!.replace(/\s/g, ""))
      .join("");
    expect(`0x${hex}`).to.equal(v.tensorHash.canonicalBytes);
    expect(block![2]).to.equal(v.tensorHash.sha256);
  });

  it("voucher: EIP-712 digest by hand, by viem and by the worker's hasher; the signature recovers the signer; the header parses", async () => {
    const id = v.channel.channelId as Hex;
    const amount = BigInt(v.units.required);
    expect(v.voucher.digestByHand).to.equal(v.voucher.digest);
    expect(bytesToHex(createVoucherHasher(v.domain.chainId, v.domain.verifyingContract as Hex)(id, amount))).to.equal(v.voucher.digest);
    expect(await recoverAddress({ hash: v.voucher.digest as Hex, signature: v.voucher.signature as Hex })).to.equal(v.keys.signerAddress);
    expect(decodeVoucherHeader(v.voucher.header)).to.deep.equal({ channelId: id, cumulativeAmount: amount, signature: v.voucher.signature });
  });

  it("session MAC: the device derives the same key from the signer's public key and accepts the doc's MAC", async () => {
    const device = digestSigner(DEVICE_KEY as Hex);
    expect(device.address).to.equal(v.keys.deviceAddress);
    expect(device.publicKey).to.equal(v.keys.devicePublicKey);
    const { publicKey } = await import("viem/accounts").then((a) => a.privateKeyToAccount(v.keys.signer as Hex));
    const key = device.sessionKey(hexToBytes(publicKey), v.channel.channelId as Hex);
    expect(bytesToHex(key)).to.equal(v.session.sessionKey);
    // The request MAC: the message is the doc's ten lines, its last the sha256 of the exact body bytes.
    expect(bytesToHex(sha256(new TextEncoder().encode(v.session.body)))).to.equal(v.session.bodyHash);
    const lines = v.session.message.split("\n");
    expect(lines).to.have.length(10);
    expect(lines[0]).to.equal("edgepay.request.v1");
    expect(lines[3]).to.equal(v.channel.channelId.toLowerCase());
    expect(lines[5]).to.equal(v.voucher.signature.toLowerCase());
    expect(lines[9]).to.equal(v.session.bodyHash);
    expect(macMatches(key, v.session.message, v.session.mac)).to.equal(true);
    // Any other body, amount or route is another message, which the MAC does not cover.
    expect(macMatches(key, v.session.message.replace(v.session.bodyHash, bytesToHex(sha256(new TextEncoder().encode("{}")))), v.session.mac)).to.equal(false);
    expect(macMatches(key, v.session.message.replace("/v1/infer/1", "/v1/infer/2"), v.session.mac)).to.equal(false);
  });

  it("receipt: the type string, digest by hand, by viem, by the worker's hasher; the device's signature recovers", async () => {
    expect(v.receipt.type).to.equal(`Receipt(${receiptTypes.Receipt.map((f) => `${f.type} ${f.name}`).join(",")})`);
    expect(v.receipt.type).to.include("uint64 units");
    const f = v.receipt.fields;
    const r: Receipt = {
      channelId: f.channelId as Hex,
      cumulativeAmount: BigInt(f.cumulativeAmount!),
      units: BigInt(f.units!),
      sequence: BigInt(f.sequence!),
      modelId: BigInt(f.modelId!),
      modelHash: f.modelHash as Hex,
      inputHash: f.inputHash as Hex,
      outputHash: f.outputHash as Hex,
      previous: f.previous as Hex,
      timestamp: BigInt(f.timestamp!),
    };
    expect(v.receipt.digestByHand).to.equal(v.receipt.digest);
    expect(receiptDigest(r, v.domain.chainId, v.domain.verifyingContract as Hex)).to.equal(v.receipt.digest);
    expect(bytesToHex(createReceiptHasher(v.domain.chainId, v.domain.verifyingContract as Hex)(r))).to.equal(v.receipt.digest);
    const signer = await recoverTypedDataAddress({
      domain: { name: v.domain.name, version: v.domain.version, chainId: v.domain.chainId, verifyingContract: v.domain.verifyingContract as Hex },
      types: receiptTypes,
      primaryType: "Receipt",
      message: r,
      signature: v.receipt.signature as Hex,
    });
    expect(signer).to.equal(v.keys.deviceAddress);
    // The units are signed: the same receipt with other units has another digest.
    expect(receiptDigest({ ...r, units: r.units + 1n }, v.domain.chainId, v.domain.verifyingContract as Hex)).to.not.equal(v.receipt.digest);
  });

  it("units and cost: the rule counts the doc's batch, cost = units x price, the voucher adds exactly the cost", () => {
    const rule = unitRuleWire.parse(v.units.rule);
    expect(countUnits(rule, v.units.dims)).to.equal(v.units.units);
    expect(BigInt(v.units.cost)).to.equal(BigInt(v.units.units) * BigInt(v.units.price));
    expect(BigInt(v.units.required)).to.equal(BigInt(v.units.lastAccepted) + BigInt(v.units.cost));
    expect(v.receipt.fields.cumulativeAmount).to.equal(v.units.required);
    expect(v.receipt.fields.units).to.equal(String(v.units.units));
    expect(() => countUnits(rule, { input: [65, 512], state: [2, 65, 128], sr: [] })).to.throw(UnitError, /at most 64/);
    // An auditor's check over a channel's receipts: increments are units x price.
    const price = BigInt(v.units.price);
    expect(checkMetering([{ cumulativeAmount: 8000n, units: 3n, sequence: 6n }], price, 5000n)).to.deep.equal({ valid: true });
    expect(checkMetering([{ cumulativeAmount: 8000n, units: 1n, sequence: 6n }], price, 5000n)).to.deep.equal({ valid: false, reason: "amount_not_units_x_price", sequence: 6n });
  });

  it("the demo models the doc lists are the files the worker serves", () => {
    for (const m of Object.values(v.models)) {
      expect(bytesToHex(sha256(readFileSync(path.join(ROOT, m.file))))).to.equal(m.sha256);
    }
  });
});
