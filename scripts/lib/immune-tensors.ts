// Reads back the canonical tensor encoding of protocol/tensors.ts (encodeTensors), which is what a dispute's
// calldata carries: a committee member takes the inputs and the accused device's outputs from the openDispute
// transaction, not from the reporter's word. Kept beside the simulation until protocol/ grows a decoder of its own.
import { hexToBytes, type Hex } from "viem";
import { TENSOR_TYPES, TensorError, encodeTensors, type Tensor, type TensorData, type TensorType } from "../../protocol/tensors.ts";

const MAGIC = "edgepay.tensors.v1";
/** Type codes of encodeTensors, by position (1-based) in this order. */
const CODES: readonly TensorType[] = ["float32", "float64", "int64", "int32", "int16", "int8", "uint8", "bool"];
const WIDTH: Record<TensorType, number> = { float32: 4, float64: 8, int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1 };

function typed(type: TensorType, bytes: Uint8Array): TensorData {
  // A copy: aligned for the typed array whatever the offset in the calldata.
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

/** Decodes `encodeTensors` output; throws TensorError on anything malformed, and re-encodes to prove it canonical. */
export function decodeTensors(encoded: Hex | Uint8Array): Record<string, Tensor> {
  const bytes = typeof encoded === "string" ? hexToBytes(encoded) : encoded;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = new TextDecoder();
  if (text.decode(bytes.subarray(0, MAGIC.length)) !== MAGIC) throw new TensorError("(encoding)", `does not start with ${MAGIC}`);
  const out: Record<string, Tensor> = {};
  let o = MAGIC.length;
  const need = (n: number) => {
    if (o + n > bytes.length) throw new TensorError("(encoding)", `is truncated at byte ${o}`);
  };
  while (o < bytes.length) {
    need(4);
    const nameLength = view.getUint32(o);
    o += 4;
    need(nameLength + 5);
    const name = text.decode(bytes.subarray(o, o + nameLength));
    o += nameLength;
    const type = CODES[view.getUint8(o) - 1];
    o += 1;
    if (!type || !TENSOR_TYPES.includes(type)) throw new TensorError(name, "has an unknown type code");
    const rank = view.getUint32(o);
    o += 4;
    need(8 * rank + 8);
    const dims: number[] = [];
    for (let i = 0; i < rank; i++, o += 8) dims.push(Number(view.getBigUint64(o)));
    const length = Number(view.getBigUint64(o));
    o += 8;
    need(length);
    if (length !== dims.reduce((a, b) => a * b, 1) * WIDTH[type]) throw new TensorError(name, `has ${length} bytes for dims [${dims.join(", ")}]`);
    out[name] = { type, dims, data: typed(type, bytes.subarray(o, o + length)) };
    o += length;
  }
  const again = encodeTensors(out);
  if (again.length !== bytes.length || again.some((b, i) => b !== bytes[i])) throw new TensorError("(encoding)", "is not canonical (order or -0)");
  return out;
}
