// The paid path's faster pieces hold to their references: EIP-712 digests equal viem's for any field values, the
// answer text equals JSON.stringify of the whole answer, write ops survive the trip to the writer (outputs beside the
// JSON), the phase timings add up, and the durability setting is explicit and validated.
import { expect } from "chai";
import fc from "fast-check";
import { bytesToHex, type Hex } from "viem";
import { receiptDigest } from "../../protocol/receipt.ts";
import { voucherDigest } from "../../protocol/voucher.ts";
import { ConfigError, resolveConfig } from "../../worker/config.ts";
import { paidAnswerText } from "../../worker/http/answer-text.ts";
import { PhaseTimings, stopwatch } from "../../worker/perf/phase-timings.ts";
import { createReceiptHasher, createVoucherHasher, putBytes32, putUint256 } from "../../worker/receipts.ts";
import type { WriteOp } from "../../worker/store/db.ts";
import { decodeOp, encodeOp } from "../../worker/store/wire-ops.ts";

const PC = "0x5FbDB2315678afecb367f032d93F642f64180aa3" as const;
const hex32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => bytesToHex(b));
const uint = (bits: number) => fc.bigInt({ min: 0n, max: (1n << BigInt(bits)) - 1n });
/** Values at and around the 64-bit limb edges, where a word writer would go wrong first. */
const edgy = (bits: number) =>
  fc.oneof(uint(bits), fc.constantFrom(...[0n, 1n, 255n, 256n, (1n << 64n) - 1n, 1n << 64n, (1n << 64n) + 1n, (1n << 128n) - 1n, 1n << 192n, (1n << 256n) - 1n].filter((v) => v < 1n << BigInt(bits))));

