// The binary tensor frame (media type application/vnd.edgepay.tensors, docs/protocol.md section 6b): a small
// little-endian header with names, types and dims, then the raw element bytes, each section 8-byte aligned so a
// receiver can view it in place. Beside JSON, not instead of it: it carries exactly what the JSON form carries
// (finite floats, -0 read as +0), so a tensor set hashes, meters and answers the same whichever form it came in.
// Browser-safe: Uint8Array, DataView and TextEncoder/TextDecoder only.
import { elementCount, TENSOR_TYPES, type Tensor, type TensorData, type TensorType } from "./tensors.ts";

export const TENSORS_MEDIA_TYPE = "application/vnd.edgepay.tensors";

/** "EPTF" */
const MAGIC = 0x45505446;
const VERSION = 1;
/** magic u32, version u8, flags u8, count u16, table length u32, meta length u32. */
const PREAMBLE = 16;
/** Limits shared with the JSON schema (protocol/tensors.ts tensorWire / tensorMapWire). */
export const MAX_TENSORS = 64;
export const MAX_RANK = 8;
export const MAX_DIM = 1 << 24;
export const MAX_NAME_CHARS = 128;
/** UTF-8 bytes of the longest name: 128 UTF-16 units take at most 3 bytes each. */
const MAX_NAME_BYTES = 3 * MAX_NAME_CHARS;
/** JSON metadata of an answer (receipt, price...): bounded so a frame's header stays small. */
export const MAX_META_BYTES = 64 * 1024;

/** Type codes, the same as the canonical hash's (section 7). */
const CODE_OF: Record<TensorType, number> = { float32: 1, float64: 2, int64: 3, int32: 4, int16: 5, int8: 6, uint8: 7, bool: 8 };
const TYPE_OF = new Map<number, TensorType>(TENSOR_TYPES.map((t) => [CODE_OF[t], t]));
const ARRAY_OF: Record<TensorType, new (n: number) => TensorData> = {
  float32: Float32Array,
  float64: Float64Array,
  int64: BigInt64Array,
  int32: Int32Array,
  int16: Int16Array,
  int8: Int8Array,
  uint8: Uint8Array,
  bool: Uint8Array,
};
const ELEMENT_BYTES: Record<TensorType, number> = { float32: 4, float64: 8, int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1 };

/** Tensor names that would reach an object's prototype instead of being an input (refused in either encoding). */
export const RESERVED_TENSOR_NAMES: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"]);

const UTF8_IN = new TextEncoder();
/** Fatal: a name that is not UTF-8 is refused, not patched with U+FFFD. */
const UTF8_OUT = new TextDecoder("utf-8", { fatal: true });

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export type FrameErrorCode = "bad_request" | "invalid_tensor" | "reserved_name";

/** A frame that cannot be accepted: `code` is the worker's error code, `tensor` the offending tensor's name. */
export class TensorFrameError extends Error {
  readonly code: FrameErrorCode;
  readonly tensor: string | undefined;
  constructor(code: FrameErrorCode, message: string, tensor?: string) {
    super(message);
    this.name = "TensorFrameError";
    this.code = code;
    this.tensor = tensor;
  }
}

export interface DecodedFrame {
  tensors: Record<string, Tensor>;
  /** The frame's metadata bytes (UTF-8 JSON), empty when it has none. */
  meta: Uint8Array;
}

const align8 = (n: number) => (n + 7) & ~7;

/**
 * Tensors (in their given order) and optional metadata -> one frame. Deterministic: the same tensors give the same
 * bytes (padding is zero), so a re-sent request hashes the same. Floats are written as JSON would carry them: -0 as
 * +0; a non-finite float is refused (TensorFrameError invalid_tensor), as JSON cannot carry it either.
 */
