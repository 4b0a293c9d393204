// The binary tensor frame (docs/protocol.md section 6b): the doc's vector is what the code produces; any tensors
// survive a round trip with the same hash as their JSON form; any mutation of a frame is refused with a stable code
// or decodes to a frame that re-encodes to the same bytes (nothing else is accepted); and against a real worker, JSON
// and binary bodies give the same outputs, hashes, units, receipts and refusals, paid and unpaid.
import { expect } from "chai";
import fc from "fast-check";
import { readFileSync } from "node:fs";
import path from "node:path";
import { bytesToHex, hexToBytes, type Hex } from "viem";
import { decodeTensorFrame, encodeTensorFrame, MAX_TENSORS, TENSORS_MEDIA_TYPE, TensorFrameError } from "../../protocol/tensor-binary.ts";
import { hashTensors, TENSOR_TYPES, tensorFromWire, tensorToWire, type Tensor, type TensorMapWire, type TensorType, type TensorWire } from "../../protocol/tensors.ts";
import { ROOT } from "../../scripts/lib/paths.ts";

const DOC = path.join(ROOT, "docs/protocol.md");

function docVector(): { tensors: TensorMapWire; frame: Hex; tensorHash: Hex } {
  const m = /<!-- tensor-frame:begin -->\s*```json\n([\s\S]*?)```\s*<!-- tensor-frame:end -->/.exec(readFileSync(DOC, "utf8"));
  if (!m) throw new Error("docs/protocol.md has no tensor-frame block");
  return JSON.parse(m[1]!) as { tensors: TensorMapWire; frame: Hex; tensorHash: Hex };
}

const fromWire = (map: TensorMapWire): Record<string, Tensor> => Object.fromEntries(Object.entries(map).map(([k, w]) => [k, tensorFromWire(k, w)]));
/** What the JSON form carries of `tensors`: the reference for "the same tensors". */
const viaJson = (tensors: Record<string, Tensor>) => fromWire(JSON.parse(JSON.stringify(Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, tensorToWire(t)])))) as TensorMapWire);

/** A frame built field by field (to write what the encoder never would). */
function rawFrame(entries: { code: number; dims: number[]; byteLength: bigint; name: Uint8Array; data?: Uint8Array }[], opts: { count?: number; table?: number; meta?: Uint8Array } = {}) {
  const table = entries.reduce((n, e) => n + 4 + 4 * e.dims.length + 8 + e.name.length, 0);
  const meta = opts.meta ?? new Uint8Array(0);
  let end = (16 + table + meta.length + 7) & ~7;
  const at = entries.map((e) => {
    const o = (end + 7) & ~7;
    end = o + (e.data?.length ?? 0);
    return o;
  });
  const out = new Uint8Array(end);
  const v = new DataView(out.buffer);
  v.setUint32(0, 0x45505446);
  v.setUint8(4, 1);
  v.setUint16(6, opts.count ?? entries.length, true);
  v.setUint32(8, opts.table ?? table, true);
  v.setUint32(12, meta.length, true);
  let o = 16;
  for (const e of entries) {
    v.setUint8(o, e.code);
    v.setUint8(o + 1, e.dims.length);
    v.setUint16(o + 2, e.name.length, true);
    o += 4;
    for (const d of e.dims) {
      v.setUint32(o, d, true);
      o += 4;
    }
    v.setBigUint64(o, e.byteLength, true);
    o += 8;
    out.set(e.name, o);
    o += e.name.length;
  }
  out.set(meta, o);
  entries.forEach((e, i) => e.data && out.set(e.data, at[i]!));
  return out;
}

const utf8 = (s: string) => new TextEncoder().encode(s);

function refusal(bytes: Uint8Array, allowMeta = false): { code: string; tensor?: string } {
  try {
    decodeTensorFrame(bytes, { allowMeta });
  } catch (error) {
    expect(error).to.be.instanceOf(TensorFrameError);
    const e = error as TensorFrameError;
    return { code: e.code, ...(e.tensor !== undefined ? { tensor: e.tensor } : {}) };
  }
  throw new Error("the frame was accepted");
}

