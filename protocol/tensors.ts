// Named tensors on the wire (JSON) and their canonical hash, shared by worker, buyer client and dashboard.
// The hash covers name, element type, dims and the little-endian element bytes, so both sides hash exactly
// what the model saw, independent of JSON formatting.
import { sha256, type Hex } from "viem";
import { z } from "zod";

export const TENSOR_TYPES = ["float32", "float64", "int64", "int32", "int16", "int8", "uint8", "bool"] as const;
export type TensorType = (typeof TENSOR_TYPES)[number];

export type TensorData = Float32Array | Float64Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

/** A tensor in memory. */
export interface Tensor {
  type: TensorType;
  dims: number[];
  data: TensorData;
}

/** A tensor on the wire: int64 values as decimal strings (or safe integers), others as JSON numbers. */
export const tensorWire = z.object({
  type: z.enum(TENSOR_TYPES),
  dims: z.array(z.number().int().min(0).max(1 << 24)).max(8),
  data: z.array(z.union([z.number(), z.string().regex(/^-?[0-9]{1,20}$/)])),
});
export type TensorWire = z.infer<typeof tensorWire>;

export const tensorMapWire = z.record(z.string().min(1).max(128), tensorWire);
export type TensorMapWire = z.infer<typeof tensorMapWire>;

const TYPE_CODES: Record<TensorType, number> = { float32: 1, float64: 2, int64: 3, int32: 4, int16: 5, int8: 6, uint8: 7, bool: 8 };

export function elementCount(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** Wire -> typed array. Throws TensorError (with the tensor's name) when data and dims disagree. */
export function tensorFromWire(name: string, wire: TensorWire): Tensor {
  const count = elementCount(wire.dims);
  if (wire.data.length !== count) {
    throw new TensorError(name, `has ${wire.data.length} values but dims [${wire.dims.join(", ")}] need ${count}`);
  }
  const numbers = () =>
    wire.data.map((v) => {
      const n = typeof v === "string" ? Number(v) : v;
      if (!Number.isFinite(n) && wire.type !== "float32" && wire.type !== "float64") throw new TensorError(name, `has a non-numeric value`);
      return n;
    });
  switch (wire.type) {
    case "float32":
      return { type: wire.type, dims: wire.dims, data: Float32Array.from(numbers()) };
    case "float64":
      return { type: wire.type, dims: wire.dims, data: Float64Array.from(numbers()) };
    case "int64":
      return {
        type: wire.type,
        dims: wire.dims,
        data: BigInt64Array.from(wire.data, (v) => {
          if (typeof v === "number" && !Number.isSafeInteger(v)) throw new TensorError(name, "int64 values must be integers (use strings beyond 2^53)");
          return BigInt(v);
        }),
      };
    case "int32":
      return { type: wire.type, dims: wire.dims, data: Int32Array.from(numbers()) };
    case "int16":
      return { type: wire.type, dims: wire.dims, data: Int16Array.from(numbers()) };
    case "int8":
      return { type: wire.type, dims: wire.dims, data: Int8Array.from(numbers()) };
    case "uint8":
    case "bool":
      return { type: wire.type, dims: wire.dims, data: Uint8Array.from(numbers()) };
  }
}

/** Typed array -> wire (int64 as decimal strings so no precision is lost). */
export function tensorToWire(tensor: Tensor): TensorWire {
  const data = tensor.data instanceof BigInt64Array ? Array.from(tensor.data, (v) => v.toString()) : Array.from(tensor.data as ArrayLike<number>);
  return { type: tensor.type, dims: [...tensor.dims], data };
}

export class TensorError extends Error {
  readonly tensor: string;
  constructor(tensor: string, detail: string) {
    super(`tensor "${tensor}" ${detail}`);
    this.name = "TensorError";
    this.tensor = tensor;
  }
}

/**
 * sha256 over the canonical encoding of named tensors, sorted by name:
 * "edgepay.tensors.v1" | per tensor: u32 nameLen, name, u8 typeCode, u32 rank, u64 dims..., u64 byteLen, bytes (LE).
 * All integers big-endian; element bytes in the platform's little-endian order (as onnxruntime holds them).
 * Float -0 is hashed as +0: JSON has no -0 (JSON.stringify(-0) is "0"), so both ends hash what the wire carries.
 */
export function hashTensors(tensors: Record<string, Tensor>): Hex {
  return sha256(encodeTensors(tensors));
}

/** The canonical encoding hashTensors hashes; AnswerDisputes takes it as evidence and decodes it on-chain. */
export function encodeTensors(tensors: Record<string, Tensor>): Uint8Array {
  const encoder = new TextEncoder();
  const parts: Uint8Array[] = [encoder.encode("edgepay.tensors.v1")];
  for (const name of Object.keys(tensors).sort()) {
    const t = tensors[name]!;
    const nameBytes = encoder.encode(name);
    const data = withoutNegativeZero(t.data);
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const header = new DataView(new ArrayBuffer(4 + 1 + 4 + 8 * t.dims.length + 8));
    let o = 0;
    header.setUint32(o, nameBytes.length);
    o += 4;
    header.setUint8(o, TYPE_CODES[t.type]);
    o += 1;
    header.setUint32(o, t.dims.length);
    o += 4;
    for (const d of t.dims) {
      header.setBigUint64(o, BigInt(d));
      o += 8;
    }
    header.setBigUint64(o, BigInt(bytes.length));
    const h = new Uint8Array(header.buffer);
    // Name first, then the fixed header, then data.
    parts.push(h.subarray(0, 4), nameBytes, h.subarray(4), bytes);
  }
  const total = parts.reduce((n, p) => n + p.length, 0);
  const all = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    all.set(p, offset);
    offset += p.length;
  }
  return all;
}

/** A float array with every -0 replaced by +0 (the same array when it has none). */
function withoutNegativeZero(data: TensorData): TensorData {
  if (!(data instanceof Float32Array) && !(data instanceof Float64Array)) return data;
  for (let i = 0; i < data.length; i++) {
    if (data[i] === 0 && Object.is(data[i], -0)) {
      const copy = data.slice();
      for (let j = i; j < copy.length; j++) if (copy[j] === 0) copy[j] = 0;
      return copy;
    }
  }
  return data;
}