export function encodeTensorFrame(tensors: Record<string, Tensor>, meta?: unknown): Uint8Array<ArrayBuffer> {
  const encoder = UTF8_IN;
  const entries = Object.entries(tensors);
  if (entries.length > MAX_TENSORS) throw new TensorFrameError("invalid_tensor", `a frame holds at most ${MAX_TENSORS} tensors, not ${entries.length}`);
  const names = entries.map(([name]) => encoder.encode(name));
  let table = 0;
  entries.forEach(([name, t], i) => {
    checkName(name, names[i]!.length);
    if (t.dims.length > MAX_RANK) throw new TensorFrameError("invalid_tensor", `tensor "${name}" has rank ${t.dims.length} (at most ${MAX_RANK})`, name);
    if (!(t.data instanceof ARRAY_OF[t.type])) throw new TensorFrameError("invalid_tensor", `tensor "${name}" is ${t.type} but holds ${t.data.constructor.name}`, name);
    if (elementCount(t.dims) !== t.data.length) throw new TensorFrameError("invalid_tensor", `tensor "${name}" has ${t.data.length} values but dims [${t.dims.join(", ")}]`, name);
    table += 4 + 4 * t.dims.length + 8 + names[i]!.length;
  });
  const metaBytes = meta === undefined ? new Uint8Array(0) : encoder.encode(JSON.stringify(meta));
  if (metaBytes.length > MAX_META_BYTES) throw new TensorFrameError("bad_request", `frame metadata of ${metaBytes.length} bytes exceeds ${MAX_META_BYTES}`);
  let end = align8(PREAMBLE + table + metaBytes.length);
  const offsets = entries.map(([, t]) => {
    const at = align8(end);
    end = at + t.data.byteLength;
    return at;
  });
  const out = new Uint8Array(end);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, false);
  view.setUint8(4, VERSION);
  view.setUint8(5, 0);
  view.setUint16(6, entries.length, true);
  view.setUint32(8, table, true);
  view.setUint32(12, metaBytes.length, true);
  let o = PREAMBLE;
  entries.forEach(([name, t], i) => {
    view.setUint8(o, CODE_OF[t.type]);
    view.setUint8(o + 1, t.dims.length);
    view.setUint16(o + 2, names[i]!.length, true);
    o += 4;
    for (const d of t.dims) {
      if (!Number.isInteger(d) || d < 0 || d > MAX_DIM) throw new TensorFrameError("invalid_tensor", `tensor "${name}" has dim ${d} (an integer 0..${MAX_DIM})`, name);
      view.setUint32(o, d, true);
      o += 4;
    }
    view.setBigUint64(o, BigInt(t.data.byteLength), true);
    o += 8;
    out.set(names[i]!, o);
    o += names[i]!.length;
  });
  out.set(metaBytes, o);
  entries.forEach(([name, t], i) => writeElements(out, offsets[i]!, name, t.data));
  return out;
}

/**
 * One frame -> tensors and metadata. Every problem is a TensorFrameError with a stable code: framing (magic,
 * version, lengths, padding, truncation) is bad_request; a tensor that the JSON form would refuse too (unknown type,
 * rank or dim out of range, data length not what dims need, a name empty or too long or repeated, a non-finite float)
 * is invalid_tensor; a prototype name is reserved_name. Element arrays view `bytes` in place when aligned (floats
 * are canonicalised in place: -0 becomes +0), else they are copies. `allowMeta` false refuses a frame with metadata.
 */
export function decodeTensorFrame(bytes: Uint8Array, options: { allowMeta: boolean }): DecodedFrame {
  const bad = (message: string): never => {
    throw new TensorFrameError("bad_request", `binary tensor frame: ${message}`);
  };
  if (bytes.length < PREAMBLE) bad(`${bytes.length} bytes is shorter than the ${PREAMBLE}-byte preamble`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, false) !== MAGIC) bad(`does not start with "EPTF"`);
  if (view.getUint8(4) !== VERSION) bad(`version ${view.getUint8(4)} is not ${VERSION}`);
  if (view.getUint8(5) !== 0) bad(`flags must be 0, not ${view.getUint8(5)}`);
  const count = view.getUint16(6, true);
  const table = view.getUint32(8, true);
  const metaLength = view.getUint32(12, true);
  if (count > MAX_TENSORS) throw new TensorFrameError("invalid_tensor", `a frame holds at most ${MAX_TENSORS} tensors, not ${count}`);
  if (metaLength > MAX_META_BYTES) bad(`metadata of ${metaLength} bytes exceeds ${MAX_META_BYTES}`);
  if (metaLength > 0 && !options.allowMeta) bad("a request frame carries no metadata");
  const tableEnd = PREAMBLE + table;
  const headerEnd = tableEnd + metaLength;
  if (headerEnd > bytes.length) bad(`header of ${headerEnd} bytes is longer than the ${bytes.length}-byte frame`);
  const decoder = UTF8_OUT;
  const entries: { name: string; type: TensorType; dims: number[]; byteLength: number }[] = [];
  const seen = new Set<string>();
  let o = PREAMBLE;
  for (let i = 0; i < count; i++) {
    if (o + 4 > tableEnd) bad(`tensor table ends inside entry ${i}`);
    const code = view.getUint8(o);
    const rank = view.getUint8(o + 1);
    const nameLength = view.getUint16(o + 2, true);
    o += 4;
    if (o + 4 * rank + 8 + nameLength > tableEnd) bad(`tensor table ends inside entry ${i}`);
    const dims: number[] = [];
    for (let r = 0; r < rank; r++) dims.push(view.getUint32(o + 4 * r, true));
    o += 4 * rank;
    const declared = view.getBigUint64(o, true);
    o += 8;
    let name: string;
    try {
      name = decoder.decode(bytes.subarray(o, o + nameLength));
    } catch {
      throw new TensorFrameError("invalid_tensor", `tensor ${i}: its name is not valid UTF-8`);
    }
    o += nameLength;
    checkName(name, nameLength);
    if (seen.has(name)) throw new TensorFrameError("invalid_tensor", `tensor "${name}" appears twice`, name);
    seen.add(name);
    const type = TYPE_OF.get(code);
    if (!type) throw new TensorFrameError("invalid_tensor", `tensor "${name}" has unknown type code ${code}`, name);
    if (rank > MAX_RANK) throw new TensorFrameError("invalid_tensor", `tensor "${name}" has rank ${rank} (at most ${MAX_RANK})`, name);
    const tooBig = dims.find((d) => d > MAX_DIM);
    if (tooBig !== undefined) throw new TensorFrameError("invalid_tensor", `tensor "${name}" has dim ${tooBig} (at most ${MAX_DIM})`, name);
    // Sizes in bigint: 8 dims of 2^24 overflow a double's integers, and a u64 length may not fit one either.
    const need = dims.reduce((a, d) => a * BigInt(d), 1n) * BigInt(ELEMENT_BYTES[type]);
    if (declared !== need) {
      throw new TensorFrameError("invalid_tensor", `tensor "${name}" declares ${declared} data bytes but ${type} [${dims.join(", ")}] needs ${need}`, name);
    }
    if (need > BigInt(bytes.length)) bad(`tensor "${name}" needs ${need} data bytes, more than the frame holds`);
    entries.push({ name, type, dims, byteLength: Number(need) });
  }
  if (o !== tableEnd) bad(`tensor table is ${table} bytes but its entries use ${o - PREAMBLE}`);
  const meta = bytes.subarray(tableEnd, headerEnd);
  let end = align8(headerEnd);
  const tensors: Record<string, Tensor> = {};
  let cursor = headerEnd;
  for (const e of entries) {
    const at = align8(end);
    if (at + e.byteLength > bytes.length) bad(`frame ends inside the data of tensor "${e.name}" (${bytes.length} bytes, need ${at + e.byteLength})`);
    requireZero(bytes, cursor, at, bad);
    const data = readElements(bytes, at, e.type, e.byteLength);
    if (data instanceof Float32Array || data instanceof Float64Array) canonicalFloats(e.name, data);
    tensors[e.name] = { type: e.type, dims: e.dims, data };
    end = at + e.byteLength;
    cursor = end;
  }
  requireZero(bytes, cursor, Math.min(end, bytes.length), bad);
  if (bytes.length !== end) bad(`frame is ${bytes.length} bytes but its header describes ${end}`);
  return { tensors, meta };
}

