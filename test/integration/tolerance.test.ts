// protocol/tolerance.ts: output comparison under a model's declared tolerance, property-based.
import { expect } from "chai";
import fc from "fast-check";
import { compareOutputs, EXACT, toleranceFromChain, toleranceWire, type Tolerance } from "../../protocol/tolerance.ts";
import type { Tensor } from "../../protocol/tensors.ts";

const f32 = (values: number[], dims = [values.length]): Tensor => ({ type: "float32", dims, data: Float32Array.from(values) });
const f64 = (values: number[], dims = [values.length]): Tensor => ({ type: "float64", dims, data: Float64Array.from(values) });
const i64 = (values: bigint[]): Tensor => ({ type: "int64", dims: [values.length], data: BigInt64Array.from(values) });
const abs = (nano: bigint): Tolerance => ({ kind: "absolute", bound: nano });
const rel = (nano: bigint): Tolerance => ({ kind: "relative", bound: nano });

const finite = fc.double({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true });
const tolerances = fc.oneof(
  fc.constant(EXACT),
  fc.bigInt({ min: 1n, max: 10n ** 9n }).map(abs),
  fc.bigInt({ min: 1n, max: 10n ** 8n }).map(rel),
);
const outputSets = fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.array(finite, { minLength: 1, maxLength: 40 }), { minKeys: 1, maxKeys: 4 });

