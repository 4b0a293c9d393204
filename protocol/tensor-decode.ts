// Inverse of encodeTensors (protocol/tensors.ts): a committee member reads the disputed inputs and outputs from the
// openDispute calldata in this canonical encoding. Strict: any byte that does not fit the layout is refused, so a
// member never votes on a guess of what the reporter meant.
import { TensorError, elementCount, type Tensor, type TensorData, type TensorType } from "./tensors.ts";

const MAGIC = "edgepay.tensors.v1";
const TYPES: Record<number, { type: TensorType; size: number }> = {
  1: { type: "float32", size: 4 },
  2: { type: "float64", size: 8 },
  3: { type: "int64", size: 8 },
  4: { type: "int32", size: 4 },
  5: { type: "int16", size: 2 },
  6: { type: "int8", size: 1 },
  7: { type: "uint8", size: 1 },
  8: { type: "bool", size: 1 },
};

function arrayOf(type: TensorType, bytes: Uint8Array): TensorData {
  // A copy: typed arrays need an aligned offset, and the caller's buffer may be reused.
  const buf = bytes.slice().buffer;
  switch (type) {
    case "float32":
      return new Float32Array(buf);
    case "float64":
      return new Float64Array(buf);
    case "int64":
      return new BigInt64Array(buf);
    case "int32":
      return new Int32Array(buf);
    case "int16":
      return new Int16Array(buf);
    case "int8":
      return new Int8Array(buf);
    case "uint8":
    case "bool":
      return new Uint8Array(buf);
  }
}

/** Decodes the canonical tensor encoding; throws TensorError on any malformed or trailing byte. */
export function decodeTensors(encoded: Uint8Array): Record<string, Tensor> {
  const magic = new TextEncoder().encode(MAGIC);
  if (encoded.length < magic.length || !magic.every((b, i) => encoded[i] === b)) throw new TensorError("(encoding)", `does not start with ${MAGIC}`);
  const view = new DataView(encoded.buffer, encoded.byteOffset, encoded.byteLength);
  const out: Record<string, Tensor> = {};
  let o = magic.length;
  const need = (n: number, what: string) => {
    if (o + n > encoded.length) throw new TensorError("(encoding)", `ends inside ${what} at byte ${o}`);
  };
  while (o < encoded.length) {
    need(4, "a name length");
    const nameLength = view.getUint32(o);
    o += 4;
    need(nameLength, "a name");
    const name = new TextDecoder("utf-8", { fatal: true }).decode(encoded.subarray(o, o + nameLength));
    o += nameLength;
    need(5, `${name}'s header`);
    const spec = TYPES[view.getUint8(o)];
    if (!spec) throw new TensorError(name, `has unknown type code ${view.getUint8(o)}`);
    const rank = view.getUint32(o + 1);
    o += 5;
    need(8 * rank + 8, `${name}'s dims`);
    const dims: number[] = [];
    for (let i = 0; i < rank; i++, o += 8) {
      const d = view.getBigUint64(o);
      if (d > BigInt(Number.MAX_SAFE_INTEGER)) throw new TensorError(name, `has dimension ${d}, too large`);
      dims.push(Number(d));
    }
    const length = view.getBigUint64(o);
    o += 8;
    const expected = BigInt(elementCount(dims) * spec.size);
    if (length !== expected) throw new TensorError(name, `holds ${length} bytes but ${spec.type}[${dims.join(", ")}] needs ${expected}`);
    need(Number(length), `${name}'s data`);
    if (name in out) throw new TensorError(name, "appears twice");
    out[name] = { type: spec.type, dims, data: arrayOf(spec.type, encoded.subarray(o, o + Number(length))) };
    o += Number(length);
  }
  return out;
}
