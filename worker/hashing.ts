// Hashes on the paid path, 3-4x faster than the pure-JS ones of protocol/ (which stay the reference and must give
// the same bytes; test/integration/worker-serve.test.ts holds them equal): keccak-256 from js-sha3, and the
// canonical tensor hash of protocol/tensors.ts fed straight into node's native sha256 without concatenating.
import { createHash } from "node:crypto";
import jsSha3 from "js-sha3";
import type { Hex } from "viem";
import type { Tensor, TensorType } from "@edgepay/protocol/tensors";

export function keccak256(data: Uint8Array): Uint8Array {
  return new Uint8Array(jsSha3.keccak256.arrayBuffer(data));
}

const TYPE_CODES: Record<TensorType, number> = { float32: 1, float64: 2, int64: 3, int32: 4, int16: 5, int8: 6, uint8: 7, bool: 8 };
const PREFIX = Buffer.from("edgepay.tensors.v1");

/** Same result as protocol/tensors.ts `hashTensors`. */
export function hashTensorsFast(tensors: Record<string, Tensor>): Hex {
  const h = createHash("sha256").update(PREFIX);
  for (const name of Object.keys(tensors).sort()) {
    const t = tensors[name]!;
    const nameBytes = Buffer.from(name, "utf8");
    let data = t.data;
    if ((data instanceof Float32Array || data instanceof Float64Array) && data.some((v) => v === 0 && Object.is(v, -0))) {
      data = data.map((v) => (v === 0 ? 0 : v));
    }
    const header = Buffer.allocUnsafe(4 + 1 + 4 + 8 * t.dims.length + 8);
    header.writeUInt32BE(nameBytes.length, 0);
    let o = 4;
    header.writeUInt8(TYPE_CODES[t.type], o);
    o += 1;
    header.writeUInt32BE(t.dims.length, o);
    o += 4;
    for (const d of t.dims) {
      header.writeBigUInt64BE(BigInt(d), o);
      o += 8;
    }
    header.writeBigUInt64BE(BigInt(data.byteLength), o);
    h.update(header.subarray(0, 4)).update(nameBytes).update(header.subarray(4)).update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  return `0x${h.digest("hex")}`;
}