describe("output tolerance (protocol/tolerance.ts)", () => {
  it("identical outputs always pass, under every tolerance (NaN and infinities included)", () => {
    const special = fc.oneof(finite, fc.constant(Number.NaN), fc.constant(Infinity), fc.constant(-Infinity), fc.constant(-0));
    fc.assert(
      fc.property(fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.array(special, { minLength: 1, maxLength: 40 }), { minKeys: 1, maxKeys: 4 }), tolerances, (set, tol) => {
        const a = Object.fromEntries(Object.entries(set).map(([k, v]) => [k, f64(v)]));
        const b = Object.fromEntries(Object.entries(set).map(([k, v]) => [k, f64(v)]));
        const result = compareOutputs(a, b, tol);
        expect(result).to.deep.equal({ valid: true, maxDifference: 0 });
      }),
    );
  });

  it("a perturbation larger than an absolute bound at any index fails, naming that index and its difference", () => {
    fc.assert(
      fc.property(outputSets, fc.bigInt({ min: 1n, max: 10n ** 9n }), fc.nat(), fc.double({ min: 1.01, max: 100, noNaN: true }), (set, bound, pick, factor) => {
        const names = Object.keys(set).sort();
        const name = names[pick % names.length]!;
        const values = set[name]!;
        const index = pick % values.length;
        const delta = (Number(bound) / 1e9) * factor;
        const reference = Object.fromEntries(Object.entries(set).map(([k, v]) => [k, f64(v)]));
        const candidate = Object.fromEntries(Object.entries(set).map(([k, v]) => [k, f64(k === name ? v.map((x, i) => (i === index ? x + delta : x)) : v)]));
        const result = compareOutputs(reference, candidate, abs(bound));
        // Adding delta to a large value may round: only assert when the stored difference really exceeds the bound.
        const stored = Math.abs(candidate[name]!.data[index]! as number - (values[index] as number));
        if (stored <= Number(bound) / 1e9) return;
        expect(result).to.include({ valid: false, reason: "value_out_of_tolerance", output: name, index });
        if (!result.valid) expect(result.difference).to.equal(stored);
      }),
    );
  });

  it("a perturbation within an absolute bound passes and reports it as maxDifference", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 1, maxLength: 40 }), fc.nat(), (values, pick) => {
        const index = pick % values.length;
        const reference = { y: f64(values) };
        const candidate = { y: f64(values.map((x, i) => (i === index ? x + 0.5e-4 : x))) };
        const result = compareOutputs(reference, candidate, abs(100_000n));
        expect(result.valid).to.equal(true);
        if (result.valid) expect(result.maxDifference).to.be.closeTo(0.5e-4, 1e-12);
      }),
    );
  });

  it("a relative perturbation beyond the bound fails, within it passes, at every magnitude", () => {
    // Magnitudes within a factor 1024 of each other (below that, the tensor's scale is the floor: next test).
    fc.assert(
      fc.property(fc.double({ min: -30, max: 30, noNaN: true }), fc.array(fc.double({ min: 1, max: 1000, noNaN: true }), { minLength: 1, maxLength: 20 }), fc.nat(), fc.boolean(), (exp, raw, pick, outside) => {
        const values = raw.map((v) => v * 10 ** Math.round(exp));
        const index = pick % values.length;
        const r = 1e-4;
        const x = values[index]!;
        const y = outside ? x * (1 + 3 * r) : x * (1 + 0.5 * r);
        const result = compareOutputs({ y: f64(values) }, { y: f64(values.map((v, i) => (i === index ? y : v))) }, rel(100_000n));
        expect(result.valid).to.equal(!outside);
      }),
    );
  });

  it("relative near zero: an element far below the tensor's scale is compared at that scale, an all-small tensor at its own", () => {
    // CPU vs WASM: an output that should be 0 comes out as 1e-9 next to values of magnitude 1.
    expect(compareOutputs({ y: f32([1, 0, 0.5]) }, { y: f32([1, 1e-9, 0.5]) }, rel(100_000n)).valid).to.equal(true);
    // The same error of 1e-9 is a real difference when the whole tensor is of magnitude 1e-8.
    const small = compareOutputs({ y: f64([1e-8, 0, 2e-8]) }, { y: f64([1e-8, 1e-9, 2e-8]) }, rel(100_000n));
    expect(small).to.include({ valid: false, reason: "value_out_of_tolerance", index: 1 });
    // An all-zero reference is exact under a relative bound (declare an absolute bound for such models)...
    expect(compareOutputs({ y: f64([0, 0]) }, { y: f64([0, 1e-30]) }, rel(10n ** 8n))).to.include({ valid: false, index: 1 });
    // ...and a cheat that scales everything by 2 is caught at any scale.
    fc.assert(
      fc.property(fc.array(fc.double({ min: 1e-30, max: 1e30, noNaN: true }), { minLength: 1, maxLength: 20 }), (values) => {
        expect(compareOutputs({ y: f64(values) }, { y: f64(values.map((v) => v * 2)) }, rel(10n ** 8n)).valid).to.equal(false);
      }),
    );
  });

  it("NaN equals NaN at the same index only; an infinity equals the same infinity only", () => {
    expect(compareOutputs({ y: f32([Number.NaN, 1]) }, { y: f32([Number.NaN, 1]) }, EXACT).valid).to.equal(true);
    expect(compareOutputs({ y: f32([Number.NaN, 1]) }, { y: f32([0, 1]) }, abs(10n ** 18n))).to.include({ valid: false, reason: "nan_mismatch", index: 0 });
    expect(compareOutputs({ y: f32([1, 2]) }, { y: f32([1, Number.NaN]) }, rel(10n ** 9n))).to.include({ valid: false, reason: "nan_mismatch", index: 1 });
    expect(compareOutputs({ y: f32([Infinity]) }, { y: f32([Infinity]) }, EXACT).valid).to.equal(true);
    expect(compareOutputs({ y: f32([Infinity]) }, { y: f32([-Infinity]) }, abs(10n ** 18n))).to.include({ valid: false, reason: "value_out_of_tolerance", difference: Infinity });
    expect(compareOutputs({ y: f32([Infinity]) }, { y: f32([3e38]) }, rel(10n ** 9n))).to.include({ valid: false, reason: "value_out_of_tolerance" });
  });

  it("exact: -0 equals +0 (as hashTensors), any other difference fails with the largest one", () => {
    expect(compareOutputs({ y: f32([-0, 1]) }, { y: f32([0, 1]) }, EXACT).valid).to.equal(true);
    const r = compareOutputs({ y: f32([1, 2, 3]) }, { y: f32([1.5, 2, 7]) }, EXACT);
    expect(r).to.deep.equal({ valid: false, reason: "value_out_of_tolerance", output: "y", index: 2, expected: "3", actual: "7", difference: 4, allowed: 0 });
  });

  it("int64 is compared as integers (beyond 2^53 too); a bound below 1 keeps labels exact", () => {
    const big = 2n ** 60n;
    expect(compareOutputs({ l: i64([big]) }, { l: i64([big + 1n]) }, EXACT)).to.include({ valid: false, reason: "value_out_of_tolerance", expected: big.toString(), actual: (big + 1n).toString() });
    expect(compareOutputs({ l: i64([3n]) }, { l: i64([4n]) }, abs(999_999_999n))).to.include({ valid: false, index: 0 });
    expect(compareOutputs({ l: i64([3n]) }, { l: i64([4n]) }, abs(1_000_000_000n)).valid).to.equal(true);
    expect(compareOutputs({ l: i64([big]) }, { l: i64([big + 1n]) }, rel(1n)).valid).to.equal(true);
  });

  it("names, dtypes and shapes must match before values are looked at", () => {
    expect(compareOutputs({ a: f32([1]), b: f32([2]) }, { a: f32([1]) }, EXACT)).to.deep.equal({ valid: false, reason: "output_missing", output: "b" });
    expect(compareOutputs({ a: f32([1]) }, { a: f32([1]), z: f32([2]) }, EXACT)).to.deep.equal({ valid: false, reason: "output_unexpected", output: "z" });
    expect(compareOutputs({ a: f32([1]) }, { a: f64([1]) }, abs(10n ** 9n))).to.deep.equal({ valid: false, reason: "dtype_mismatch", output: "a", expected: "float32", actual: "float64" });
    expect(compareOutputs({ a: f32([1, 2], [1, 2]) }, { a: f32([1, 2], [2, 1]) }, abs(10n ** 9n))).to.deep.equal({
      valid: false,
      reason: "shape_mismatch",
      output: "a",
      expected: "[1, 2]",
      actual: "[2, 1]",
    });
  });

  it("reads the contract's (kind, bound) and the wire form, refusing inconsistent ones", () => {
    expect(toleranceFromChain({ kind: 2, bound: 5n })).to.deep.equal({ kind: "relative", bound: 5n });
    expect(() => toleranceFromChain({ kind: 3, bound: 5n })).to.throw(/unknown tolerance kind 3/);
    expect(toleranceWire.parse({ kind: "absolute", bound: "18446744073709551615" })).to.deep.equal({ kind: "absolute", bound: 2n ** 64n - 1n });
    expect(toleranceWire.safeParse({ kind: "absolute", bound: "18446744073709551616" }).success).to.equal(false);
    expect(toleranceWire.safeParse({ kind: "exact", bound: "1" }).success).to.equal(false);
    expect(toleranceWire.safeParse({ kind: "relative", bound: "0" }).success).to.equal(false);
  });
});