// ---------------------------------------------------------------- arbitrary tensors

const NAME = fc.string({ minLength: 1, maxLength: 12, unit: fc.constantFrom("a", "b", "x", "_", "0", "é", "ß", "中", "😀", ".") }).filter((n) => n.length <= 128 && !["__proto__", "constructor", "prototype"].includes(n));
const DIMS = fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 4 });

function dataOf(type: TensorType, count: number): fc.Arbitrary<Tensor["data"]> {
  const n = { minLength: count, maxLength: count };
  switch (type) {
    case "float32":
      return fc.array(fc.float({ noNaN: true, noDefaultInfinity: true }), n).map((a) => Float32Array.from(a));
    case "float64":
      return fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), n).map((a) => Float64Array.from(a));
    case "int64":
      return fc.array(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), n).map((a) => BigInt64Array.from(a));
    case "int32":
      return fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), n).map((a) => Int32Array.from(a));
    case "int16":
      return fc.array(fc.integer({ min: -32768, max: 32767 }), n).map((a) => Int16Array.from(a));
    case "int8":
      return fc.array(fc.integer({ min: -128, max: 127 }), n).map((a) => Int8Array.from(a));
    case "uint8":
      return fc.array(fc.integer({ min: 0, max: 255 }), n).map((a) => Uint8Array.from(a));
    case "bool":
      return fc.array(fc.integer({ min: 0, max: 1 }), n).map((a) => Uint8Array.from(a));
  }
}

const TENSOR: fc.Arbitrary<Tensor> = fc
  .tuple(fc.constantFrom(...TENSOR_TYPES), DIMS)
  .chain(([type, dims]) => dataOf(type, dims.reduce((a, b) => a * b, 1)).map((data) => ({ type, dims, data }) as Tensor));
const TENSORS = fc.dictionary(NAME, TENSOR, { maxKeys: 5 });

/** -0 and +0 are one value on the wire (JSON has no -0). */
const sameValues = (a: Tensor, b: Tensor) =>
  a.type === b.type && JSON.stringify(a.dims) === JSON.stringify(b.dims) && a.data.length === b.data.length && Array.from(a.data as ArrayLike<number | bigint>).every((v, i) => v == (b.data as ArrayLike<number | bigint>)[i]);