describe("worker paid path: fast pieces equal their references", () => {
  it("voucher digest equals protocol voucherDigest for any channel id and uint256 amount", () => {
    const fast = createVoucherHasher(31337, PC);
    fc.assert(fc.property(hex32, edgy(256), (id, amount) => bytesToHex(fast(id, amount)) === voucherDigest(31337, PC, id, amount)), { numRuns: 300 });
  });

  it("receipt digest equals protocol receiptDigest for any fields (uint256 and uint64 at their edges), called repeatedly", () => {
    const fast = createReceiptHasher(8453, PC);
    fc.assert(
      fc.property(hex32, edgy(256), edgy(64), edgy(64), edgy(256), hex32, hex32, hex32, hex32, edgy(64), (channelId, cumulativeAmount, units, sequence, modelId, modelHash, inputHash, outputHash, previous, timestamp) => {
        const r = { channelId, cumulativeAmount, units, sequence, modelId, modelHash, inputHash, outputHash, previous, timestamp };
        return bytesToHex(fast(r)) === receiptDigest(r, 8453, PC);
      }),
      { numRuns: 200 },
    );
  });

  it("word writers: a uint256 is written modulo 2^256 over all 32 bytes; a bytes32 must be 0x + 64 hex digits", () => {
    const buf = Buffer.alloc(40, 0xaa);
    putUint256(buf, 4, 1n);
    expect(buf.subarray(4, 36).toString("hex")).to.equal("00".repeat(31) + "01");
    expect(buf[3]).to.equal(0xaa);
    expect(buf[36]).to.equal(0xaa);
    putUint256(buf, 4, (1n << 256n) + 2n);
    expect(buf.subarray(4, 36).toString("hex")).to.equal("00".repeat(31) + "02");
    putUint256(buf, 4, (1n << 256n) - 1n);
    expect(buf.subarray(4, 36).toString("hex")).to.equal("ff".repeat(32));
    for (const bad of ["0x" + "1".repeat(63), "0x" + "1".repeat(65), "0x" + "zz".repeat(32), "0x" + "11".repeat(31) + "1g", "11".repeat(33)]) {
      expect(() => putBytes32(buf, 4, bad as Hex), bad).to.throw(/0x \+ 64 hex digits/);
    }
  });

  it("the paid answer text is JSON.stringify of the whole answer, byte for byte", () => {
    const tensor = fc.record({ type: fc.constant("float32"), dims: fc.array(fc.nat(4), { maxLength: 3 }), data: fc.array(fc.float({ noNaN: true, noDefaultInfinity: true }), { maxLength: 8 }) });
    fc.assert(
      fc.property(fc.dictionary(fc.string(), tensor), fc.string(), fc.nat(), fc.string(), (outputs, sig, units, price) => {
        const rest = { receipt: { signature: sig, sequence: String(units) } as never, price, units, cost: price };
        return paidAnswerText(JSON.stringify(outputs), rest) === JSON.stringify({ outputs, ...rest });
      }),
      { numRuns: 300 },
    );
  });

  it("write ops round-trip through their wire form; a stored answer's outputs travel beside it, by index", () => {
    const id = ("0x" + "ab".repeat(32)) as Hex;
    const ops: WriteOp[] = [
      { op: "storeAnswer", answer: { channelId: id, amount: (1n << 96n) - 1n, bodyHash: id, outputs: '{"y":{"type":"float32","dims":[1],"data":[0.5]},"q":"\\"\\u2028"}' } },
      { op: "recordAccepted", id, state: { acceptedAmount: 10n, acceptedSig: id, verifiedAmount: 0n, verifiedSig: null, firstUnclaimedAt: 5, signerPubkey: null } },
      { op: "storeAnswer", answer: { channelId: id, amount: 2n, bodyHash: id, outputs: "" } },
      { op: "setMeta", key: "k", value: "v" },
    ];
    const texts: string[] = [];
    const wire = JSON.parse(JSON.stringify(ops.map((o) => encodeOp(o, texts)))) as Parameters<typeof decodeOp>[0][];
    expect(texts).to.have.length(2);
    expect(JSON.stringify(wire)).to.not.include("float32");
    expect(wire.map((e) => decodeOp(e, texts))).to.deep.equal(ops);
    // An answer whose text was not sent is an error, never an empty answer.
    expect(() => decodeOp(wire[2]!, texts.slice(0, 1))).to.throw(/not sent/);
  });

  it("phase timings: laps add up per phase, only done() counts a request, reset zeroes; off is a shared no-op", () => {
    const t = new PhaseTimings();
    const a = t.start("paid");
    a.lap("x");
    a.lap("y");
    a.done();
    const b = t.start("paid");
    b.lap("x");
    t.addGroup({ ops: 3, encodeMs: 1, decodeMs: 2, statementsMs: 3, hashMs: 4, signMs: 5, commitMs: 6, hopMs: 7 }, 1000);
    t.addGroup({ ops: 3, encodeMs: 1, decodeMs: 2, statementsMs: 3, hashMs: 4, signMs: 5, commitMs: 6, hopMs: 7 }, 1500);
    t.count("ecdsa recovery (inline)");
    t.count("ecdsa recovery (inline)");
    const s = t.snapshot();
    expect(s.events).to.deep.equal({ "ecdsa recovery (inline)": 2 });
    expect(s.routes.paid!.requests).to.equal(1);
    expect(s.routes.paid!.phases.x!.count).to.equal(2);
    expect(s.routes.paid!.phases.y!.count).to.equal(1);
    expect(s.writer).to.deep.equal({ groups: 2, ops: 6, encodeMs: 2, decodeMs: 4, statementsMs: 6, hashMs: 8, signMs: 10, commitMs: 12, hopMs: 14 });
    expect(s.cpu.writerUs).to.equal(500);
    t.reset();
    const z = t.snapshot();
    expect(z.routes).to.deep.equal({});
    expect(z.events).to.deep.equal({});
    expect(z.writer.groups).to.equal(0);
    expect(z.cpu.writerUs).to.equal(0);
    t.addGroup({ ops: 1, encodeMs: 0, decodeMs: 0, statementsMs: 0, hashMs: 0, signMs: 0, commitMs: 0, hopMs: 0 }, 1700);
    expect(t.snapshot().cpu.writerUs).to.equal(200);
    const off = stopwatch(undefined, "paid");
    expect(off).to.equal(stopwatch(undefined, "unpaid"));
    off.lap("x");
    off.done();
  });

  it("durability is 'full' unless configured; 'os-buffered' is accepted; anything else is refused naming the field", () => {
    const base = { dataDir: "/tmp/x", rpcUrl: "http://127.0.0.1:8545", models: [{ modelId: 1, file: "/dev/null" }], contracts: { paymentChannels: PC, deviceRegistry: PC, modelRegistry: PC, token: PC } };
    expect(resolveConfig(base).durability).to.equal("full");
    expect(resolveConfig(base).debug.timings).to.equal(false);
    expect(resolveConfig({ ...base, durability: "os-buffered" }).durability).to.equal("os-buffered");
    for (const bad of ["normal", "FULL", "", 1, null]) {
      expect(() => resolveConfig({ ...base, durability: bad }), String(bad)).to.throw(ConfigError, /durability/);
    }
    expect(() => resolveConfig({ ...base, debug: { timings: "yes" } })).to.throw(ConfigError, /debug\.timings/);
  });
});