function checkName(name: string, byteLength: number) {
  if (name.length === 0) throw new TensorFrameError("invalid_tensor", "a tensor name may not be empty", name);
  if (name.length > MAX_NAME_CHARS || byteLength > MAX_NAME_BYTES) {
    throw new TensorFrameError("invalid_tensor", `tensor name "${name.slice(0, 40)}..." is longer than ${MAX_NAME_CHARS} characters`, name);
  }
  if (RESERVED_TENSOR_NAMES.has(name)) throw new TensorFrameError("reserved_name", `an input may not be named "${name}"`, name);
}

function requireZero(bytes: Uint8Array, from: number, to: number, bad: (m: string) => never) {
  for (let i = from; i < to; i++) if (bytes[i] !== 0) bad(`padding byte at ${i} is not 0`);
}

/** The element bytes at `at`, viewed in place when aligned on a little-endian host, else copied (and swapped). */
function readElements(bytes: Uint8Array, at: number, type: TensorType, byteLength: number): TensorData {
  const size = ELEMENT_BYTES[type];
  const length = byteLength / size;
  const offset = bytes.byteOffset + at;
  let buffer: ArrayBufferLike = bytes.buffer;
  let start = offset;
  if (offset % size !== 0 || !HOST_LITTLE_ENDIAN) {
    const copy = bytes.slice(at, at + byteLength);
    if (!HOST_LITTLE_ENDIAN) swapBytes(copy, size);
    buffer = copy.buffer;
    start = 0;
  }
  switch (type) {
    case "float32":
      return new Float32Array(buffer, start, length);
    case "float64":
      return new Float64Array(buffer, start, length);
    case "int64":
      return new BigInt64Array(buffer, start, length);
    case "int32":
      return new Int32Array(buffer, start, length);
    case "int16":
      return new Int16Array(buffer, start, length);
    case "int8":
      return new Int8Array(buffer, start, length);
    case "uint8":
    case "bool":
      return new Uint8Array(buffer, start, length);
  }
}

/** Copies the elements to `out` at `at` (8-aligned), floats canonical (-0 as +0, nothing non-finite), little-endian. */
function writeElements(out: Uint8Array, at: number, name: string, data: TensorData) {
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
  // Canonicalised in the frame, never in the caller's array.
  if (data instanceof Float32Array) canonicalFloats(name, new Float32Array(out.buffer, out.byteOffset + at, data.length));
  else if (data instanceof Float64Array) canonicalFloats(name, new Float64Array(out.buffer, out.byteOffset + at, data.length));
  if (!HOST_LITTLE_ENDIAN) swapBytes(out.subarray(at, at + data.byteLength), data.BYTES_PER_ELEMENT);
}

function swapBytes(b: Uint8Array, size: number) {
  if (size === 1) return;
  for (let i = 0; i < b.length; i += size) b.subarray(i, i + size).reverse();
}

/** -0 -> +0 in place (host order); a non-finite value is refused. */
function canonicalFloats(name: string, data: Float32Array | Float64Array) {
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v === 0) data[i] = 0;
    else if (v - v !== 0) throw new TensorFrameError("invalid_tensor", `tensor "${name}" holds a non-finite value at index ${i} (JSON cannot carry it either)`, name);
  }
}