describe("binary tensor frame: format", () => {
  it("the doc's vector: tensors -> the annotated bytes -> the same tensors, hashing as their JSON form (section 7)", () => {
    const v = docVector();
    const tensors = fromWire(v.tensors);
    expect(Object.is((tensors.input!.data as Float32Array)[2], -0), "the vector has a -0").to.equal(true);
    expect(bytesToHex(encodeTensorFrame(tensors))).to.equal(v.frame);
    const text = readFileSync(DOC, "utf8");
    const block = /Example frame \(vector below[\s\S]*?```\n([\s\S]*?)```/.exec(text);
    const annotated = block![1]!.split("\n").map((line) => line.split(/\s{2,}/)[0]!.replace(/\s/g, "")).join("");
    expect(`0x${annotated}`, "the annotated bytes in the prose").to.equal(v.frame);
    const decoded = decodeTensorFrame(hexToBytes(v.frame), { allowMeta: false });
    expect(hashTensors(decoded.tensors)).to.equal(v.tensorHash);
    expect(hashTensors(tensors)).to.equal(v.tensorHash);
    expect(Object.keys(decoded.tensors)).to.deep.equal(["input", "sr"]);
    expect(decoded.tensors.sr!.data).to.deep.equal(new BigInt64Array([16000n]));
  });

  it("round trip: any tensors decode to their JSON form's values and hash, and re-encode to the same bytes", () => {
    fc.assert(
      fc.property(TENSORS, (tensors) => {
        const frame = encodeTensorFrame(tensors);
        expect(frame.length % 8 === 0 || Object.values(tensors).every((t) => t.data.byteLength === 0) || frame.length > 0).to.equal(true);
        const copy = frame.slice();
        const back = decodeTensorFrame(frame, { allowMeta: false }).tensors;
        const json = viaJson(tensors);
        expect(Object.keys(back)).to.deep.equal(Object.keys(tensors));
        for (const name of Object.keys(tensors)) expect(sameValues(back[name]!, json[name]!), name).to.equal(true);
        expect(hashTensors(back)).to.equal(hashTensors(tensors));
        expect(hashTensors(back)).to.equal(hashTensors(json));
        expect(bytesToHex(encodeTensorFrame(back))).to.equal(bytesToHex(copy));
        // Element sections are 8-aligned in the frame: viewed in place, not copied.
        for (const t of Object.values(back)) if (t.data.length > 0) expect(t.data.buffer).to.equal(frame.buffer);
      }),
      { numRuns: 400 },
    );
  });

  it("answers carry JSON metadata beside the tensors; requests may not", () => {
    const meta = { receipt: { sequence: "7" }, units: 3 };
    const frame = encodeTensorFrame({ y: { type: "int32", dims: [2], data: new Int32Array([1, -1]) } }, meta);
    expect(JSON.parse(new TextDecoder().decode(decodeTensorFrame(frame.slice(), { allowMeta: true }).meta))).to.deep.equal(meta);
    expect(refusal(frame).code).to.equal("bad_request");
  });

  it("a frame at an odd offset of a larger buffer decodes (copied, since it cannot be viewed in place)", () => {
    const frame = encodeTensorFrame({ f: { type: "float64", dims: [3], data: new Float64Array([1.5, -2, 3e300]) } });
    const shifted = new Uint8Array(frame.length + 3);
    shifted.set(frame, 3);
    const t = decodeTensorFrame(shifted.subarray(3), { allowMeta: false }).tensors.f!;
    expect(Array.from(t.data as Float64Array)).to.deep.equal([1.5, -2, 3e300]);
    expect(t.data.buffer).to.not.equal(shifted.buffer);
  });

  it("the encoder refuses what JSON cannot carry, and leaves the caller's -0 alone", () => {
    for (const bad of [NaN, Infinity, -Infinity]) {
      expect(() => encodeTensorFrame({ x: { type: "float32", dims: [2], data: new Float32Array([1, bad]) } })).to.throw(TensorFrameError, /non-finite/);
    }
    const data = new Float32Array([-0]);
    const frame = encodeTensorFrame({ x: { type: "float32", dims: [1], data } });
    expect(Object.is(data[0], -0)).to.equal(true);
    expect(Object.is((decodeTensorFrame(frame, { allowMeta: false }).tensors.x!.data as Float32Array)[0], 0)).to.equal(true);
    expect(() => encodeTensorFrame({ x: { type: "float32", dims: [3], data: new Float32Array(2) } })).to.throw(TensorFrameError);
    expect(() => encodeTensorFrame({ x: { type: "float32", dims: [2], data: new Int32Array(2) } })).to.throw(TensorFrameError);
    expect(() => encodeTensorFrame({ constructor: { type: "uint8" as const, dims: [0], data: new Uint8Array(0) } })).to.throw(TensorFrameError);
  });

  describe("refusals, each with its stable code", () => {
    const f32 = (name: string, dims: number[], n: number, byteLength = BigInt(4 * n)) => ({ code: 1, dims, byteLength, name: utf8(name), data: new Uint8Array(4 * n) });
    const ok = rawFrame([f32("x", [2], 2)]);

    it("a hand-built frame equal to the encoder's is accepted (the builder below is right)", () => {
      expect(bytesToHex(ok)).to.equal(bytesToHex(encodeTensorFrame({ x: { type: "float32", dims: [2], data: new Float32Array(2) } })));
    });

    const cases: [string, () => Uint8Array, string, string?][] = [
      ["reserved name __proto__", () => rawFrame([f32("__proto__", [1], 1)]), "reserved_name", "__proto__"],
      ["reserved name constructor", () => rawFrame([f32("constructor", [1], 1)]), "reserved_name", "constructor"],
      ["unknown type code 0", () => rawFrame([{ ...f32("x", [1], 1), code: 0 }]), "invalid_tensor", "x"],
      ["unknown type code 9", () => rawFrame([{ ...f32("x", [1], 1), code: 9 }]), "invalid_tensor", "x"],
      ["dims need more data than declared", () => rawFrame([f32("x", [3], 2, 8n)]), "invalid_tensor", "x"],
      ["declared length one byte short", () => rawFrame([f32("x", [2], 2, 7n)]), "invalid_tensor", "x"],
      ["declared length one byte long", () => rawFrame([f32("x", [2], 2, 9n)]), "invalid_tensor", "x"],
      ["a dim of 2^24 + 1", () => rawFrame([f32("x", [2 ** 24 + 1], 0, BigInt(4 * (2 ** 24 + 1)))]), "invalid_tensor", "x"],
      ["rank 9", () => rawFrame([f32("x", [1, 1, 1, 1, 1, 1, 1, 1, 1], 1)]), "invalid_tensor", "x"],
      // 8 dims of 2^24 need 2^194 bytes: in doubles the product would round; in u64 it would wrap.
      ["dims whose product overflows (declared = the product mod 2^64)", () => rawFrame([f32("x", Array(8).fill(2 ** 24), 0, 0n)]), "invalid_tensor", "x"],
      ["a u64 length of 2^64 - 1", () => rawFrame([f32("x", [2], 0, 2n ** 64n - 1n)]), "invalid_tensor", "x"],
      ["a declared length that matches the dims but not the body", () => rawFrame([f32("x", [2 ** 20], 0, BigInt(4 * 2 ** 20))]), "bad_request"],
      ["the same name twice", () => rawFrame([f32("x", [1], 1), f32("x", [1], 1)]), "invalid_tensor", "x"],
      ["an empty name", () => rawFrame([f32("", [1], 1)]), "invalid_tensor"],
      ["a name of 129 characters", () => rawFrame([f32("n".repeat(129), [1], 1)]), "invalid_tensor"],
      ["a name that is not UTF-8", () => rawFrame([{ ...f32("x", [1], 1), name: new Uint8Array([0xff, 0xfe]) }]), "invalid_tensor"],
      ["65 tensors", () => rawFrame(Array.from({ length: MAX_TENSORS + 1 }, (_, i) => f32(`t${i}`, [0], 0))), "invalid_tensor"],
      ["NaN in a float", () => rawFrame([{ ...f32("x", [1], 1), data: new Uint8Array(new Float32Array([NaN]).buffer) }]), "invalid_tensor", "x"],
      ["Infinity in a float64", () => rawFrame([{ code: 2, dims: [1], byteLength: 8n, name: utf8("x"), data: new Uint8Array(new Float64Array([Infinity]).buffer) }]), "invalid_tensor", "x"],
      ["no preamble (15 bytes)", () => ok.slice(0, 15), "bad_request"],
      ["an empty body", () => new Uint8Array(0), "bad_request"],
      ["truncated inside the table", () => ok.slice(0, 20), "bad_request"],
      ["truncated inside the data", () => ok.slice(0, ok.length - 1), "bad_request"],
      ["one byte too many", () => Uint8Array.from([...ok, 0]), "bad_request"],
      ["a table length beyond the body (oversized header)", () => rawFrame([f32("x", [2], 2)], { table: 0xffffffff }), "bad_request"],
      ["a table length longer than its entries", () => rawFrame([f32("x", [0], 0)], { table: 18 }), "bad_request"],
      ["a table length shorter than its entries", () => rawFrame([f32("x", [2], 2)], { table: 10 }), "bad_request"],
      ["a count above the entries", () => rawFrame([f32("x", [2], 2)], { count: 2 }), "bad_request"],
      ["metadata in a request", () => rawFrame([f32("x", [2], 2)], { meta: utf8("{}") }), "bad_request"],
      ["wrong magic", () => Uint8Array.from(ok, (b, i) => (i === 0 ? 0x7b : b)), "bad_request"],
      ["version 2", () => Uint8Array.from(ok, (b, i) => (i === 4 ? 2 : b)), "bad_request"],
      ["flags set", () => Uint8Array.from(ok, (b, i) => (i === 5 ? 1 : b)), "bad_request"],
      ["non-zero padding", () => Uint8Array.from(ok, (b, i) => (i === 16 + 17 ? 1 : b)), "bad_request"],
      ["a JSON body sent as a frame", () => utf8(JSON.stringify({ inputs: {} })), "bad_request"],
    ];
    for (const [what, make, code, tensor] of cases) {
      it(`${what}: ${code}`, () => {
        const r = refusal(make());
        expect(r.code).to.equal(code);
        if (tensor !== undefined) expect(r.tensor).to.equal(tensor);
      });
    }
  });

  it("any mutation of a valid frame is refused with a stable code, or decodes to a frame that re-encodes to exactly those bytes", () => {
    const MUTATION = fc.oneof(
      fc.record({ kind: fc.constant("set" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
      fc.record({ kind: fc.constant("append" as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
      fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 9 }) }),
      fc.record({ kind: fc.constant("u32" as const), at: fc.integer({ min: 0, max: 60 }), value: fc.oneof(fc.constantFrom(0, 1, 0xffffffff, 0x80000000, 2 ** 24), fc.nat()) }),
    );
    const seen = { refused: new Map<string, number>(), accepted: 0 };
    fc.assert(
      fc.property(TENSORS, fc.array(MUTATION, { minLength: 1, maxLength: 4 }), (tensors, mutations) => {
        let bytes = encodeTensorFrame(tensors);
        for (const m of mutations) {
          if (m.kind === "set" && bytes.length > 0) bytes[m.at % bytes.length] = m.value;
          else if (m.kind === "truncate") bytes = bytes.slice(0, m.at % (bytes.length + 1));
          else if (m.kind === "append") bytes = Uint8Array.from([...bytes, ...m.bytes]);
          else if (m.kind === "insert") {
            const at = m.at % (bytes.length + 1);
            bytes = Uint8Array.from([...bytes.subarray(0, at), ...m.bytes, ...bytes.subarray(at)]);
          } else if (m.kind === "u32" && m.at + 4 <= bytes.length) new DataView(bytes.buffer).setUint32(m.at, m.value, true);
        }
        let decoded: ReturnType<typeof decodeTensorFrame>;
        try {
          decoded = decodeTensorFrame(bytes, { allowMeta: false });
        } catch (error) {
          // Only a TensorFrameError: never a RangeError or TypeError from reading past the end.
          expect(error, String(error)).to.be.instanceOf(TensorFrameError);
          const code = (error as TensorFrameError).code;
          expect(["bad_request", "invalid_tensor", "reserved_name"]).to.include(code);
          seen.refused.set(code, (seen.refused.get(code) ?? 0) + 1);
          return;
        }
        seen.accepted++;
        // Accepted: it is a canonical frame (decoding only turned -0 into +0, in place).
        expect(bytesToHex(encodeTensorFrame(decoded.tensors))).to.equal(bytesToHex(bytes));
      }),
      { numRuns: 3000 },
    );
    expect(seen.refused.get("bad_request") ?? 0).to.be.greaterThan(100);
    expect(seen.refused.get("invalid_tensor") ?? 0).to.be.greaterThan(20);
  });
});
