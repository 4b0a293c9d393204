// decodeTensors (protocol/tensor-decode.ts) is what a dispute committee member trusts to read the disputed inputs and
// outputs from calldata: it must invert encodeTensors exactly and refuse every malformed byte string.
import { expect } from "chai";
import fc from "fast-check";
import { decodeTensors } from "../../protocol/tensor-decode.ts";
import { encodeTensors, TensorError, type Tensor } from "../../protocol/tensors.ts";

const sample = (): Record<string, Tensor> => ({
  output: { type: "float32", dims: [1, 3], data: Float32Array.from([0.5, -1.25, 3e-7]) },
  sr: { type: "int64", dims: [], data: BigInt64Array.from([16000n]) },
  mask: { type: "bool", dims: [2], data: Uint8Array.from([1, 0]) },
});

describe("decodeTensors: the inverse of the canonical tensor encoding", () => {
  it("round-trips every type, scalars and empty tensors; -0 becomes +0 as in the encoding", () => {
    const t: Record<string, Tensor> = { ...sample(), z: { type: "float64", dims: [2], data: Float64Array.from([-0, 2]) }, e: { type: "int32", dims: [0], data: new Int32Array(0) } };
    const back = decodeTensors(encodeTensors(t));
    expect(Object.keys(back).sort()).to.deep.equal(["e", "mask", "output", "sr", "z"]);
    expect(Array.from(back.output!.data as Float32Array)).to.deep.equal(Array.from(t.output!.data as Float32Array));
    expect([back.output!.type, back.output!.dims]).to.deep.equal(["float32", [1, 3]]);
    expect(Array.from(back.sr!.data as BigInt64Array)).to.deep.equal([16000n]);
    expect(back.sr!.dims).to.deep.equal([]);
    expect(Object.is((back.z!.data as Float64Array)[0], 0)).to.equal(true);
    expect(encodeTensors(back)).to.deep.equal(encodeTensors(t));
  });

  it("re-encodes to the same bytes for any float32 tensor (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.float({ noNaN: true }), { maxLength: 64 }), (values) => {
        const t: Record<string, Tensor> = { x: { type: "float32", dims: [values.length], data: Float32Array.from(values) } };
        const bytes = encodeTensors(t);
        expect(encodeTensors(decodeTensors(bytes))).to.deep.equal(bytes);
      }),
      { numRuns: 200 },
    );
  });

  it("refuses a wrong magic, truncation at every length, trailing bytes, an unknown type and a length that does not fit the dims", () => {
    const bytes = encodeTensors(sample());
    expect(() => decodeTensors(bytes.slice(1))).to.throw(TensorError, /does not start with edgepay.tensors.v1/);
    // A cut between two tensors is the valid encoding of the first ones (the receipt's sha256 tells them apart);
    // every other cut is refused.
    const boundaries = [18, encodeTensors({ mask: sample().mask! }).length, encodeTensors({ mask: sample().mask!, output: sample().output! }).length];
    for (let n = 18; n < bytes.length; n++) {
      if (boundaries.includes(n)) expect(encodeTensors(decodeTensors(bytes.slice(0, n)))).to.deep.equal(bytes.slice(0, n));
      else expect(() => decodeTensors(bytes.slice(0, n)), `truncated to ${n}`).to.throw(TensorError);
    }
    expect(() => decodeTensors(Uint8Array.from([...bytes, 0]))).to.throw(TensorError, /ends inside/);
    // First tensor (sorted: "mask"): 4-byte name length, 4-byte name, then the type code.
    const badType = bytes.slice();
    badType[18 + 4 + 4] = 9;
    expect(() => decodeTensors(badType)).to.throw(TensorError, /unknown type code 9/);
    const badLength = bytes.slice();
    // mask: type(1) rank(4) dim(8) then the 8-byte data length; claim 3 bytes for bool[2].
    badLength[18 + 4 + 4 + 1 + 4 + 8 + 7] = 3;
    expect(() => decodeTensors(badLength)).to.throw(TensorError, /holds 3 bytes but bool\[2\] needs 2/);
  });
});
